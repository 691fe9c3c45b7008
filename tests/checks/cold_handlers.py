"""Handlers with module-level state, for ColdStart faults.

A cold start reloads this module (``importlib.reload``), so it holds nothing but these
handlers: always reach them as ``cold_handlers.<name>`` at call time.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

# A "warm container" cache that a step fills as a side channel instead of returning the value.
RATE: dict[str, int] = {}
# How many times the handler was entered in this process since the module was (re)loaded.
INVOCATIONS: dict[str, int] = {"n": 0}


def _load_rate(_sc: StepContext) -> str:
    RATE["eur"] = 3  # bug: the value travels through module state, not through the step result
    return "loaded"


@durable_execution
def priced_from_module_state(event: Any, context: DurableContext) -> Any:
    context.step(_load_rate, name="load-rate")
    context.wait(Duration.from_seconds(5), name="settle")
    return context.step(lambda _sc: 10 * RATE.get("eur", 1), name="price")


def _rate(_sc: StepContext) -> int:
    return 3


@durable_execution
def priced_from_step_result(event: Any, context: DurableContext) -> Any:
    rate = context.step(_rate, name="load-rate")
    context.wait(Duration.from_seconds(5), name="settle")
    return context.step(lambda _sc: 10 * rate, name="price")


@durable_execution
def counts_invocations(event: Any, context: DurableContext) -> Any:
    INVOCATIONS["n"] += 1
    context.wait(Duration.from_seconds(5), name="settle")
    seen = INVOCATIONS["n"]
    return context.step(lambda _sc: seen, name="count")
