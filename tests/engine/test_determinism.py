"""Determinism and virtual time."""

from __future__ import annotations

import datetime
import time
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from chaosdurable.engine import DurableRunner, ExecutionResult

FLAKY_RETRY = create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(2),
                        jitter_strategy=JitterStrategy.NONE)
)


def _flaky(sc: StepContext) -> int:
    if sc.attempt < 2:
        raise RuntimeError("transient")
    return sc.attempt


def _child(ctx: DurableContext) -> str:
    return ctx.step(lambda _sc: "inner-done", name="inner")


@durable_execution
def everything(event: Any, context: DurableContext) -> Any:
    first = context.step(lambda _sc: event["x"] + 1, name="first")
    context.wait(Duration.from_seconds(10), name="nap")
    flaky = context.step(_flaky, name="flaky", config=StepConfig(retry_strategy=FLAKY_RETRY))
    answer = context.create_callback(name="approval").result()
    child = context.run_in_child_context(_child, name="kid")
    return {"first": first, "flaky": flaky, "answer": answer, "child": child}


@durable_execution
def year_long(event: Any, context: DurableContext) -> Any:
    context.wait(Duration.from_days(365), name="year")
    return "a year later"


def _drive(seed: int) -> ExecutionResult:
    runner = DurableRunner(everything, seed=seed)
    arn = runner.start(input={"x": 1})
    while not runner.pending_callbacks(arn):
        assert runner.advance_to_next_timer(), "execution never reached its callback"
    (callback,) = runner.pending_callbacks(arn)
    assert callback.name == "approval"
    runner.send_callback_success(callback.callback_id, '"approved"')
    return runner.wait_for_result(arn)


def _types(result: ExecutionResult) -> list[str]:
    return [e["EventType"] for e in result.history]


def _request_ids(result: ExecutionResult) -> list[str]:
    return [e["InvocationCompletedDetails"]["RequestId"] for e in result.history
            if e["EventType"] == "InvocationCompleted"]


def test_same_seed_gives_byte_identical_history() -> None:
    one, two = _drive(seed=0), _drive(seed=0)
    assert one.status == "SUCCEEDED"
    assert one.result == {"first": 2, "flaky": 2, "answer": '"approved"', "child": "inner-done"}
    types = _types(one)
    # the run really exercises every feature the determinism claim is about
    for expected in ("WaitSucceeded", "StepFailed", "CallbackStarted", "CallbackSucceeded",
                     "ContextStarted", "ContextSucceeded", "ExecutionSucceeded"):
        assert expected in types, expected
    retried = [e for e in one.history if e["EventType"] == "StepFailed"]
    assert retried[0]["StepFailedDetails"]["RetryDetails"]["NextAttemptDelaySeconds"] == 2
    assert one.history_json() == two.history_json()
    assert one.history == two.history


def test_different_seed_changes_ids_not_event_types() -> None:
    zero, seven = _drive(seed=0), _drive(seed=7)
    assert seven.status == "SUCCEEDED"
    assert seven.result == zero.result
    assert _types(zero) == _types(seven)
    assert zero.history_json() != seven.history_json()
    assert zero.arn != seven.arn
    assert zero.history[0]["Id"] != seven.history[0]["Id"]
    assert set(_request_ids(zero)).isdisjoint(_request_ids(seven))

    def callback_id(r: ExecutionResult) -> str:
        return next(e["CallbackStartedDetails"]["CallbackId"] for e in r.history
                    if e["EventType"] == "CallbackStarted")

    assert callback_id(zero) != callback_id(seven)
    # timestamps are virtual, so they do not depend on the seed
    assert [e["EventTimestamp"] for e in zero.history] == [e["EventTimestamp"] for e in seven.history]


def test_one_year_wait_completes_in_virtual_time() -> None:
    runner = DurableRunner(year_long)
    before = runner.now_ms
    real_start = time.monotonic()
    result = runner.run()
    assert time.monotonic() - real_start < 5, "a virtual year must not cost real time"
    assert result.status == "SUCCEEDED"
    assert result.result == "a year later"
    started = next(e for e in result.history if e["EventType"] == "WaitStarted")
    succeeded = next(e for e in result.history if e["EventType"] == "WaitSucceeded")
    year = datetime.timedelta(days=365)
    assert succeeded["EventTimestamp"] - started["EventTimestamp"] == year
    assert started["WaitStartedDetails"]["Duration"] == 365 * 86_400
    assert started["WaitStartedDetails"]["ScheduledEndTimestamp"] == started["EventTimestamp"] + year
    assert runner.now_ms - before == 365 * 86_400 * 1000
    assert result.invocations == 2
