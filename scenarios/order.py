"""An order workflow: the demo the README runs, and a realistic scenario for tests.

It validates an order, reserves stock (retried on a flaky dependency), charges the card
exactly once per attempt, waits for the warehouse to confirm shipping through a callback,
notifies every line item in a map, waits a day for the return window, and closes the order.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import BatchResult, DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import (
    Duration,
    MapConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.retries import (
    JitterStrategy,
    RetryStrategyConfig,
    create_retry_strategy,
)

SAMPLE_ORDER: dict[str, Any] = {
    "order_id": "ord-1001",
    "customer": "ada@example.com",
    "items": [{"sku": "book-42", "qty": 1, "price": 30}, {"sku": "pen-7", "qty": 3, "price": 2}],
}

RESERVE_RETRY = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(2), jitter_strategy=JitterStrategy.NONE)
    )
)
CHARGE_ONCE = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)


def _total(order: dict[str, Any]) -> int:
    return sum(int(i["qty"]) * int(i["price"]) for i in order["items"])


def _reserve(step: StepContext, order: dict[str, Any]) -> str:
    if step.attempt == 1:  # the inventory service is flaky on the first try
        raise ConnectionError("inventory service unavailable")
    return f"res-{order['order_id']}"


@durable_execution
def order_workflow(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Process one order end to end; returns the closed order's summary."""
    order = context.step(lambda _: dict(event), name="validate")
    reservation = context.step(lambda s: _reserve(s, order), name="reserve", config=RESERVE_RETRY)
    charge = context.step(lambda _: {"charged": _total(order), "order": order["order_id"]}, name="charge",
                          config=CHARGE_ONCE)
    shipment = context.wait_for_callback(
        lambda callback_id, _ctx: None, name="shipping", config=WaitForCallbackConfig(timeout=Duration.from_days(7))
    )
    notified: BatchResult[str] = context.map(
        order["items"],
        lambda ctx, item, index, items: ctx.step(lambda _: f"notified {item['sku']}", name=f"notify-{index}"),
        name="notify",
        config=MapConfig(max_concurrency=1),
    )
    context.wait(Duration.from_days(1), name="return-window")
    return {
        "order": order["order_id"],
        "reservation": reservation,
        "charged": charge["charged"],
        "shipment": shipment,
        "notified": notified.get_results(),
    }
