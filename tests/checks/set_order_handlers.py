"""Reminders whose channels are de-duplicated into a set of strings and iterated: the order of the steps
depends on ``PYTHONHASHSEED``, so a replay in a new process names them differently (trial4 b11)."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

CHANNELS = {"channels": ["sms", "email", "push", "fax", "post", "pager", "voice", "chat"]}


@durable_execution
def remind_in_set_order(event: dict[str, Any], context: Any) -> str:
    """BUG: ``set(...)`` of strings iterated outside steps."""
    for channel in set(event["channels"]):
        context.step(lambda _, c=channel: f"sent-{c}", name=f"remind-{channel}")
        context.wait(Duration.from_hours(1), name=f"after-{channel}")
    return "reminded"


@durable_execution
def remind_in_sorted_order(event: dict[str, Any], context: Any) -> str:
    """The twin: the same channels, sorted."""
    for channel in sorted(set(event["channels"])):
        context.step(lambda _, c=channel: f"sent-{c}", name=f"remind-{channel}")
        context.wait(Duration.from_hours(1), name=f"after-{channel}")
    return "reminded"
