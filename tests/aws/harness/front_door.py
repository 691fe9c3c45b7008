"""The "front door": what AWS's local runner (``WebRunner``) lacks, in front of it, on loopback.

- ``Invoke`` (``POST /2015-03-31/functions/{name}/invocations``):
  * from the runner (header ``X-Dex-Handler-Invoke: true``): run the handler once in a sandbox
    process of its own (``sandbox.invoke``); a dead sandbox answers ``X-Amz-Function-Error``
    with ``Runtime.ExitError``, as Lambda does;
  * from a caller: start a durable execution (``POST /start-durable-execution`` on the runner)
    with AWS's name idempotency (same name and payload: the same ARN; another payload: 409
    ``DurableExecutionAlreadyStartedException``) and answer 202 with ``X-Amz-Durable-Execution-Arn``.
- Every other request is proxied to the runner; an error's ``Type`` from the body is copied to
  ``x-amzn-ErrorType``, which is where botocore's rest-json parser reads the error code.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.aws.harness import sandbox

INVOKE_PREFIX = "/2015-03-31/functions/"


@dataclass
class Function:
    """A deployed function: the handler's import path and its environment configuration."""

    import_path: str
    env: dict[str, str]
    timeout: float = 20.0


@dataclass
class Counters:
    """What the front door saw (for measurements)."""

    invocations: int = 0
    crashed: int = 0
    starts: int = 0
    duplicate_starts: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    #: wall-clock seconds of each sandbox invocation
    seconds: list[float] = field(default_factory=list)


class FrontDoor:
    """The HTTP server; ``url`` once started."""

    def __init__(self, runner_url: str, functions: dict[str, Function], region: str = "us-east-1",
                 account: str = "123456789012") -> None:
        self.runner_url = runner_url
        self.functions = functions
        self.region = region
        self.account = account
        self.names: dict[str, tuple[str, str]] = {}
        self.counters = Counters()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> FrontDoor:
        """Serve in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (bounded)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ routes
    def _runner(self, method: str, path: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.runner_url + path, data=body, method=method,
                                         headers={k: v for k, v in headers.items()
                                                  if k.lower() in ("content-type", "accept")})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def _start(self, name: str, execution_name: str | None, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        text = payload.decode() if payload else "{}"
        with self._lock:
            self.counters.starts += 1
            if execution_name and execution_name in self.names:
                self.counters.duplicate_starts += 1
                known_payload, arn = self.names[execution_name]
                if known_payload != text:
                    error = "DurableExecutionAlreadyStartedException"
                    return 409, {"x-amzn-ErrorType": error}, json.dumps({
                        "Type": error, "message": f"execution {execution_name!r} exists with another input"}).encode()
                return 202, {"X-Amz-Durable-Execution-Arn": arn}, b""
            start = {"AccountId": self.account, "FunctionName": name, "FunctionQualifier": "$LATEST",
                     "ExecutionName": execution_name or f"unnamed-{self.counters.starts}",
                     "ExecutionTimeoutSeconds": 300, "ExecutionRetentionPeriodDays": 1, "Input": text}
            status, _, body = self._runner("POST", "/start-durable-execution", json.dumps(start).encode(),
                                                 {"content-type": "application/json"})
            if status >= 300:
                return status, _error_headers(body), body
            arn = json.loads(body)["ExecutionArn"]
            if execution_name:
                self.names[execution_name] = (text, arn)
        return 202, {"X-Amz-Durable-Execution-Arn": arn}, b""

    def _invoke_handler(self, name: str, event: bytes) -> tuple[int, dict[str, str], bytes]:
        function = self.functions.get(name)
        if function is None:
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, b'{"Type":"User","message":"no function"}'
        env = dict(function.env, AWS_LAMBDA_FUNCTION_NAME=name)
        with self._lock:
            self.counters.invocations += 1
        started = time.monotonic()
        outcome = sandbox.invoke(function.import_path, env, event, function.timeout)
        with self._lock:
            self.counters.seconds.append(round(time.monotonic() - started, 3))
        if outcome.error is None and outcome.payload is not None:
            return 200, {"X-Amz-Executed-Version": "$LATEST"}, outcome.payload
        with self._lock:
            self.counters.crashed += 1
        body = outcome.payload or json.dumps({"errorType": outcome.error,
                                              "errorMessage": f"sandbox exited with {outcome.exit_code}"}).encode()
        return 200, {"X-Amz-Function-Error": "Unhandled"}, body

    def route(self, method: str, path: str, headers: dict[str, str],
              body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request."""
        key = f"{method} {path.split('/')[1] if path.count('/') else path}"
        with self._lock:
            self.counters.requests[key] = self.counters.requests.get(key, 0) + 1
        if method == "POST" and path.startswith(INVOKE_PREFIX) and path.split("?")[0].endswith("/invocations"):
            name = _function_name(path[len(INVOKE_PREFIX):].split("/")[0])
            lowered = {k.lower(): v for k, v in headers.items()}
            if lowered.get("x-dex-handler-invoke") == "true":
                return self._invoke_handler(name, body)
            return self._start(name, lowered.get("x-amz-durable-execution-name"), body)
        status, out_headers, out = self._runner(method, path, body or None, headers)
        keep = {k: v for k, v in out_headers.items() if k.lower() == "content-type"}
        if status >= 400:
            keep.update(_error_headers(out))
        return status, keep, out

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, out = door.route(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *_: Any) -> None:
                """Quiet: the test reads counters, not access logs."""

        return Handler


def _function_name(raw: str) -> str:
    """The function's name from a path segment: a name, ``name:qualifier`` or an ARN (URL-encoded)."""
    text = urllib.parse.unquote(raw)
    if text.startswith("arn:") and ":function:" in text:
        text = text.split(":function:", 1)[1]
    return text.split(":")[0]


def _error_headers(body: bytes) -> dict[str, str]:
    """``x-amzn-ErrorType`` from the runner's ``{"Type": ...}`` error body (botocore reads the header)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    kind = data.get("Type") or data.get("__type") if isinstance(data, dict) else None
    return {"x-amzn-ErrorType": str(kind)} if kind else {}
