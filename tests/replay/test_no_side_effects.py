"""The replay runs no recorded step body, executes nothing beyond the frontier and reports it instead."""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay import replay_history

RUNS: list[str] = []


def _body(name: str) -> str:
    RUNS.append(name)
    return name


@durable_execution
def counting(event: Any, context: DurableContext) -> list[str]:
    """Two steps around a wait; every body run is counted in RUNS."""
    first = context.step(lambda _: _body("first"), name="first")
    context.wait(Duration.from_seconds(30), name="pause")
    second = context.step(lambda _: _body("second"), name="second")
    return [first, second]


def _events() -> list[dict[str, Any]]:
    runner = DurableRunner(counting)
    result = runner.run(None)
    assert result.status == "SUCCEEDED"
    return result.history


def test_recorded_step_bodies_are_not_rerun() -> None:
    events = _events()
    RUNS.clear()
    report = replay_history({"Events": events}, counting)
    assert report.ok, report.report()
    assert RUNS == []


def test_work_beyond_the_frontier_is_reported_not_run() -> None:
    events = _events()
    cut = next(i for i, e in enumerate(events) if e["EventType"] == "WaitSucceeded")
    RUNS.clear()
    report = replay_history({"Events": events[:cut + 1]}, counting)
    assert report.ok, report.report()
    assert RUNS == []
    assert "would continue with starting STEP 'second'" in report.report()


def test_a_step_left_started_is_not_retried_on_replay() -> None:
    events = _events()
    cut = next(i for i, e in enumerate(events) if e["EventType"] == "StepStarted" and e.get("Name") == "second")
    RUNS.clear()
    report = replay_history({"Events": events[:cut + 1]}, counting)
    assert report.ok, report.report()
    assert RUNS == []
    assert "would continue with" in report.report() and "'second'" in report.report()


# --------------------------------------------------------------------------- the fence: nothing leaves
HITS: list[str] = []


class _Counter(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HITS.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def port() -> Iterator[int]:
    HITS.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    PORT[0] = server.server_address[1]
    try:
        yield PORT[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


PORT = [0]


@durable_execution
def notifies_outside(event: Any, context: DurableContext) -> str:
    """POSTs to a local server and writes to S3 in handler code, outside any step, then one step."""
    with contextlib.suppress(Exception):
        request = urllib.request.Request(f"http://127.0.0.1:{PORT[0]}/notify", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    with contextlib.suppress(Exception):
        boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").put_object(
            Bucket="b", Key="k", Body=b"x")
    return context.step(lambda _: "done", name="after")


def test_a_replay_sends_no_request_and_no_aws_call(port: int) -> None:
    events = DurableRunner(notifies_outside).run(None).history  # the recording run reaches the server once
    assert HITS == ["/notify"]
    report = replay_history({"Events": events}, notifies_outside)
    assert HITS == ["/notify"], "the replay reached the network"
    assert report.ok, report.report()
    text = report.report()
    assert f"http:POST 127.0.0.1:{port}/notify" in text and "s3.PutObject" in text, text


def test_the_fence_lets_allowed_hosts_through(port: int) -> None:
    events = DurableRunner(notifies_outside).run(None).history
    replay_history({"Events": events}, notifies_outside, fence={"allow_hosts": ["127.0.0.1"]})
    assert HITS == ["/notify", "/notify"]
