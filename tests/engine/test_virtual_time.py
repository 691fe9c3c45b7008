"""Real time never leaks into virtual time (issue 8 §1).

A stall inside an invocation is simulated by moving the real clock (``time.time``) forward
from inside the handler, instead of sleeping: the engine, the SDK's frame mapping and the SDK's
map/parallel coordinator all read ``time.time``, so to them the jump is a stall of that length.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from chaosdurable.engine import DurableRunner

MODES: list[dict[str, Any]] = [{}, {"threaded_branches": True}, {"faithful": True}]
MODE_IDS = ["fast", "threaded", "faithful"]


class Stall:
    """A real clock that jumps forward on demand (a stall of any length, taking no real time)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.real = time.time

    def __call__(self) -> float:
        return self.real() + self.offset

    def by(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def stall(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stall]:
    clock = Stall()
    monkeypatch.setattr(time, "time", clock)
    yield clock


def _event_types(history: list[dict[str, Any]]) -> list[str]:
    return [e["EventType"] for e in history]


def _stalling_wait(stall: Callable[[float], None]) -> Callable[..., Any]:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        stall(1.5)  # outside any step: replays stall again, as a slow cold start would
        context.wait(Duration.from_seconds(1), name="nap")
        return "done"

    return handler


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_a_stall_before_a_wait_does_not_complete_it_in_its_own_start_response(stall: Stall,
                                                                               mode: dict[str, Any]) -> None:
    result = DurableRunner(_stalling_wait(stall.by), **mode).run(None)
    assert result.status == "SUCCEEDED"
    assert _event_types(result.history) == [
        "ExecutionStarted", "WaitStarted", "InvocationCompleted", "WaitSucceeded", "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    started, succeeded = (next(e for e in result.history if e["EventType"] == kind)
                          for kind in ("WaitStarted", "WaitSucceeded"))
    elapsed = succeeded["EventTimestamp"] - started["EventTimestamp"]
    assert elapsed.total_seconds() == 1.0  # exactly the wait, on the virtual clock


def test_the_virtual_clock_ignores_real_time_between_checkpoints(stall: Stall) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.step(lambda _: stall.by(3600), name="slow")  # an hour of real time, in a step
        return context.step(lambda _: "after", name="after")

    result = DurableRunner(handler).run(None)
    stamps = {e["EventTimestamp"] for e in result.history}
    assert len(stamps) == 1, "no virtual time passes while a handler runs, however long it takes"


RETRY = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1),
                                                  jitter_strategy=JitterStrategy.NONE))


def _parallel_with_a_slow_sibling(stall_by: float, stall: Callable[[float], None]) -> Callable[..., Any]:
    def waits(ctx: DurableContext) -> str:
        ctx.wait(Duration.from_seconds(1), name="short")
        return "waited"

    def retries(ctx: DurableContext) -> int:
        def flaky(sc: StepContext) -> int:
            if sc.attempt < 2:
                raise RuntimeError("transient")
            return sc.attempt

        return ctx.step(flaky, name="flaky", config=StepConfig(retry_strategy=RETRY))

    def slow(ctx: DurableContext) -> str:
        def body(_: StepContext) -> str:
            stall(stall_by)
            return "slow"

        return ctx.step(body, name="slow")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.parallel([waits, retries, slow], name="fan").get_results()

    return handler


def _run_parallel(stall: Stall, stall_by: float, mode: dict[str, Any]) -> list[dict[str, Any]]:
    result = DurableRunner(_parallel_with_a_slow_sibling(stall_by, stall.by), seed=7, **mode).run(None)
    assert result.status == "SUCCEEDED", result.error
    assert result.result == ["waited", 2, "slow"]
    history: list[dict[str, Any]] = json.loads(result.history_json())
    return history


def test_a_slow_sibling_branch_does_not_change_the_history(stall: Stall) -> None:
    """Branches resumed in-process past their time see the timer still pending and re-suspend."""
    assert _run_parallel(stall, 0.0, {}) == _run_parallel(stall, 2.5, {})


@pytest.mark.parametrize("mode", MODES[1:], ids=MODE_IDS[1:])
def test_with_branch_threads_a_slow_sibling_completes_no_timer_early(stall: Stall, mode: dict[str, Any]) -> None:
    """On real threads the order of events depends on thread timing, but not which invocation sees what."""
    def shape(history: list[dict[str, Any]]) -> tuple[int, list[tuple[str, str]]]:
        kinds = _event_types(history)
        return kinds.count("InvocationCompleted"), sorted((e["EventType"], e.get("Name", "")) for e in history)

    fast, slow = (_run_parallel(stall, by, mode) for by in (0.0, 2.5))
    assert shape(fast) == shape(slow)
    first_invocation = _event_types(slow)[:_event_types(slow).index("InvocationCompleted")]
    assert "WaitSucceeded" not in first_invocation and "StepSucceeded" in first_invocation


def test_a_zero_delay_timer_still_fires_inside_the_invocation() -> None:
    """A timer already due on the virtual clock completes at the next checkpoint, no livelock."""
    zero = create_retry_strategy(RetryStrategyConfig(max_attempts=2, initial_delay=Duration.from_seconds(0),
                                                     jitter_strategy=JitterStrategy.NONE))

    def flaky(sc: StepContext) -> int:
        if sc.attempt < 2:
            raise RuntimeError("transient")
        return sc.attempt

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.map([1, 2], lambda ctx, item, i, items: ctx.step(
            flaky, name=f"flaky-{item}", config=StepConfig(retry_strategy=zero))).get_results()

    result = DurableRunner(handler, hang_timeout=20).run(None)
    assert result.status == "SUCCEEDED", result.error
    assert result.result == [2, 2]
