"""A keyed request in an operation the fault-free run does not have is new work, not a repeat (one
subscription per callback under a redelivered event); a keyless one still counts, and so does a request
re-sent by a crash in an operation both runs have, whatever its key."""

from __future__ import annotations

import responses

from chaosdurable import CrashAfterEffect, EventStream, FaultSchedule, check
from chaosdurable.faults.events import EventRedelivery
from tests.checks import http_key_handlers as h

EVENTS = EventStream([{"id": "pay-1"}, {"id": "pay-2"}, {"id": "pay-3"}])


def _mock() -> responses.RequestsMock:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, h.PROVIDER, json={"ok": True}, status=201)
    mock.add(responses.POST, h.WAREHOUSE, json={"ok": True})
    return mock


def test_one_keyed_subscription_per_callback_is_not_a_repeat_under_a_redelivered_event() -> None:
    v = check(h.keyed_subscriptions, {"payments": 3}, FaultSchedule((EventRedelivery(stream="payment-webhook"),)),
              callbacks={"payment-webhook": EVENTS}, http=_mock())
    assert v.fired and v.ok, v.report()
    keys = [e.detail.get("idempotency_key") for e in v.chaotic.effects if e.name.endswith("/v1/subscriptions")]
    assert len(keys) == 4 and len(set(keys)) == 4  # one more callback, one more subscription, its own key


def test_a_keyless_request_in_the_extra_callback_still_counts() -> None:
    # without a key of its own, new work cannot be told from an event processed twice: it is counted
    v = check(h.keyless_subscriptions, {"payments": 3}, FaultSchedule((EventRedelivery(stream="payment-webhook"),)),
              callbacks={"payment-webhook": EVENTS}, http=_mock())
    assert v.fired and v.by_checker("idempotency"), v.report()


def test_a_keyless_request_repeated_by_a_crash_is_still_caught() -> None:
    v = check(h.keyless_release, {"ids": ["pay-1"]},
              FaultSchedule((CrashAfterEffect(effect="http:POST wms.example.com/v1/releases"),)), http=_mock())
    assert v.by_checker("idempotency"), v.report()
    assert "(no Idempotency-Key header) happened 2 times under faults but 1 time without them" in v.report(), v.report()


def test_a_token_request_is_a_read_not_a_repeatable_write() -> None:
    """trial6 c07: a login token fetched again after a cold start is no duplicate side effect."""
    from chaosdurable.history.http import is_token_request

    for path in ("/oauth/token", "/oauth2/v2.0/token", "/v1/token?grant=client", "/connect/token/"):
        assert is_token_request(path), path
    for path in ("/v1/charges", "/tokens/revoke", "/tokenize"):
        assert not is_token_request(path), path
