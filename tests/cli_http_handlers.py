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
