"""A module-level token cache that steers which operations run (trial8 b06); its own module for subprocess mode."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

_AUTH: dict[str, str] = {}


@durable_execution
def cached_token(event: Any, context: DurableContext) -> str:
    """BUG: the token step runs only when the module's cache is empty: a warm sandbox's replay skips it."""
    if "token" not in _AUTH:
        _AUTH["token"] = context.step(lambda _: "tok-1", name="auth")
    return str(context.step(lambda _: f"claim with {_AUTH['token']}", name="adjudicate"))
