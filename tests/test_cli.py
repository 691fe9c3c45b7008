"""The main job (``chaosdurable demo``) and ``chaosdurable run`` work end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import CrashAfterEffect, FaultSchedule, check, effect
from chaosdurable.cli import main


def test_demo_succeeds(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "status SUCCEEDED" in out
    assert "ExecutionSucceeded" in out


def test_run_reports_an_undecorated_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "json:dumps", "--input", "1"]) == 2
    assert "decorate it with @durable_execution" in capsys.readouterr().out


def test_run_executes_a_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "chaosdurable.scenarios.order:order_workflow", "--input", "{}"]) == 1
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
