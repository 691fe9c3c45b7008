"""Handlers whose behaviour may depend on what a warm sandbox remembers (``test_cold_warm``).

In a module of their own: a ``ColdStart`` reloads the handler's module.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import effect

#: ids this sandbox has charged: memory that a new sandbox does not have
_processed: set[str] = set()
#: configuration built once per sandbox: the same on every sandbox, so harmless
_config: dict[str, str] | None = None


def _charge(order: str) -> Any:
    def charge(_: Any) -> str:
        effect("charge", key=order)
        return "charged"

    return charge


@durable_execution
def dedupe_in_memory(event: dict[str, Any], context: DurableContext) -> str:
    """Bug: the record of processed orders lives in module memory. A warm sandbox answers
    "duplicate"; a redelivery that lands on a new sandbox charges again."""
    order = event["order_id"]
    if order in _processed:
        return "duplicate"
    result = context.step(_charge(order), name="charge")
    _processed.add(order)
    return str(result)


@durable_execution
def config_cached(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: only configuration is kept per sandbox, and every sandbox builds the same."""
    global _config
    if _config is None:
        _config = {"currency": "EUR"}
    return str(context.step(_charge(event["order_id"]), name="charge")) + " in " + _config["currency"]
