"""Conformance handlers for the ``wait`` category (requirements 2-1 .. 2-5)."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from tests.conformance.case import Case


@durable_execution
def wait_basic(event: Any, context: DurableContext) -> None:
    """2-1: a single 2 s wait."""
    context.wait(Duration.from_seconds(2))


@durable_execution
def wait_with_name(event: Any, context: DurableContext) -> None:
    """2-2: a single named 2 s wait."""
    context.wait(Duration.from_seconds(2), name="custom_wait_name")


@durable_execution
def wait_sequential(event: Any, context: DurableContext) -> dict[str, int]:
    """2-3: two sequential named 2 s waits, each suspending the execution."""
    completed = 0
    context.wait(Duration.from_seconds(2), name="wait-1")
    completed += 1
    context.wait(Duration.from_seconds(2), name="wait-2")
    completed += 1
    return {"completedWaits": completed}


@durable_execution
def wait_minutes(event: Any, context: DurableContext) -> None:
    """2-4: a wait expressed in minutes (1 minute = 60 s)."""
    context.wait(Duration.from_minutes(1))


@durable_execution
def wait_hours(event: Any, context: DurableContext) -> None:
    """2-5: a wait expressed in hours (1 hour = 3600 s)."""
    context.wait(Duration.from_hours(1))


CASES: dict[str, Case] = {
    "2-1": Case(wait_basic, note="N is 2 seconds, from the expected WaitStartedDetails.Duration."),
    "2-2": Case(wait_with_name, note="N is 2 seconds, from the expected WaitStartedDetails.Duration."),
    "2-3": Case(wait_sequential),
    "2-4": Case(
        wait_minutes,
        note="Async requirement: only the first invocation (WaitStarted Duration=60 + "
        "InvocationCompleted) is asserted; no result is specified, the handler returns None.",
    ),
    "2-5": Case(
        wait_hours,
        note="Async requirement: only the first invocation (WaitStarted Duration=3600 + "
        "InvocationCompleted) is asserted; no result is specified, the handler returns None. "
        "No execution_timeout is implied by the prose.",
    ),
}
