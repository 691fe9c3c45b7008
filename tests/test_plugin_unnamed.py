"""Issue 9 §1: given() attacks every operation, named or not, and reports unnamed ones in words.

The schedules here are restricted to faults that target an operation (a crash at a checkpoint, a
checkpoint API error, an invocation timeout, a late timer): before unnamed operations were probed,
a handler whose only step is a bare lambda got no such fault at all and passed every example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

import chaosdurable
from chaosdurable import CrashAtCheckpoint, FaultSchedule, LateTimer, check, effect
from chaosdurable.faults.schedule import describe_operation
from chaosdurable.strategies.schedules import OperationSpace

OPERATION_FAULTS = ["crash_at_checkpoint", "checkpoint_error", "invocation_timeout", "late_timer"]
ONCE_PER_RETRY = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)  # default retries: the bug
ONCE_NO_RETRY = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                           retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


def _capture(event: dict[str, Any]) -> Any:
    def capture(_: Any) -> str:
        effect("capture", key=event["order_id"])
        return "captured"

    return capture


@durable_execution
def capture_named(event: dict[str, Any], context: DurableContext) -> str:
    """tests/zoo's capture-at-most-once-retried: an interrupted attempt is retried and captures again."""
    return context.step(_capture(event), name="capture-payment", config=ONCE_PER_RETRY)


@durable_execution
def capture_unnamed(event: dict[str, Any], context: DurableContext) -> str:
    """The same bug with the step left unnamed."""
    return context.step(_capture(event), config=ONCE_PER_RETRY)


@durable_execution
def capture_unnamed_correct(event: dict[str, Any], context: DurableContext) -> str:
    """The recipe, unnamed: at most once, no retries, the interruption handled."""
    try:
        return context.step(_capture(event), config=ONCE_NO_RETRY)
    except StepError:
        return context.step(lambda _: "needs-reconciliation")


@durable_execution
def shipping(event: dict[str, Any], context: DurableContext) -> str:
    """Unnamed operations inside a named child context."""
    def ship(child: DurableContext) -> str:
        child.step(lambda _: "packed")
        child.wait(Duration.from_seconds(5))
        return child.step(lambda _: "shipped")

    return context.run_in_child_context(ship, name="ship")


def _property(handler: Any) -> Any:
    @chaosdurable.given(handler=handler, input={"order_id": "ord-1"}, kinds=OPERATION_FAULTS, min_faults=1)
    def prop() -> None:
        pass

    return prop


def test_the_named_bug_fails_its_property(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=r"\[idempotency\] effect 'capture'"):
        _property(capture_named)()


def test_the_unnamed_bug_fails_its_property_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=r"\[idempotency\] effect 'capture'") as failure:
        _property(capture_unnamed)()
    # the fault targets the step by its id and the report says which step that is, in words
    assert "step #1 (unnamed)" in str(failure.value)
    from chaosdurable.pytest_plugin import _State

    assert any(target == "step #1 (unnamed)" for _, target, _ in _State.coverage)  # the coverage table, too


def test_a_correct_unnamed_handler_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _property(capture_unnamed_correct)()
    assert not (tmp_path / ".chaosdurable").exists()


def test_the_probe_offers_unnamed_operations_as_often_as_named_ones() -> None:
    space = OperationSpace.probe(shipping, {})
    assert space.operations[0] == "ship"
    assert len(space.operations) == 4 and len(set(space.operations)) == 4  # ship, step, wait, step
    assert len(space.steps) == 2 and len(space.timers) == 1
    ops = [op for op in check(shipping, {}).reference.operations if op["Type"] != "EXECUTION"]
    words = [describe_operation(op["Id"], ops) for op in ops]
    assert words == ["child 'ship'", "step #1 (unnamed) in child 'ship'", "wait #2 (unnamed) in child 'ship'",
                     "step #3 (unnamed) in child 'ship'"]


def test_a_late_timer_reaches_an_unnamed_wait_and_reads_in_words() -> None:
    (wait,) = OperationSpace.probe(shipping, {}).timers
    verdict = check(shipping, {}, FaultSchedule((LateTimer(op=wait, seconds=30),)))
    assert verdict.ok and not verdict.not_reached, verdict.report()
    assert "fire the timer of wait #2 (unnamed) in child 'ship' 30s late -> fired" in verdict.report()
    assert wait not in verdict.report().split("reproduce with:")[0]  # the id only in the replay snippet


def test_a_crash_at_an_unnamed_step_fires_and_reads_in_words() -> None:
    space = OperationSpace.probe(shipping, {})
    last = space.steps[-1]
    verdict = check(shipping, {}, FaultSchedule((CrashAtCheckpoint(op=last, action="SUCCEED"),)))
    assert verdict.fired and not verdict.not_reached
    assert "crash on step #3 (unnamed) in child 'ship' at its SUCCEED checkpoint" in verdict.report()
    assert "at SUCCEED of step #3 (unnamed) in child 'ship'" in "\n".join(verdict.timeline())
