"""Handlers that draw from ``random`` (``test_seeded_random``; a module of its own for subprocess mode)."""

from __future__ import annotations

import random
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def mints_a_random_order_number(event: Any, context: DurableContext) -> dict[str, Any]:
    """Correct: the number is drawn in a step, so every replay reads the checkpointed one."""
    number = context.step(lambda _: random.randint(10**8, 10**9), name="order-number")
    confirmation = context.step(lambda _: f"confirmed {number}", name="confirm")
    return {"number": number, "confirmation": confirmation}
