"""The 10-step workflow of ``benchmarks/properties.py``, in a module of its own.

A handler module as users write them: it imports the SDK and chaosdurable, nothing else. In
subprocess mode every invocation imports it afresh, so what this module imports is paid per
invocation (``properties.py`` itself imports Hypothesis and the strategies, which a handler's
module would not).
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import effect


@durable_execution
def ten_steps(event: dict[str, Any], context: DurableContext) -> int:
    """Ten steps, each recording an idempotent effect."""
    total = 0
    for i in range(10):
        def body(_: object, i: int = i) -> int:
            effect(f"write-{i}", key=event["id"], idempotent=True)
            return i

        total += context.step(body, name=f"step-{i}")
    return total
