"""Version 2 of the order workflow (scenarios/order.py): three ways to ship a change.

In-flight executions of ``order_workflow`` (v1) replay under whatever code is deployed next.
Each handler here is v1 plus one edit; ``chaosdurable replay-history`` tells them apart:

- ``order_workflow_v2_compatible``: the charge step now applies a loyalty discount and the
  code is refactored into helpers. The operations (types, names, order, arguments) are those of
  v1, and in-flight executions keep their recorded step results, so they replay identically;
  only new executions are charged the new way.
- ``order_workflow_v2_breaking``: a fraud check step is inserted between ``charge`` and the
  shipping callback. An execution recorded while waiting for the warehouse now finds a STEP
  where its history holds the ``shipping`` context: ``replay-history`` reports the divergence
  at the ``fraud-check`` line (on AWS the SDK would fail it with NonDeterministicExecutionError).
- ``order_workflow_v2_safe``: the same fraud check, shipped safely. The ``validate`` step now
  records ``workflow_version: 2`` in its result; the fraud check runs only when the recorded
  value says so. Executions recorded by v1 replay their v1 ``validate`` result (no version), skip
  the check and replay identically; new executions record version 2 and run it.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import BatchResult, DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, MapConfig, WaitForCallbackConfig

from chaosdurable.scenarios.order import CHARGE_ONCE, RESERVE_RETRY, SAMPLE_ORDER, _reserve, _total

__all__ = ["SAMPLE_ORDER", "order_workflow_v2_breaking", "order_workflow_v2_compatible", "order_workflow_v2_safe"]

#: the version new executions of ``order_workflow_v2_safe`` record in their ``validate`` result
WORKFLOW_VERSION = 2
SHIPPING = WaitForCallbackConfig(timeout=Duration.from_days(7))


def _charge(order: dict[str, Any]) -> dict[str, Any]:
    """v2 pricing: 10% off orders of 50 or more (v1 charged the plain total)."""
    total = _total(order)
    return {"charged": total - total // 10 if total >= 50 else total, "order": order["order_id"]}


def _fraud_check(order: dict[str, Any]) -> bool:
    return "@" in str(order.get("customer", ""))


def _notify_all(context: DurableContext, order: dict[str, Any]) -> BatchResult[str]:
    return context.map(
        order["items"],
        lambda ctx, item, index, items: ctx.step(lambda _: f"notified {item['sku']}", name=f"notify-{index}"),
        name="notify",
        config=MapConfig(max_concurrency=1),
    )


def _summary(order: dict[str, Any], reservation: str, charge: dict[str, Any], shipment: Any,
             notified: BatchResult[str]) -> dict[str, Any]:
    return {"order": order["order_id"], "reservation": reservation, "charged": charge["charged"],
            "shipment": shipment, "notified": notified.get_results()}


@durable_execution
def order_workflow_v2_compatible(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1's operations, refactored, with new pricing in the charge step's body: a compatible edit."""
    order = context.step(lambda _: dict(event), name="validate")
    reservation = context.step(lambda s: _reserve(s, order), name="reserve", config=RESERVE_RETRY)
    charge = context.step(lambda _: _charge(order), name="charge", config=CHARGE_ONCE)
    shipment = context.wait_for_callback(lambda callback_id, _ctx: None, name="shipping", config=SHIPPING)
    notified = _notify_all(context, order)
    context.wait(Duration.from_hours(24), name="return-window")
    return _summary(order, reservation, charge, shipment, notified)


@durable_execution
def order_workflow_v2_breaking(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 with a fraud check inserted before shipping: breaks executions recorded after ``charge``."""
    order = context.step(lambda _: dict(event), name="validate")
    reservation = context.step(lambda s: _reserve(s, order), name="reserve", config=RESERVE_RETRY)
    charge = context.step(lambda _: _charge(order), name="charge", config=CHARGE_ONCE)
    context.step(lambda _: _fraud_check(order), name="fraud-check")  # BREAKING: a new operation mid-workflow
    shipment = context.wait_for_callback(lambda callback_id, _ctx: None, name="shipping", config=SHIPPING)
    notified = _notify_all(context, order)
    context.wait(Duration.from_hours(24), name="return-window")
    return _summary(order, reservation, charge, shipment, notified)


def _validate_v2(step: StepContext, event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "workflow_version": WORKFLOW_VERSION}


@durable_execution
def order_workflow_v2_safe(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The fraud check shipped safely: it runs only where ``validate`` recorded version 2."""
    order = context.step(lambda s: _validate_v2(s, event), name="validate")
    reservation = context.step(lambda s: _reserve(s, order), name="reserve", config=RESERVE_RETRY)
    charge = context.step(lambda _: _charge(order), name="charge", config=CHARGE_ONCE)
    if order.get("workflow_version", 1) >= WORKFLOW_VERSION:  # recorded by v2 only: v1 executions skip it
        context.step(lambda _: _fraud_check(order), name="fraud-check")
    shipment = context.wait_for_callback(lambda callback_id, _ctx: None, name="shipping", config=SHIPPING)
    notified = _notify_all(context, order)
    context.wait(Duration.from_hours(24), name="return-window")
    return _summary(order, reservation, charge, shipment, notified)
