"""Step names built from a timestamp (trial b15): read outside a step (bug), or minted in a step (correct)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def step_name_from_clock(event: Any, context: DurableContext) -> dict[str, Any]:
    """BUG (trial b15): the daily report's steps are named after the current time, read outside a step,
    so the replay after the wait names them anew and the SDK finds another operation at that place."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    context.step(lambda _: "gathered", name=f"gather-{stamp}")
    context.wait(Duration.from_hours(1), name="settle")
    context.step(lambda _: "published", name=f"publish-{stamp}")
    return {"tenant": event["tenant"]}


@durable_execution
def step_name_from_a_step(event: Any, context: DurableContext) -> dict[str, Any]:
    """Correct twin: the timestamp is minted in a step, so every replay names the steps alike."""
    stamp = context.step(lambda _: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"), name="stamp")
    context.step(lambda _: "gathered", name=f"gather-{stamp}")
    context.wait(Duration.from_hours(1), name="settle")
    context.step(lambda _: "published", name=f"publish-{stamp}")
    return {"tenant": event["tenant"]}
