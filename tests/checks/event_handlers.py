"""Handlers fed by at-least-once event sources (``chaosdurable.events.EventStream``): a webhook consumer
that re-arms a callback per event, with and without dedupe by event id."""

from __future__ import annotations

import json
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import effect


def _charge(event: dict[str, Any]) -> str:
    effect("charge", key=event["id"], amount=event["amount"])
    return event["id"]


@durable_execution
def charge_every_delivery(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Bug: a redelivered webhook is charged again (no dedupe by event id)."""
    charged: list[str] = []
    total = 0
    for _ in range(event["expected"]):
        raw = context.wait_for_callback(lambda _id, _ctx: None, name="webhook")
        payment = json.loads(raw)
        charged.append(context.step(lambda _, p=payment: _charge(p), name=f"charge {payment['id']}"))
        total += payment["amount"]
    return {"charged": sorted(charged), "total": total}


@durable_execution
def charge_each_event_once(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct twin: waits until ``expected`` distinct events arrived; a redelivered one is skipped."""
    charged: list[str] = []
    total = 0
    while len(charged) < event["expected"]:
        raw = context.wait_for_callback(lambda _id, _ctx: None, name="webhook")
        payment = json.loads(raw)
        if payment["id"] in charged:
            continue  # at-least-once delivery: seen already
        charged.append(context.step(lambda _, p=payment: _charge(p), name=f"charge {payment['id']}"))
        total += payment["amount"]
    return {"charged": sorted(charged), "total": total}


@durable_execution
def apply_in_arrival_order(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Bug under reordering: the account state is the last update that *arrived*, not the newest one."""
    state: dict[str, Any] = {}
    for _ in range(event["expected"]):
        update = json.loads(context.wait_for_callback(lambda _id, _ctx: None, name="updates"))
        state = update
    return context.step(lambda _: {"status": state["status"]}, name="save")


@durable_execution
def apply_newest_version(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct twin: keeps the update with the highest version, whatever the arrival order."""
    state: dict[str, Any] = {"version": -1}
    for _ in range(event["expected"]):
        update = json.loads(context.wait_for_callback(lambda _id, _ctx: None, name="updates"))
        if update["version"] > state["version"]:
            state = update
    return context.step(lambda _: {"status": state["status"]}, name="save")


@durable_execution
def approvals_in_a_loop(event: dict[str, Any], context: DurableContext) -> list[Any]:
    """One callback per approver, all under the same name."""
    out = []
    for approver in event["approvers"]:
        raw = context.wait_for_callback(lambda _id, _ctx: None, name="approval")
        out.append({"approver": approver, "ok": json.loads(raw)["ok"]})
    return out
