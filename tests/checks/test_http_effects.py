"""HTTP effects: recorded, attributed, counted by idempotency, refused unless allowed or mocked."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import StepConfig, StepSemantics
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from chaosdurable import CrashAfterEffect, FaultSchedule, check
from chaosdurable.history.http import RealNetworkRefused

HITS: list[tuple[str, str | None]] = []
PORT: list[int] = [0]


class _Pay(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HITS.append((self.path, self.headers.get("Idempotency-Key")))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[int]:
    HITS.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Pay)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    PORT[0] = srv.server_address[1]
    try:
        yield PORT[0]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _urllib_post(path: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{PORT[0]}{path}", data=b'{"amount": 5}', method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


@durable_execution
def pay_outside(event, context):  # type: ignore[no-untyped-def]
    with contextlib.suppress(Exception):  # the handler swallows the refusal: check() must still raise
        _urllib_post("/pay")  # outside any step: repeats on replay
    return context.step(lambda _: "done", name="after")


def _post(headers: dict[str, str] | None = None) -> str:
    return requests.post(f"http://127.0.0.1:{PORT[0]}/charge", json={"amount": 5}, headers=headers or {},
                         timeout=5).text


@durable_execution
def charge_twice(event, context):  # type: ignore[no-untyped-def]
    return context.step(lambda _: _post(), name="charge")


@durable_execution
def charge_with_key(event, context):  # type: ignore[no-untyped-def]
    return context.step(lambda _: _post({"Idempotency-Key": event["order"]}), name="charge")


_ONCE = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                   retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


@durable_execution
def charge_at_most_once(event, context):  # type: ignore[no-untyped-def]
    return context.step(lambda _: _post(), name="charge", config=_ONCE)


CRASH = FaultSchedule((CrashAfterEffect(effect="http:POST */charge"),))


def test_urllib_post_outside_a_step_is_refused_by_default(server: int) -> None:
    with pytest.raises(RealNetworkRefused, match=r"POST 127\.0\.0\.1:\d+/pay.*allow_hosts"):
        check(pay_outside, {"order": "o-1"})
    assert HITS == []  # nothing reached the local server


def test_urllib_post_outside_a_step_allowed_is_recorded_and_reported(server: int) -> None:
    verdict = check(pay_outside, {"order": "o-1"}, allow_hosts=["127.0.0.1"])
    found = verdict.by_checker("effects_outside_steps")
    assert found and "http:POST 127.0.0.1" in found[0].message, verdict.report()
    assert HITS and all(path == "/pay" for path, _ in HITS)
    effect = next(e for e in verdict.reference.effects if e.name.startswith("http:"))
    assert effect.mutating and not effect.where.in_step and effect.detail["method"] == "POST"


def test_requests_post_repeated_by_a_crash_is_not_idempotent(server: int) -> None:
    verdict = check(charge_twice, {"order": "o-1"}, CRASH, allow_hosts=["127.0.0.1"])
    found = verdict.by_checker("idempotency")
    assert found and "http:POST" in found[0].message and "2 times" in found[0].message, verdict.report()
    assert verdict.fired


def test_idempotency_key_header_deduplicated_by_the_server_passes(server: int) -> None:
    verdict = check(charge_with_key, {"order": "o-1"}, CRASH, allow_hosts=["127.0.0.1"])
    assert verdict.fired and verdict.ok, verdict.report()
    keys = [e.detail.get("idempotency_key") for e in verdict.chaotic.effects if e.name.startswith("http:")]
    assert keys == ["o-1", "o-1"]


def test_at_most_once_step_passes(server: int) -> None:
    verdict = check(charge_at_most_once, {"order": "o-1"}, CRASH, allow_hosts=["127.0.0.1"])
    assert verdict.fired and not verdict.by_checker("idempotency"), verdict.report()


def test_requests_answered_by_responses_are_recorded_and_reach_nothing(server: int) -> None:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, f"http://127.0.0.1:{server}/charge", json={"ok": True})
    verdict = check(charge_twice, {"order": "o-1"}, CRASH, http=mock)
    assert verdict.by_checker("idempotency"), verdict.report()
    assert HITS == [] and len(mock.calls) >= 3


def test_urllib_answered_by_responses_registry(server: int) -> None:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, f"http://127.0.0.1:{server}/pay", json={"ok": True})

    @durable_execution
    def fetch(event, context):  # type: ignore[no-untyped-def]
        def body(_):  # type: ignore[no-untyped-def]
            req = urllib.request.Request(f"http://127.0.0.1:{PORT[0]}/pay", data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read())
        return context.step(body, name="pay")

    verdict = check(fetch, {}, http=mock)
    assert verdict.ok and verdict.reference.result == {"ok": True}, verdict.report()
    assert HITS == [] and any(e.name.startswith("http:POST") for e in verdict.reference.effects)


def test_bad_allow_hosts_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="list of hosts"):
        check(charge_twice, {}, allow_hosts="127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://api.example.com/send", "https://api.example.com/send",
                                 "https://api.example.com:8443/send"])
def test_urllib_to_a_named_host_on_its_default_port_is_answered_by_the_mock(url: str) -> None:
    # urllib hands http.client the port: the mock's URL has none when it is the scheme's default
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, url, json={"sent": True})

    @durable_execution
    def send(event, context):  # type: ignore[no-untyped-def]
        def body(_):  # type: ignore[no-untyped-def]
            req = urllib.request.Request(url, data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read())
        return context.step(body, name="send")

    verdict = check(send, {}, http=mock)
    assert verdict.ok and verdict.reference.result == {"sent": True}, verdict.report()
