"""Handlers with module state, for warm-sandbox explanations (``test_warm_state``, trial b10).

A cold start reloads this module (``importlib.reload``): reach the handlers as
``warm_handlers.<name>`` at call time.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import effect

_PAID: set[str] = set()  # BUG: warm-sandbox memory used as a dedupe store
CURRENCY = "EUR"  # a constant: the same in every sandbox


@durable_execution
def module_dedupe(event: Any, context: DurableContext) -> dict[str, str]:
    """BUG (trial b10): 'exactly once' enforced with a module-level set of paid ids."""
    pid = event["payment_id"]

    def payout(_: Any) -> str:
        if pid in _PAID:
            return "paid"
        effect("bank-transfer", key=pid)  # the bank does not dedupe
        _PAID.add(pid)
        return "paid"

    context.step(payout, name="payout")
    context.step(lambda _: "notified", name="notify-payee")
    return {"payment": pid, "status": "paid"}


@durable_execution
def module_constant(event: Any, context: DurableContext) -> dict[str, str]:
    """Correct twin: module state that is only a constant; the transfer is idempotent at the bank."""
    pid = event["payment_id"]

    def payout(_: Any) -> str:
        effect("bank-transfer", key=f"{pid}-{CURRENCY}", idempotent=True)
        return "paid"

    context.step(payout, name="payout")
    return {"payment": pid, "status": "paid"}
