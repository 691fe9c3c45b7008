"""The child side of subprocess mode (see ``subprocess_invoker`` for the protocol).

Run as ``python -m chaosdurable.engine.subprocess_worker``; it reads one invocation from
stdin, runs the handler with a service client that forwards every call to the parent, and
reports the output. Nothing here outlives the invocation.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import traceback
from dataclasses import asdict
from typing import Any

from aws_durable_execution_sdk_python.exceptions import CheckpointError, GetExecutionStateError
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    Operation,
    OperationUpdate,
    StateOutput,
)

from chaosdurable.engine import speedups
from chaosdurable.engine.client import to_sdk_error
from chaosdurable.engine.execution import CheckpointRejected
from chaosdurable.engine.invoker import LambdaContextStub
from chaosdurable.history import ledger
from chaosdurable.history.ledger import InvocationKilled
from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe

_FD = int(os.environ.get("CHAOSDURABLE_FD", "-1"))
_write_lock = threading.Lock()


def _send(message: dict[str, Any]) -> None:
    data = (json.dumps(message, default=str) + "\n").encode()
    with _write_lock:
        os.write(_FD, data)


class _LogForwarder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if not hasattr(record, "executionArn"):
            return
        std = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
        out: dict[str, Any] = {"message": record.getMessage(), "level": record.levelname}
        out.update({k: v for k, v in vars(record).items() if k not in std})
        _send({"type": "log", "record": out})


_call_lock = threading.Lock()


def _call(message: dict[str, Any]) -> dict[str, Any]:
    """Send a request to the parent and wait for its one-line answer (one request at a time)."""
    with _call_lock:
        _send(message)
        line = sys.stdin.readline()
    if not line:
        raise CheckpointError("parent went away")
    return dict(json.loads(line))


class PipeServiceClient:
    """A ``DurableServiceClient`` whose every call is answered by the parent process."""

    def __init__(self, invocation: tuple[str, int, int]) -> None:
        #: (execution ARN, invocation index, delivery copy), read by the attribution probes
        self.invocation = invocation

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        return _call(message)

    def checkpoint(self, durable_execution_arn: str, checkpoint_token: str, updates: list[OperationUpdate],
                   client_token: str | None) -> CheckpointOutput:
        reply = self._call({"type": "checkpoint", "arn": durable_execution_arn, "token": checkpoint_token,
                            "updates": [u.to_dict() for u in updates], "client_token": client_token})
        if "error" in reply:
            err = reply["error"]
            raise to_sdk_error(CheckpointRejected(err["message"], err["code"], err["status"]), CheckpointError)
        ok = reply["ok"]
        return CheckpointOutput(
            checkpoint_token=ok["CheckpointToken"],
            new_execution_state=CheckpointUpdatedExecutionState(
                operations=[Operation.from_json_dict(o) for o in ok["Operations"]], next_marker=ok["NextMarker"]),
        )

    def get_execution_state(self, durable_execution_arn: str, checkpoint_token: str, next_marker: str,
                            max_items: int = 1000) -> StateOutput:
        reply = self._call({"type": "state", "arn": durable_execution_arn, "token": checkpoint_token,
                            "marker": next_marker, "max_items": max_items})
        if "error" in reply:
            err = reply["error"]
            raise to_sdk_error(CheckpointRejected(err["message"], err["code"], err["status"]), GetExecutionStateError)
        ok = reply["ok"]
        return StateOutput(operations=[Operation.from_json_dict(o) for o in ok["Operations"]],
                           next_marker=ok["NextMarker"])


class _ForwardingRecorder:
    """Stands in for the parent's effect ledger inside the child: every effect and body run is
    sent to the parent, which records it and answers with the nemesis' decision."""

    def __init__(self, allow_real_aws: bool) -> None:
        self.paused = 0
        self.allow_real_aws = allow_real_aws

    def effect(self, name: str, key: str | None, kind: str, where: Any, mutating: bool,
               detail: dict[str, Any]) -> str:
        reply = _call({"type": "effect", "name": name, "key": key, "kind": kind, "where": asdict(where),
                       "mutating": mutating, "detail": detail})
        if reply.get("killed"):
            raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")
        return str(reply.get("decision", "proceed"))

    def body(self, event: str, where: Any) -> None:
        if event == "start" and _call({"type": "body", "where": asdict(where)}).get("killed"):
            raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")

    def crash(self, where: Any, name: str) -> InvocationKilled:
        _call({"type": "crash", "where": asdict(where), "name": name})
        return InvocationKilled(f"injected crash right after {name!r}")

    def trip(self, call: str, where: Any) -> None:
        return None


def main() -> None:
    """Run one invocation described on stdin. SIGUSR1 dumps every thread's stack to stderr (a hang report)."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    first = json.loads(sys.stdin.readline())
    for path in reversed(first["sys_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    module_name, qualname = first["handler"].split(":", 1)
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    root = logging.getLogger()
    root.addHandler(_LogForwarder())
    root.setLevel(logging.INFO)
    base = DurableExecutionInvocationInput.from_json_dict(first["event"])
    event = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
        base, PipeServiceClient(tuple(first["invocation"])))
    if first.get("record"):
        recorder = _ForwardingRecorder(bool(first.get("allow_real_aws")))
        ledger.activate(recorder)  # type: ignore[arg-type]
        inject_body_probe(target, BodyProbeFactory(recorder.body))
    context = LambdaContextStub(**first["context"])
    try:
        with speedups.active(False, serial_branches=bool(first.get("serial_branches"))):
            output = target(event, context)
    except BaseException as exc:
        _send({"type": "raised", "error_type": type(exc).__name__, "message": str(exc),
               "where": "".join(traceback.format_exception(exc)[-4:])})
    else:
        _send({"type": "result", "output": output})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
