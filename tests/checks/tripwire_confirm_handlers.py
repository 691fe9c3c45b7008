"""Clock and random reads outside steps, harmful and harmless (``test_tripwire_confirm``)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def greets_by_the_hour(event: Any, context: DurableContext) -> str:
    """Bug: the path depends on the hour read outside a step; a replay in the afternoon takes the other."""
    if datetime.now(UTC).hour < 12:
        greeting = context.step(lambda _: "good morning", name="morning")
    else:
        greeting = context.step(lambda _: "good afternoon", name="afternoon")
    return str(context.step(lambda _: f"{greeting}, done", name="finish"))


@durable_execution
def routes_by_a_die(event: Any, context: DurableContext) -> str:
    """Bug: a die rolled outside a step picks the warehouse; a replay rolls again."""
    warehouse = f"warehouse-{random.randint(1, 1000) % 7}"
    context.step(lambda _: f"reserved at {warehouse}", name=warehouse)
    return str(context.step(lambda _: "shipped", name="ship"))


@durable_execution
def waits_until_the_deadline(event: Any, context: DurableContext) -> str:
    """Correct: the deadline is saved by a step; the time left is read outside steps, but a started
    wait is never re-armed on replay."""
    deadline = context.step(lambda _: time.time() + 3600, name="deadline")
    remaining = max(1, int(deadline - time.time()))
    context.wait(Duration.from_seconds(remaining), name="until-deadline")
    return str(context.step(lambda _: "expired", name="expire"))


@durable_execution
def logs_when_it_ran(event: Any, context: DurableContext) -> str:
    """Correct: the clock read outside steps only goes into a log line."""
    context.logger.info("replayed at %s", datetime.now(UTC).isoformat())
    context.step(lambda _: "charged", name="charge")
    return str(context.step(lambda _: "mailed", name="receipt"))


@durable_execution
def routes_by_business_hours(event: Any, context: DurableContext) -> dict[str, str]:
    """Bug (trial b05): business-hours routing decided by the clock outside a step; the replay after the
    13 h follow-up wait reads another hour and takes the other branch."""
    context.step(lambda _: "logged", name="log-case")
    hour = datetime.now(UTC).hour
    if 8 <= hour < 18:
        context.step(lambda _: "phone", name="route-to-phone-team")
    else:
        context.step(lambda _: "email", name="route-to-email-queue")
    context.wait(Duration.from_hours(13), name="follow-up")
    context.step(lambda _: "followed-up", name="follow-up-mail")
    return {"case": str(event["case"])}


@durable_execution
def routes_by_business_hours_in_a_step(event: Any, context: DurableContext) -> dict[str, str]:
    """Correct twin: the hour is read in a step, so every replay routes as the first run did."""
    context.step(lambda _: "logged", name="log-case")
    hour = context.step(lambda _: datetime.now(UTC).hour, name="read-hour")
    if 8 <= hour < 18:
        context.step(lambda _: "phone", name="route-to-phone-team")
    else:
        context.step(lambda _: "email", name="route-to-email-queue")
    context.wait(Duration.from_hours(13), name="follow-up")
    context.step(lambda _: "followed-up", name="follow-up-mail")
    return {"case": str(event["case"])}


@durable_execution
def deadline_checked_in_a_step(event: Any, context: DurableContext) -> str:
    """Correct: the deadline is checked inside a step after a long wait; the clock read outside steps only
    stamps a log line."""
    context.logger.info("dunning run at %s", datetime.now(UTC).isoformat())
    context.step(lambda _: "nudged", name="nudge-1")
    context.wait(Duration.from_days(1), name="grace")
    overdue = context.step(lambda _: time.time() > event["due_epoch"], name="check-deadline")
    if overdue:
        return str(context.step(lambda _: "suspended", name="suspend"))
    return str(context.step(lambda _: "nudged again", name="nudge-2"))


@durable_execution
def deadline_checked_outside_steps(event: Any, context: DurableContext) -> str:
    """Bug: the same check outside any step: a replay a day later takes the other branch."""
    context.step(lambda _: "nudged", name="nudge-1")
    context.wait(Duration.from_days(1), name="grace")
    if time.time() > event["due_epoch"]:
        return str(context.step(lambda _: "suspended", name="suspend"))
    return str(context.step(lambda _: "nudged again", name="nudge-2"))
