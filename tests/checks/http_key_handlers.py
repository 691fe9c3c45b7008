"""A webhook consumer that subscribes once per callback (its key: the callback id) and dedupes events."""

from __future__ import annotations

import json
from typing import Any

import requests
from aws_durable_execution_sdk_python import durable_execution

PROVIDER = "https://payments.example.com/v1/subscriptions"
WAREHOUSE = "https://wms.example.com/v1/releases"


def _subscribe(key_per_callback: bool) -> Any:
    def subscribe(callback_id: str, _ctx: Any) -> None:
        headers = {"Idempotency-Key": f"sub-{callback_id}"} if key_per_callback else {}
        requests.post(PROVIDER, json={"callback": callback_id}, headers=headers, timeout=5).raise_for_status()

    return subscribe


def _consume(event: dict[str, Any], context: Any, key_per_callback: bool) -> list[str]:
    released: list[str] = []
    seen: set[str] = set()
    while len(released) < event["payments"]:
        raw = context.wait_for_callback(_subscribe(key_per_callback), name="payment-webhook")
        payment = json.loads(raw) if isinstance(raw, str) else raw
        if payment["id"] in seen:
            continue  # a redelivered event: dedupe by its id
        seen.add(payment["id"])

        def release(_: Any, pid: str = payment["id"]) -> str:
            requests.post(WAREHOUSE, json={"payment": pid}, headers={"Idempotency-Key": f"rel-{pid}"},
                          timeout=5).raise_for_status()
            return pid

        released.append(context.step(release, name=f"release-{payment['id']}"))
    return released


@durable_execution
def keyed_subscriptions(event: dict[str, Any], context: Any) -> list[str]:
    """Correct: each subscription carries its callback's id as its key."""
    return _consume(event, context, key_per_callback=True)


@durable_execution
def keyless_subscriptions(event: dict[str, Any], context: Any) -> list[str]:
    """Keyless subscriptions: one more under a redelivered event cannot be told from an event processed twice."""
    return _consume(event, context, key_per_callback=False)


@durable_execution
def keyless_release(event: dict[str, Any], context: Any) -> list[str]:
    """BUG: the release POST has no key and is not deduplicated: a crash after it repeats it."""
    released: list[str] = []
    for pid in event["ids"]:
        def release(_: Any, pid: str = pid) -> str:
            requests.post(WAREHOUSE, json={"payment": pid}, timeout=5).raise_for_status()
            return pid

        released.append(context.step(release, name=f"release-{pid}"))
    return released
