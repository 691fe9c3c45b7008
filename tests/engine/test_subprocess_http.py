"""HTTP egress in subprocess mode, as in-process: a child's requests are recorded as effects,
targeted by faults, refused unless allowed (the refusal reaches the parent, so ``check()`` raises
even when the handler swallowed it), and answered by the parent's ``responses`` mock over the pipe.

The handlers live here (children import this module) and take the server's URL from the event,
so a child reaches the loopback server the parent started, if anything lets it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
import urllib3
from aws_durable_execution_sdk_python import durable_execution
from hypothesis import settings

from chaosdurable import CrashAfterEffect, FaultSchedule, TransientFailure, check
from chaosdurable.checks.effects import NAME as EFFECTS_OUTSIDE_STEPS
from chaosdurable.history.http import RealNetworkRefused

HITS: list[str] = []
BACKENDS = ["inprocess", "subprocess"]
NAMED = "https://pay.example.test/charge"  # never resolved: only the mock can answer it


class _Server(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HITS.append(self.path)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def url() -> Iterator[str]:
    """A loopback server counting the POSTs that reach it (in ``HITS``)."""
    HITS.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@durable_execution
def urllib_outside(event, context):
    req = urllib.request.Request(event["url"] + "/orders", data=b'{"order": 1}', method="POST")
    with contextlib.suppress(Exception):  # the handler swallows the refusal: check() must still raise
        urllib.request.urlopen(req, timeout=5).read()
    return context.step(lambda _: "done", name="after")


@durable_execution
def requests_outside(event, context):
    with contextlib.suppress(Exception):
        requests.post(event["url"] + "/orders", json={"order": 1}, timeout=5)
    return context.step(lambda _: "done", name="after")


def _charge(url: str, headers: dict[str, str] | None = None) -> int:
    return requests.post(url, json={"amount": 5}, headers=headers or {}, timeout=5).status_code


@durable_execution
def charge(event, context):
    return context.step(lambda _: _charge(event["url"] + "/charge"), name="charge")


@durable_execution
def charge_with_key(event, context):
    code = context.step(lambda _: _charge(event["url"], {"Idempotency-Key": event["order"]}), name="charge")
    return context.step(lambda _: f"charged {code}", name="record")


@durable_execution
def urllib3_https_outside(event, context):
    with contextlib.suppress(Exception):
        pool = urllib3.PoolManager(retries=False, timeout=5)
        pool.request("POST", f"https://127.0.0.1:{event['port']}/x", body=b"{}")
    return context.step(lambda _: "done", name="after")


OUTSIDE = [urllib_outside, requests_outside]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("handler", OUTSIDE, ids=lambda h: h.__name__)
def test_a_post_outside_a_step_is_refused_by_default(handler: Any, backend: str, url: str) -> None:
    with pytest.raises(RealNetworkRefused, match=r"POST 127\.0\.0\.1:\d+/orders"):
        check(handler, {"url": url}, backend=backend)
    assert HITS == [], f"{len(HITS)} request(s) reached the server"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("handler", OUTSIDE, ids=lambda h: h.__name__)
def test_a_post_outside_a_step_allowed_is_recorded_and_reported(handler: Any, backend: str, url: str) -> None:
    verdict = check(handler, {"url": url}, backend=backend, allow_hosts=["127.0.0.1"])
    assert HITS, "the allowed request never reached the server"
    found = verdict.by_checker(EFFECTS_OUTSIDE_STEPS)
    assert found and "http:POST 127.0.0.1:" in found[0].message, verdict.report()
    effects = [e for e in verdict.reference.effects if e.name.startswith("http:POST")]
    assert effects and all(e.mutating for e in effects), verdict.reference.effects


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_post_repeated_by_a_crash_answered_by_the_mock_is_caught(backend: str, url: str) -> None:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, url + "/charge", json={"ok": True})
    verdict = check(charge, {"url": url}, FaultSchedule((CrashAfterEffect(effect="http:POST */charge"),)),
                    backend=backend, http=mock)
    assert verdict.fired, verdict.report()
    assert verdict.by_checker("idempotency"), verdict.report()
    assert [e.name for e in verdict.chaotic.effects if e.name.startswith("http:")] == [
        f"http:POST {url.removeprefix('http://')}/charge"] * 2
    assert HITS == [], "the mock answered nothing: the server was reached"
    assert len(mock.calls) >= 3  # one in the fault-free run, two in the chaotic one, all in this process' mock


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_transient_failure_of_a_request_is_injected(backend: str, url: str) -> None:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, url + "/charge", json={"ok": True})
    verdict = check(charge, {"url": url}, FaultSchedule((TransientFailure(effect="http:POST */charge"),)),
                    backend=backend, http=mock)
    assert verdict.fired, verdict.report()
    assert verdict.chaotic.status == "SUCCEEDED", verdict.report()  # the step's retry gets through
    assert HITS == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_request_no_mock_matches_is_not_sent(backend: str, url: str) -> None:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, url + "/elsewhere", json={"ok": True})
    verdict = check(charge, {"url": url}, backend=backend, http=mock)
    assert verdict.reference.status == "FAILED", verdict.report()
    assert HITS == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_given_with_a_mock_passes_a_correct_handler(backend: str, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Any) -> None:
    import chaosdurable
    from chaosdurable import pytest_plugin

    few = settings(settings.get_profile("chaosdurable-dev"), max_examples=3, database=None)
    monkeypatch.setattr(pytest_plugin, "_settings", lambda: few)
    monkeypatch.chdir(tmp_path)  # a failing property saves its verdict under the working directory
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, NAMED, json={"ok": True})

    @chaosdurable.given(handler=charge_with_key, input={"url": NAMED, "order": "o-1"}, http=mock, backend=backend)
    def correct_property(verdict: Any) -> None:
        assert verdict.reference.result == "charged 200"

    correct_property()
    assert len(mock.calls) >= 2  # the probe and the examples were all answered by this mock


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_https_pool_does_not_even_connect_to_a_host_not_allowed(backend: str) -> None:
    """urllib3 connects (TCP, then TLS) before writing the request: that connection is refused too."""
    accepts: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                listener.accept()[0].close()
                accepts.append(1)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with pytest.raises(RealNetworkRefused, match=r"connection to 127\.0\.0\.1:\d+"):
            check(urllib3_https_outside, {"port": listener.getsockname()[1]}, backend=backend)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert accepts == [], f"{len(accepts)} connection(s) reached the listener"
