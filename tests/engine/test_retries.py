"""Step failures and failed invocations (re-invoked with backoff)."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.retries import RetryPresets

from chaosdurable.engine import DurableRunner, ExecutionResult, InvocationRetry, Knobs


def _boom(_sc: StepContext) -> Any:
    raise ValueError("boom")


@durable_execution
def step_raises(event: Any, context: DurableContext) -> Any:
    return context.step(_boom, name="boom", config=StepConfig(retry_strategy=RetryPresets.none()))


# EXITS["left"]: how many more invocations die with SystemExit (outside any step).
EXITS: dict[str, int] = {"left": 0}


@durable_execution
def exits_outside_steps(event: Any, context: DurableContext) -> Any:
    value = context.step(lambda _sc: "kept", name="before-exit")
    if EXITS["left"] > 0:
        EXITS["left"] -= 1
        raise SystemExit(3)
    return value


def _invocations(result: ExecutionResult) -> list[dict[str, Any]]:
    return [e["InvocationCompletedDetails"] for e in result.history
            if e["EventType"] == "InvocationCompleted"]


def test_step_failure_without_retries_fails_execution() -> None:
    result = DurableRunner(step_raises).run()
    assert result.status == "FAILED"
    assert result.error["ErrorMessage"] == "boom"
    assert "StepError" in result.error["ErrorType"]
    (failed,) = [e for e in result.history if e["EventType"] == "StepFailed"]
    assert failed["StepFailedDetails"]["Error"]["Payload"]["ErrorType"] == "ValueError"
    assert "NextAttemptDelaySeconds" not in failed["StepFailedDetails"]["RetryDetails"]
    assert result.invocations == 1  # a FAILED output is an outcome, not an invocation failure
    assert _invocations(result)[0].get("Error") is None


def test_failed_invocation_is_retried_after_initial_backoff() -> None:
    EXITS["left"] = 1
    knobs = Knobs()
    result = DurableRunner(exits_outside_steps, knobs=knobs).run()
    assert result.status == "SUCCEEDED" and result.result == "kept"
    first, second = _invocations(result)
    assert first["Error"]["Payload"]["ErrorType"] == "SystemExit"
    assert first["Error"]["Payload"]["ErrorMessage"] == "3"
    assert "Error" not in second
    delay = second["StartTimestamp"] - first["EndTimestamp"]
    assert delay == datetime.timedelta(seconds=knobs.invocation_retry.initial_seconds)
    # the checkpointed step survived the crash and was replayed, not re-run
    assert sum(e["EventType"] == "StepSucceeded" for e in result.history) == 1


def test_invocation_backoff_grows_by_rate() -> None:
    EXITS["left"] = 2
    knobs = Knobs(invocation_retry=InvocationRetry(initial_seconds=7, rate=3))
    result = DurableRunner(exits_outside_steps, knobs=knobs).run()
    assert result.status == "SUCCEEDED"
    invs = _invocations(result)
    assert [("Error" in i) for i in invs] == [True, True, False]
    gaps = [b["StartTimestamp"] - a["EndTimestamp"] for a, b in itertools.pairwise(invs)]
    assert gaps == [datetime.timedelta(seconds=7), datetime.timedelta(seconds=21)]


@pytest.mark.parametrize("seed", [0, 1])
def test_invocation_retry_is_deterministic(seed: int) -> None:
    def once() -> str:
        EXITS["left"] = 1
        return DurableRunner(exits_outside_steps, seed=seed).run().history_json()

    assert once() == once()
