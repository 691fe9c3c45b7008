"""Handlers for the deployed-plugin tests: plain ``@durable_execution``, no chaosdurable import.

Each step body appends its name to the file ``$DEPLOYED_TEST_LEDGER`` (O_APPEND, one line per
run), so a body that runs twice is seen even when the process that ran it crashed right after.
"""

from __future__ import annotations

import os
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

LEDGER_ENV = "DEPLOYED_TEST_LEDGER"


def record(name: str) -> None:
    """Append ``name`` to the ledger file (a no-op without one)."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (name + "\n").encode())
    finally:
        os.close(fd)


@durable_execution
def pay(event: Any, context: DurableContext) -> dict[str, Any]:
    """A buggy at-least-once charge (the default step semantics), then a confirmation step."""

    def charge(_: Any) -> int:
        record("charge")
        return int(event.get("amount", 0))

    charged = context.step(charge, name="charge")

    def confirm(_: Any) -> str:
        record("confirm")
        return "confirmed"

    status = context.step(confirm, name="confirm")
    context.wait(Duration.from_seconds(5), name="settle")
    return {"charged": charged, "status": status}


@durable_execution
def flaky(event: Any, context: DurableContext) -> str:
    """A step that fails its first attempt and succeeds its second (one retry, 1 s apart)."""
    from aws_durable_execution_sdk_python.config import StepConfig
    from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

    def fetch(step: Any) -> str:
        record(f"fetch-{step.attempt}")
        if step.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "fetched"

    retry = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1)))
    return context.step(fetch, name="fetch", config=StepConfig(retry_strategy=retry))
