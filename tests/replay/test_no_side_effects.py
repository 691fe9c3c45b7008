"""The replay runs no recorded step body, executes nothing beyond the frontier and reports it instead."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay import replay_history

RUNS: list[str] = []


def _body(name: str) -> str:
    RUNS.append(name)
    return name


@durable_execution
def counting(event: Any, context: DurableContext) -> list[str]:
    """Two steps around a wait; every body run is counted in RUNS."""
    first = context.step(lambda _: _body("first"), name="first")
    context.wait(Duration.from_seconds(30), name="pause")
    second = context.step(lambda _: _body("second"), name="second")
    return [first, second]


def _events() -> list[dict[str, Any]]:
    runner = DurableRunner(counting)
    result = runner.run(None)
    assert result.status == "SUCCEEDED"
    return result.history


def test_recorded_step_bodies_are_not_rerun() -> None:
    events = _events()
    RUNS.clear()
    report = replay_history({"Events": events}, counting)
    assert report.ok, report.report()
    assert RUNS == []


def test_work_beyond_the_frontier_is_reported_not_run() -> None:
    events = _events()
    cut = next(i for i, e in enumerate(events) if e["EventType"] == "WaitSucceeded")
    RUNS.clear()
    report = replay_history({"Events": events[:cut + 1]}, counting)
    assert report.ok, report.report()
    assert RUNS == []
    assert "would continue with starting STEP 'second'" in report.report()


def test_a_step_left_started_is_not_retried_on_replay() -> None:
    events = _events()
    cut = next(i for i, e in enumerate(events) if e["EventType"] == "StepStarted" and e.get("Name") == "second")
    RUNS.clear()
    report = replay_history({"Events": events[:cut + 1]}, counting)
    assert report.ok, report.report()
    assert RUNS == []
    assert "would continue with" in report.report() and "'second'" in report.report()
