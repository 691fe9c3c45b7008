"""Issue 9 §6: the CLI never says OK when nothing was tested, and its exit codes mean one thing each.

0 no violation, 1 violations, 2 usage errors, 3 nothing was tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable.cli import EXIT_NOTHING_TESTED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, main


@durable_execution
def greet(event: object, context: DurableContext) -> str:
    """No effect at all: every crash is harmless."""
    return context.step(lambda _: "hello", name="greet")


PAY = "tests.test_cli:pay"  # charges inside step 'charge'; needs {"order": ...}
ORDER = '{"order": "o-1"}'


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_exit_codes_are_distinct() -> None:
    assert (EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_NOTHING_TESTED) == (0, 1, 2, 3)


def test_a_forgotten_input_is_not_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", PAY]) == EXIT_NOTHING_TESTED
    out = capsys.readouterr().out
    assert "nothing was tested: the fault-free run of tests.test_cli:pay on input null ended FAILED" in out
    assert "StepError" in out and "--input" in out and "--allow-failed-execution" in out


def test_a_failing_fault_free_run_can_be_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", PAY, "--allow-failed-execution"]) == EXIT_OK
    assert "nothing was tested" not in capsys.readouterr().out


def test_a_clean_check_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", PAY, "--input", ORDER]) == EXIT_OK
    assert main(["check", "tests.test_cli_exit_codes:greet", "--schedule",
                 '[{"kind": "crash_at_checkpoint", "op": "greet", "action": "SUCCEED"}]']) == EXIT_OK
    assert "error" not in capsys.readouterr().out


def test_a_mistyped_effect_name_is_nothing_tested(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = '[{"kind": "crash_after_effect", "effect": "chrage"}]'
    assert main(["check", PAY, "--input", ORDER, "--schedule", schedule]) == EXIT_NOTHING_TESTED
    out = capsys.readouterr().out
    assert "nothing was tested: the schedule's one fault was not reached" in out
    assert "effect 'chrage'; did you mean 'charge'?" in out and "--allow-not-reached" in out


def test_a_mistyped_operation_name_is_nothing_tested(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = '[{"kind": "crash_at_checkpoint", "op": "chage", "action": "SUCCEED"}]'
    assert main(["check", PAY, "--input", ORDER, "--schedule", schedule]) == EXIT_NOTHING_TESTED
    assert "operation 'chage'; did you mean 'charge'?" in capsys.readouterr().out


def test_not_reached_can_be_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = '[{"kind": "crash_after_effect", "effect": "chrage"}]'
    assert main(["check", PAY, "--input", ORDER, "--schedule", schedule, "--allow-not-reached"]) == EXIT_OK
    assert "not reached" in capsys.readouterr().out  # still said in the report


def test_a_partly_reached_schedule_is_judged(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = ('[{"kind": "crash_after_effect", "effect": "charge"},'
                ' {"kind": "crash_after_effect", "effect": "chrage"}]')
    assert main(["check", PAY, "--input", ORDER, "--schedule", schedule]) == EXIT_VIOLATIONS
    out = capsys.readouterr().out
    assert "[idempotency]" in out and "nothing was tested" not in out


def test_a_callback_name_that_never_matches_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "tests.test_cli:refund", "--input", '{"order": "o-3"}',
            "--target", "issue-card=tests.test_cli:issue_card", "--callbacks", '{"aproval": {"ok": true}}']
    assert main(argv) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "--callbacks names ['aproval'] never matched a callback of the run; callbacks seen: ['approval']" in out
    assert main([*argv[:-1], '{"approval": {"ok": true}}']) == EXIT_OK


def test_callbacks_for_a_handler_without_callbacks_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", PAY, "--input", ORDER, "--callbacks", '{"approval": "yes"}']) == EXIT_USAGE
    assert "callbacks seen: none" in capsys.readouterr().out


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_missing_dependency_of_the_users_module_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _module(tmp_path, monkeypatch, "flows_missing_dep", "import no_such_dependency_xyz\n")
    assert main(["check", "flows_missing_dep:handler"]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "cannot import 'flows_missing_dep': it imports 'no_such_dependency_xyz', which is not installed" in out
    assert "run from the folder" not in out


def test_a_missing_module_says_where_to_run_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no_such_flows_module:handler"]) == EXIT_USAGE
    assert "run from the folder that holds it" in capsys.readouterr().out


def test_a_syntax_error_is_reported_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _module(tmp_path, monkeypatch, "flows_syntax", "def handler(event, context)\n    return 1\n")
    assert main(["check", "flows_syntax:handler"]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "cannot import 'flows_syntax': syntax error in" in out and "flows_syntax.py, line 1" in out
    assert "Traceback" not in out


def test_a_module_whose_own_code_fails_names_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _module(tmp_path, monkeypatch, "flows_boom", "import os\nTABLE = os.environ['NO_SUCH_TABLE_VAR_XYZ']\n")
    assert main(["check", "flows_boom:handler"]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "importing 'flows_boom' failed: KeyError" in out and "line 2" in out


def test_the_exit_codes_are_in_the_help_and_the_process_exit_status() -> None:
    helped = subprocess.run([sys.executable, "-m", "chaosdurable.cli", "--help"], capture_output=True, text=True,
                            check=False)
    assert "3  nothing was tested" in helped.stdout
    done = subprocess.run([sys.executable, "-m", "chaosdurable.cli", "check", PAY], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).parent.parent)
    assert done.returncode == EXIT_NOTHING_TESTED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_replay_of_a_file_that_is_not_a_saved_failure_is_a_usage_error(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"handler": PAY}))
    assert main(["replay", str(bad)]) == EXIT_USAGE
    assert "is not a saved failure" in capsys.readouterr().out


def test_a_misspelt_module_gets_the_closest_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _module(tmp_path, monkeypatch, "payments_flow", "")
    assert main(["check", "payment_flow:handler"]) == EXIT_USAGE
    assert "cannot import 'payment_flow': no such module here" in (out := capsys.readouterr().out)
    assert "(did you mean 'payments_flow'?)" in out, out
