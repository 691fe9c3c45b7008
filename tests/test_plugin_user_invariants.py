"""Issue 9 §5: a user's own assertion inside a given() property gets the full report and a saved failure
that ``chaosdurable replay`` reproduces (re-running the assertion when it can, saying how otherwise)."""

from __future__ import annotations

import json

import pytest

from chaosdurable.cli import EXIT_NOTHING_TESTED, EXIT_OK, EXIT_VIOLATIONS, main

PROPERTY = '''
from aws_durable_execution_sdk_python import durable_execution
import pytest
import chaosdurable


@durable_execution
def book(event, context):
    seat = context.step(lambda _: "12A", name="reserve-seat")
    context.step(lambda _: "sent", name="send-ticket")
    return {"seat": seat}


@chaosdurable.given(handler=book, input={"flight": "LH-1"}, kinds=["crash_at_checkpoint"])
def test_one_invocation(verdict):
    assert verdict.chaotic.result == {"seat": "12A"}
    assert len(verdict.chaotic.invocations) == 1, "the booking must finish in one invocation"


@chaosdurable.given(handler=book, input={"flight": "LH-1"}, kinds=["crash_at_checkpoint"])
def test_with_a_fixture(verdict, tmp_path):
    assert len(verdict.chaotic.invocations) == 1, "needs a fixture"


@chaosdurable.given(handler=book, input={"flight": "LH-1"}, kinds=["crash_at_checkpoint"])
def test_pytest_fail(verdict):
    if len(verdict.chaotic.invocations) > 1:
        pytest.fail("more than one invocation")


@chaosdurable.given(handler=book, input={"flight": "LH-1"})
def test_holds(verdict):
    assert verdict.chaotic.status in ("SUCCEEDED", "FAILED")
'''


@pytest.fixture
def failed_run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(test_chaos_inv=PROPERTY)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "1")


def test_a_user_assertion_gets_the_full_report_and_a_saved_failure(pytester: pytest.Pytester,
                                                                   failed_run: pytest.RunResult) -> None:
    failed_run.assert_outcomes(passed=1, failed=3)
    assert "your assertion in test_chaos_inv.py::test_pytest_fail failed:" in failed_run.stdout.str()
    out = failed_run.stdout.str()
    assert "the built-in checkers found no violation; your assertion failed" in out
    assert "your assertion in test_chaos_inv.py::test_one_invocation failed:" in out
    assert "the booking must finish in one invocation" in out
    assert "test_chaos_inv.py:" in out  # the line of the assertion
    assert "1. crash on operation " in out  # the shrunk schedule in words
    assert "timeline of the chaotic run:" in out
    assert "replay the run from the shell (built-in checkers only):" in out
    assert "chaosdurable replay .chaosdurable/failures/test_chaos_inv.test_one_invocation.json" in out


    # the saved failure says it was the user's assertion, and what replay can re-check
    spec = json.loads((pytester.path / ".chaosdurable/failures/test_chaos_inv.test_one_invocation.json").read_text())
    assertion = spec["user_assertion"]
    assert assertion["test"] == "test_chaos_inv.py::test_one_invocation"
    assert assertion["function"] == "test_chaos_inv:test_one_invocation"
    assert "the booking must finish in one invocation" in assertion["error"]
    assert "not a built-in checker" in assertion["replay"]
    assert "python -m pytest 'test_chaos_inv.py::test_one_invocation'" in assertion["replay"]
    assert spec["violations"] == [] and len(spec["schedule"]["faults"]) == 1


def test_replay_re_runs_the_users_assertion_when_it_can(pytester: pytest.Pytester, failed_run: pytest.RunResult,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(pytester.path)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["replay", ".chaosdurable/failures/test_chaos_inv.test_one_invocation.json"]) == EXIT_VIOLATIONS
    out = capsys.readouterr().out
    assert "the saved failure was the test's own assertion in test_chaos_inv.py::test_one_invocation" in out
    assert "your assertion fails again on this replay: AssertionError: the booking must finish" in out
    # a test that needs other fixtures cannot be re-run by replay: it says how to re-check it
    assert main(["replay", ".chaosdurable/failures/test_chaos_inv.test_with_a_fixture.json"]) == EXIT_NOTHING_TESTED
    out = capsys.readouterr().out
    assert "it takes pytest fixtures ['tmp_path']" in out
    assert "python -m pytest 'test_chaos_inv.py::test_with_a_fixture'" in out
    # once the assertion holds (here: pointed at a test that holds), the replay passes and says so
    saved = pytester.path / ".chaosdurable/failures/test_chaos_inv.test_one_invocation.json"
    spec = json.loads(saved.read_text())
    spec["user_assertion"]["function"] = "test_chaos_inv:test_holds"  # as if the test had been fixed
    saved.write_text(json.dumps(spec))
    assert main(["replay", str(saved)]) == EXIT_OK
    assert "your assertion passes on this replay" in capsys.readouterr().out
