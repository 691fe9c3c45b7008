"""The main job (``chaosdurable demo``) and ``chaosdurable run`` work end to end."""

from __future__ import annotations

import pytest

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
