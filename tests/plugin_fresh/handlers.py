"""A hash-seed bug and its twin, for the share of examples ``given()`` runs in fresh interpreters."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

APPROVERS = {"approvers": ["finance", "legal", "security", "ops", "hr"]}


@durable_execution
def set_order(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Bug: steps are issued in the order of a set of strings, which depends on PYTHONHASHSEED: a replay
    in another process (another sandbox) issues them in another order."""
    done = []
    for who in set(event["approvers"]):
        done.append(context.step(lambda _, w=who: w, name=f"ask-{who}"))
        context.wait(Duration.from_seconds(5), name=f"cool-{who}")
    return done


@durable_execution
def sorted_order(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Correct: the same, in sorted order."""
    done = []
    for who in sorted(set(event["approvers"])):
        done.append(context.step(lambda _, w=who: w, name=f"ask-{who}"))
        context.wait(Duration.from_seconds(5), name=f"cool-{who}")
    return done
