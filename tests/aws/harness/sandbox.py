"""Per-invocation Lambda sandboxes: each handler invocation in a process of its own.

Processes come from a ``forkserver`` that has pre-imported boto3, the SDK and the layer's code
(``chaosdurable.deployed.plugin``: what a warm Lambda runtime image holds) but *not* the
handler: every child imports the handler module afresh, so ``@durable_execution`` runs in the
child and the SDK discovers the plugin through its entry point
(``DURABLE_EXECUTION_PLUGINS=chaosdurable-faults``), exactly as in a layer. The plugin reads its
environment when the SDK asks it for a plugin, in the child, so preloading its module changes
nothing but the ~0.3-0.4 s its import (chaosdurable and moto) costs every child otherwise. The
child's environment is the function's configuration. A child that dies (``os._exit(137)``)
leaves no answer: the caller maps that to ``Runtime.ExitError``.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["boto3", "botocore", "aws_durable_execution_sdk_python", "chaosdurable.deployed.plugin",
                             "tests.aws.harness.warm"])


@dataclass(frozen=True)
class Outcome:
    """What one invocation gave: the handler's JSON answer, or how it died."""

    payload: bytes | None
    exit_code: int | None
    error: str | None = None


def _child(import_path: str, env: dict[str, str], event: bytes, out: Any) -> None:
    os.environ.clear()
    os.environ.update(env)
    module, _, attribute = import_path.partition(":")
    handler = getattr(importlib.import_module(module), attribute)
    context = SimpleNamespace(aws_request_id=str(uuid.uuid4()), function_name=env.get("AWS_LAMBDA_FUNCTION_NAME"),
                              get_remaining_time_in_millis=lambda: 60_000, tenant_id=None)
    try:
        answer = handler(json.loads(event), context)
        out.send(("ok", json.dumps(answer).encode()))
    except BaseException as exc:  # an unhandled error: Lambda reports it as a function error
        out.send(("error", json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()))
    out.close()


def invoke(import_path: str, env: dict[str, str], event: bytes, timeout: float) -> Outcome:
    """Run one invocation in a fresh process; bounded by ``timeout`` seconds (then it is killed)."""
    parent, child = _CTX.Pipe(duplex=False)
    process = _CTX.Process(target=_child, args=(import_path, env, event, child), daemon=True)
    process.start()
    child.close()
    answer: tuple[str, bytes] | None = None
    try:
        if parent.poll(timeout):
            answer = parent.recv()
    except EOFError:
        answer = None
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)
        return Outcome(None, None, "Sandbox.Timedout")
    parent.close()
    if answer is None:
        return Outcome(None, process.exitcode, "Runtime.ExitError")
    kind, data = answer
    return Outcome(data, process.exitcode, None if kind == "ok" else "Unhandled")
