"""The showcase (``chaosdurable demo``), ``chaosdurable execute``, ``check`` and ``replay`` work end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import CrashAfterEffect, FaultSchedule, check, effect
from chaosdurable.cli import main


def test_demo_finds_a_bundled_planted_bug(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "the smallest schedule that still breaks it:" in out
    assert "chaosdurable replay .chaosdurable/failures/demo." in out


def test_run_reports_an_undecorated_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["execute", "json:dumps", "--input", "1"]) == 2
    assert "decorate it with @durable_execution" in capsys.readouterr().out


def test_run_executes_a_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["execute", "chaosdurable.scenarios.order:order_workflow", "--input", "{}"]) == 1
    out = capsys.readouterr().out
    assert "StepError" in out
    assert "order_id" in out


@durable_execution
def pay(event: dict[str, str], context: DurableContext) -> str:
    def charge(_: object) -> str:
        effect("charge", key=event["order"])
        return "charged"

    return context.step(charge, name="charge")


def test_check_reports_a_violation_and_exits_1(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    schedule = '[{"kind": "crash_after_effect", "effect": "charge"}]'
    assert main(["check", "tests.test_cli:pay", "--input", '{"order": "o-9"}', "--schedule", schedule]) == 1
    out = capsys.readouterr().out
    assert "[idempotency] effect 'charge' (key 'o-9') happened 2 times" in out
    assert "reproduce with:" in out


def test_check_rejects_a_malformed_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests.test_cli:pay", "--schedule", '[{"kind": "meteor"}]']) == 2
    assert "unknown fault kind 'meteor'" in capsys.readouterr().out


def test_saved_failure_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    verdict = check(pay, {"order": "o-7"}, FaultSchedule((CrashAfterEffect(effect="charge"),)))
    saved = verdict.save(tmp_path)
    assert json.loads(saved.read_text())["handler"] == "tests.test_cli:pay"
    assert main(["replay", str(saved)]) == 1
    assert "[idempotency] effect 'charge' (key 'o-7') happened 2 times" in capsys.readouterr().out


def issue_card(event: dict[str, str], context: object) -> str:
    """A plain invoke target that issues a card (no idempotency key)."""
    effect("card", key=event["order"])
    return "card-1"


@durable_execution
def refund(event: dict[str, str], context: DurableContext) -> str:
    """BUG: a failed issue is retried blindly; the approval callback decides whether to refund at all."""
    from aws_durable_execution_sdk_python.exceptions import InvokeError

    if context.create_callback(name="approval").result() != '{"ok": true}':
        return "refused"
    try:
        return context.invoke("issue-card", {"order": event["order"]}, name="issue")
    except InvokeError:
        return context.invoke("issue-card", {"order": event["order"]}, name="issue-again")


def _failing_refund() -> object:
    from chaosdurable.run import Answer

    verdict = check(refund, {"order": "o-3"}, FaultSchedule((CrashAfterEffect(effect="card"),)),
                    targets={"issue-card": issue_card}, callbacks={"approval": Answer(result={"ok": True}, delay=2)})
    assert verdict.by_checker("idempotency"), verdict.report()
    return verdict


def test_a_saved_failure_keeps_its_targets_and_callbacks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    saved = _failing_refund().save(tmp_path)  # type: ignore[attr-defined]
    spec = json.loads(saved.read_text())
    assert spec["targets"] == {"issue-card": "tests.test_cli:issue_card"}
    assert spec["callbacks"] == {"approval": {"__answer__": {"result": {"ok": True}, "failure": None, "delay": 2}}}
    assert main(["replay", str(saved)]) == 1
    assert "[idempotency] effect 'card' (key 'o-3') happened 2 times" in capsys.readouterr().out


def test_the_replay_command_and_snippet_reproduce_the_failure(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    monkeypatch.setenv("COLUMNS", "200")
    verdict = _failing_refund()
    command = verdict.replay_command()  # type: ignore[attr-defined]
    assert "--target issue-card=tests.test_cli:issue_card" in command and "--callbacks" in command
    assert main(shlex.split(command)[1:]) == 1
    assert "[idempotency] effect 'card' (key 'o-3') happened 2 times" in capsys.readouterr().out
    scope: dict[str, object] = {}
    exec(verdict.replay, scope)  # type: ignore[attr-defined]  # the "reproduce with:" Python
    assert not scope["verdict"].ok  # type: ignore[attr-defined]


def test_a_replay_that_no_longer_fails_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    saved = _failing_refund().save(tmp_path)  # type: ignore[attr-defined]
    spec = json.loads(saved.read_text())
    spec["schedule"] = {"faults": []}  # as if the fault no longer mattered: the replay is clean
    saved.write_text(json.dumps(spec))
    assert main(["replay", str(saved)]) == 0
    assert "the saved failure had 1 violation and this replay found none" in capsys.readouterr().out


def test_an_unknown_handler_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests.test_cli:nope"]) == 2
    out = capsys.readouterr().out
    assert "'tests.test_cli' has no 'nope'" in out and "pay" in out and "@py_builtins" not in out


def test_the_report_is_not_hard_wrapped_when_piped(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal, or a pipe
    schedule = '[{"kind": "crash_after_effect", "effect": "charge"}]'
    assert main(["check", "tests.test_cli:pay", "--input", '{"order": "o-9"}', "--schedule", schedule]) == 1
    out = capsys.readouterr().out
    snippet = out.split("reproduce with:\n")[1].split("print(verdict.report())")[0] + "print(verdict.report())"
    compile("\n".join(line[2:] for line in snippet.splitlines()), "<snippet>", "exec")  # still valid Python


def test_check_names_a_payload_that_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    from chaosdurable.engine.errors import PayloadNotJsonError

    with pytest.raises(PayloadNotJsonError, match="execution input is not valid JSON"):
        check(pay, payload="{bad")
    assert main(["check", "tests.test_cli:pay", "--input", "{bad"]) == 2
    assert "execution input is not valid JSON" in capsys.readouterr().out


@pytest.mark.parametrize("argv, complaint", [
    (["check", "tests.test_cli:pay", "--schedule", "no-such-file.json"], "no such file (and not JSON text either)"),
    (["check", "tests.test_cli:pay", "--schedule", "tests"], "no such file (and not JSON text either)"),
    (["check", "tests.test_cli:pay", "--callbacks", "[1]"], "--callbacks must be a JSON object"),
    (["replay", "no-such-failure.json"], "no such saved failure"),
])
def test_cli_mistakes_are_named_not_tracebacks(argv: list[str], complaint: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2  # a usage error
    assert complaint in capsys.readouterr().out


def test_a_schedule_of_the_wrong_shape_is_a_schedule_error() -> None:
    from chaosdurable import ScheduleError

    with pytest.raises(ScheduleError, match="unknown fault kind"):
        FaultSchedule.from_json('{"faults": [{"kind": ["x"]}]}')
    with pytest.raises(ScheduleError, match="takes JSON text, got a dict"):
        FaultSchedule.from_json({"faults": []})  # type: ignore[arg-type]
