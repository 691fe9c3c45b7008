"""Handlers for the ``chaosdurable run`` tests: one with a planted bug, its correct twin, and misfits."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig, StepSemantics

from chaosdurable import effect


@durable_execution
def pay_twice(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: the charge is an at-least-once step with no idempotency key: a crash after it charges twice."""
    context.step(lambda _: event["order"], name="validate")

    def charge(_: object) -> str:
        effect("charge", key=event["order"])
        return "charged"

    return context.step(charge, name="charge")


@durable_execution
def pay_once(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: the charge is deduplicated by its key, so a repeat is harmless."""
    context.step(lambda _: event["order"], name="validate")

    def charge(_: object) -> str:
        effect("charge", key=event["order"], idempotent=True)
        return "charged"

    return context.step(charge, name="charge", config=StepConfig(step_semantics=StepSemantics.AT_LEAST_ONCE_PER_RETRY))


@durable_execution
def always_fails(event: Any, context: DurableContext) -> str:
    """Fails without any fault: nothing can be judged against its fault-free run."""
    return context.step(lambda _: event["missing"], name="read")


def not_durable(event: Any, context: Any) -> None:
    """Not decorated with @durable_execution."""


@durable_execution
def ship_items(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Correct: one step per item, named after it, so each input has operations of its own."""
    return [context.step(lambda _, item=item: item, name=f"ship-{item}") for item in event["items"]]


def item_inputs() -> Any:
    """Inputs for ``ship_items``: each names other items, so other operations."""
    from hypothesis import strategies as st

    return st.sampled_from([{"items": ["a", "b"]}, {"items": ["c", "d"]}, {"items": ["e", "f"]}])
