"""The loopback stack: moto server (the external world), AWS's local runner (the durable
control plane, ``WebRunner``), and the front door (``Invoke`` + sandboxes), all on 127.0.0.1.

``LoopbackStack.start()`` brings them up on free ports; ``stop()`` takes them down (bounded).
Nothing listens on another interface and nothing is sent elsewhere: every client made for the
stack has an ``endpoint_url`` on 127.0.0.1 and fake credentials.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.aws.harness.front_door import FrontDoor, Function

REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fakeSecretFakeSecret1234",
                    "AWS_DEFAULT_REGION": REGION}
FIRES_TABLE = "chaos_fires"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LoopbackStack:
    """Every service a deployed durable function meets, on loopback."""

    functions: dict[str, Function] = field(default_factory=dict)
    retry_backoff_seconds: int = 0
    moto_url: str = ""
    runner_url: str = ""
    door: FrontDoor | None = None
    _moto: Any = None
    _runner: Any = None
    _runner_thread: threading.Thread | None = None
    _saved_backoff: int | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The Lambda endpoint callers use (the front door)."""
        assert self.door is not None
        return self.door.url

    def function_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A sandbox's environment: fake credentials, every AWS endpoint on loopback, the chaos layer on."""
        env = dict(FAKE_CREDENTIALS)
        env.update({
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL_LAMBDA": self.runner_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url, "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_S3": self.moto_url, "AWS_ENDPOINT_URL_SNS": self.moto_url,
            "AWS_ENDPOINT_URL_STS": self.moto_url,
            "DURABLE_EXECUTION_PLUGINS": "chaosdurable-faults",
            "CHAOSDURABLE_FAULTS_FROM_INPUT": "1",
            "CHAOSDURABLE_FIRE_ONCE_TABLE": FIRES_TABLE,
        })
        env.update(extra or {})
        return env

    def plugin_environment(self) -> dict[str, str]:
        """What a pytest run with ``--chaos-backend aws`` against this stack needs in its environment: the
        switch, fake credentials, and the ``Aws`` options the plugin has no flag for (docs/aws.md)."""
        return {"CHAOSDURABLE_ALLOW_AWS": "1", **FAKE_CREDENTIALS,
                "CHAOSDURABLE_AWS_WORLD_ENDPOINT": self.moto_url, "CHAOSDURABLE_AWS_WORLD_RESET": "1",
                "CHAOSDURABLE_FIRE_ONCE_TABLE": FIRES_TABLE, "CHAOSDURABLE_FIRE_ONCE_ENDPOINT": self.moto_url,
                "CHAOSDURABLE_AWS_POLL": "0.03", "CHAOSDURABLE_AWS_TIME_SCALE": "0.05"}

    def start(self) -> LoopbackStack:
        """Start moto, the runner and the front door (each bounded)."""
        import logging
        import os

        from aws_durable_execution_sdk_python_testing.executor import Executor
        from aws_durable_execution_sdk_python_testing.runner import WebRunner, WebRunnerConfig
        from aws_durable_execution_sdk_python_testing.web.server import WebServiceConfig
        from moto.server import ThreadedMotoServer

        for name in ("aws_durable_execution_sdk_python_testing", "werkzeug"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # the runner's own Invoke client signs with these (fake) credentials
        self._saved_env = {k: os.environ.get(k) for k in FAKE_CREDENTIALS}
        os.environ.update(FAKE_CREDENTIALS)
        moto_port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        # a crashed invocation is retried after this many seconds (the runner's default is 5)
        self._saved_backoff = Executor.RETRY_BACKOFF_SECONDS
        Executor.RETRY_BACKOFF_SECONDS = self.retry_backoff_seconds
        runner_port = free_port()
        self.runner_url = f"http://127.0.0.1:{runner_port}"
        # the front door needs the runner's URL and the runner the front door's: bind the door first
        self.door = FrontDoor(self.runner_url, self.functions, region=REGION)
        config = WebRunnerConfig(web_service=WebServiceConfig(host="127.0.0.1", port=runner_port),
                                 lambda_endpoint=self.door.url, local_runner_region=REGION,
                                 invocation_timeout_seconds=30, skip_time=True)
        self._runner = WebRunner(config)
        self._runner.start()
        self._runner_thread = threading.Thread(target=self._runner.serve_forever, daemon=True)
        self._runner_thread.start()
        self.door.start()
        _wait_listening(runner_port)
        _wait_listening(moto_port)
        return self

    def stop(self) -> None:
        """Stop everything started (safe to call twice)."""
        from aws_durable_execution_sdk_python_testing.executor import Executor

        if self.door is not None:
            self.door.stop()
            self.door = None
        if self._runner is not None:
            server = self._runner._server
            if server is not None:
                server.shutdown()
            self._runner.stop()
            if self._runner_thread is not None:
                self._runner_thread.join(timeout=5)
            self._runner = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._saved_backoff is not None:
            Executor.RETRY_BACKOFF_SECONDS = self._saved_backoff
            self._saved_backoff = None
        import os

        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` on the stack (lambda: the front door; others: moto)."""
        import boto3

        url = self.url if service == "lambda" else self.moto_url
        return boto3.client(service, endpoint_url=url, region_name=REGION,
                            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], **kwargs)

    def reset_world(self) -> None:
        """Empty moto (its own reset route) and recreate the fire-once table."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(self.moto_url + "/moto-api/reset", method="POST"),
                               timeout=10).read()
        self.client("dynamodb").create_table(
            TableName=FIRES_TABLE, KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
