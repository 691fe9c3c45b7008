"""Fixtures: the loopback stack (moto server + AWS's local runner + front door + sandboxes),
started once per test process by the fixture itself; an allowlist for it; a world over moto.

Everything listens on 127.0.0.1 and every credential is a fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws.harness.front_door import Function
from tests.aws.harness.stack import FIRES_TABLE, LoopbackStack

ACCOUNT = "123456789012"
FUNCTIONS = {"buggy": "tests.aws.harness.handlers:buggy", "correct": "tests.aws.harness.handlers:correct"}


def arn(function: str) -> str:
    """The function's ARN on the loopback stack (its account is what the gate checks)."""
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"


@pytest.fixture(scope="session")
def stack() -> Iterator[LoopbackStack]:
    """The loopback stack with the test handlers deployed (chaos layer on)."""
    try:
        import flask  # noqa: F401  (moto's ThreadedMotoServer is a flask app)
    except ImportError:
        pytest.fail("tests/aws need moto's server mode: install moto[server] (flask, flask-cors)")
    st = LoopbackStack().start()
    for name, path in FUNCTIONS.items():
        st.functions[name] = Function(path, st.function_env())
    try:
        yield st
    finally:
        st.stop()


class ServerWorld:
    """The external world in the moto server (same process: snapshots read moto's backends)."""

    def __init__(self, stack: LoopbackStack) -> None:
        from chaosdurable.history.world import World

        self.stack = stack
        self._world = World(region="us-east-1")

    def reset(self) -> None:
        """Empty moto, recreate the fire-once table and the handlers' table."""
        self.stack.reset_world()
        self.stack.client("dynamodb").create_table(
            TableName="charges", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")

    def snapshot(self) -> dict[str, Any]:
        """What the handlers wrote (the fire-once table is the harness's, not the world's)."""
        shot = self._world._snapshot()
        return {k: v for k, v in shot.items() if k != f"dynamodb:{FIRES_TABLE}"}


@pytest.fixture
def world(stack: LoopbackStack) -> ServerWorld:
    """A fresh world per test."""
    w = ServerWorld(stack)
    w.reset()
    return w


@pytest.fixture
def allow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The switch on and an allowlist file naming the test functions (and nothing else)."""
    path = tmp_path / "allowlist"
    path.write_text("".join(f"{ACCOUNT} {name}\n" for name in FUNCTIONS))
    monkeypatch.setenv("CHAOSDURABLE_ALLOW_AWS", "1")
    monkeypatch.setenv("CHAOSDURABLE_AWS_ALLOWLIST", str(path))
    return path


def backend(stack: LoopbackStack, function: str, tmp_path: Path, **options: Any) -> Any:
    """An ``Aws`` backend on the loopback stack."""
    from chaosdurable.backends.aws import Aws

    defaults: dict[str, Any] = {
        "endpoint_url": stack.url, "region": "us-east-1", "allow_endpoints": ("127.0.0.1",), "poll": 0.03,
        "run_timeout": 30.0, "time_scale": 0.05, "fire_once_table": FIRES_TABLE,
        "fire_once_endpoint_url": stack.moto_url, "record_dir": str(tmp_path / "histories"),
        "client": stack.client("lambda")}
    defaults.update(options)
    return Aws(arn(function), **defaults)
