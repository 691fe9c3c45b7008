"""``chaosdurable.given`` over a handler fed by an at-least-once event source: the generic schedules draw
event redeliveries, find the webhook charged twice and shrink to one redelivery; the twin passes."""

from __future__ import annotations

import pytest

PROPERTY = '''
import json

from aws_durable_execution_sdk_python import durable_execution

import chaosdurable
from chaosdurable import EventStream, effect

WEBHOOKS = {"webhook": EventStream([{"id": "evt-1"}, {"id": "evt-2"}, {"id": "evt-3"}])}


def _charge(payment):
    effect("charge", key=payment["id"])
    return payment["id"]


@durable_execution
def charge_every_delivery(event, context):
    charged = []
    for _ in range(event["expected"]):
        payment = json.loads(context.wait_for_callback(lambda _id, _ctx: None, name="webhook"))
        charged.append(context.step(lambda _, p=payment: _charge(p), name=f"charge {payment['id']}"))
    return sorted(charged)


@durable_execution
def charge_each_event_once(event, context):
    charged = []
    while len(charged) < event["expected"]:
        payment = json.loads(context.wait_for_callback(lambda _id, _ctx: None, name="webhook"))
        if payment["id"] not in charged:
            charged.append(context.step(lambda _, p=payment: _charge(p), name=f"charge {payment['id']}"))
    return sorted(charged)


KINDS = ["event_redelivery", "event_swap"]  # the other kinds repeat the (non-idempotent) charge by design


@chaosdurable.given(charge_every_delivery, {"expected": 3}, callbacks=WEBHOOKS, kinds=KINDS)
def test_buggy():
    pass


@chaosdurable.given(charge_each_event_once, {"expected": 3}, callbacks=WEBHOOKS, kinds=KINDS)
def test_twin():
    pass
'''


def test_given_finds_the_redelivered_webhook_and_passes_the_twin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_webhooks=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "1")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "1. deliver event #0 of stream 'webhook' twice (the copy to the next pending callback)" in out
    assert "[idempotency] effect 'charge' (key 'evt-1') happened 2 times" in out
    assert "stream 'webhook' event #" in out  # the coverage table names the event faults' targets
