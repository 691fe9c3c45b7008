"""A handler that POSTs outside any step (``tests/test_cli_refused.py``)."""

from __future__ import annotations

import urllib.request
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def notifies(event: Any, context: DurableContext) -> str:
    """POSTs to a payment API; under check() this is refused unless a mock answers it."""
    urllib.request.urlopen(urllib.request.Request("http://pay.example.test/charge", data=b"{}", method="POST"))
    return str(context.step(lambda _: "done", name="finish"))


def pay_mock() -> Any:
    """The HTTP mock the handler's requests are answered by (for --http)."""
    import responses

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, "http://pay.example.test/charge", json={"ok": True})
    return mock


def empty_mock() -> Any:
    """A mock with no route for the handler's request (a typo in the URL, a route forgotten)."""
    import responses

    return responses.RequestsMock(assert_all_requests_are_fired=False)


@durable_execution
def charges_closed_port(event: Any, context: DurableContext) -> str:
    """POSTs in a step to a loopback port where nothing listens (an allowed host that is not there)."""

    def charge(_: Any) -> int:
        with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:9/charge", data=b"{}",
                                                           method="POST"), timeout=5) as answer:
            return int(answer.status)

    return str(context.step(charge, name="charge"))


@durable_execution
def puts_a_minted_permit(event: Any, context: DurableContext) -> str:
    """Mints a permit id (uuid4: new in every run) in a step and PUTs the permit under it."""
    import uuid

    import requests

    permit = context.step(lambda _: f"PRM-{uuid.uuid4().hex[:8]}", name="mint")

    def put(_: Any) -> int:
        return int(requests.put(f"https://permits.example.test/v1/permits/{permit}", json={}, timeout=5).status_code)

    return str(context.step(put, name="put-permit"))
