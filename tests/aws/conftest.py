"""Fixtures: the loopback stack (moto server + AWS's local runner + front door + sandboxes),
started once per test process by the fixture itself; an allowlist for it; the deployment's world
(``EndpointWorld`` on the moto server).

Everything listens on 127.0.0.1 and every credential is a fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosdurable.backends.aws_world import EndpointWorld
from tests.aws.harness.front_door import Function
from tests.aws.harness.stack import FIRES_TABLE, LoopbackStack

ACCOUNT = "123456789012"
FUNCTIONS = {"buggy": "tests.aws.harness.handlers:buggy", "correct": "tests.aws.harness.handlers:correct",
             "webhooks": "tests.aws.harness.handlers:webhooks"}


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


@pytest.fixture
def world(stack: LoopbackStack) -> EndpointWorld:
    """The deployment's world on the moto server, emptied before each run (loopback only)."""
    w = EndpointWorld(stack.moto_url, region="us-east-1", reset_route=True, fire_once_table=FIRES_TABLE)
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
