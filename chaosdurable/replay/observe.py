"""Watching what the handler issues during a replay, and stopping it at the recorded frontier.

Contract, without patching the SDK:

- ``Observer.profile`` is a profile hook (``sys.setprofile``/``threading.setprofile``; the
  engine's worker threads take it up per job). On every call of the SDK's
  ``DurableContext._replay_aware`` (every context operation: step, wait, callback, invoke,
  map, parallel, child context, wait_for_callback, wait_for_condition) and of ``child_handler``
  (map items and parallel branches), it records a ``Call``: the operation's identity, the
  arguments the history can be compared with, and the first user frame on the stack (the
  source line that issued it). Replayed operations send nothing to the service, so this is
  the only way to see them. It never raises and does not change what the SDK does.
- ``Guard`` is an SDK instrumentation plugin (the public hook API). Its ``on_operation_start``
  runs on the caller's thread *before* a START is queued; its ``on_user_function_start`` runs
  before a step body. The first START of an operation the history does not hold (or of a step
  the history leaves READY), and any step body, is the frontier: it is recorded and the thread
  is stopped there with ``ReplayStop`` (a ``SystemExit``, one of the SDK's thread-control
  exceptions, so it is not contained), so no step body and no new operation ever runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from aws_durable_execution_sdk_python import context as sdk_context
from aws_durable_execution_sdk_python.operation import child as sdk_child
from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin

import chaosdurable

_REPLAY_AWARE = sdk_context.DurableContext._replay_aware.__wrapped__.__code__  # type: ignore[attr-defined]
_CHILD_HANDLER = sdk_child.child_handler.__code__
_CONTEXT_FILE = sdk_context.__file__
_API = frozenset({"step", "wait", "create_callback", "invoke", "map", "parallel", "run_in_child_context",
                  "wait_for_callback", "wait_for_condition"})
_SDK_DIR = os.path.dirname(os.path.abspath(sdk_context.__file__))
_OWN_DIR = os.path.dirname(os.path.abspath(chaosdurable.__file__))
_OWN_USER_DIRS = tuple(os.path.join(_OWN_DIR, d) + os.sep for d in ("scenarios", "strategies"))
_STDLIB = tuple(p for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")} if p)


def is_user_file(filename: str) -> bool:
    """True for code that is neither the SDK, chaosdurable's library code, nor the standard library."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    if path.startswith(_OWN_USER_DIRS):
        return True
    return not path.startswith((_SDK_DIR, _OWN_DIR, *_STDLIB))


def user_source(frame: FrameType | None) -> tuple[str | None, str | None]:
    """``("file:line", function)`` of the first user frame at or above ``frame``."""
    depth = 0
    while frame is not None and depth < 300:
        filename = frame.f_code.co_filename
        if is_user_file(filename):
            try:
                shown = os.path.relpath(filename)
            except ValueError:  # pragma: no cover - another drive on Windows
                shown = filename
            return f"{shown}:{frame.f_lineno}", frame.f_code.co_name
        frame = frame.f_back
        depth += 1
    return None, None


class ReplayStop(SystemExit):
    """Raised on the handler's thread at the recorded frontier; ends the replay invocation there."""


@dataclass
class Call:
    """One operation the handler issued (replayed or new), in issue order."""

    seq: int
    op_id: str
    op_type: str
    sub_type: str | None
    name: str | None
    parent_id: str | None
    api: str | None
    args: dict[str, Any]
    source: str | None
    function: str | None

    def label(self) -> str:
        """``STEP 'charge'``."""
        return f"{self.op_type} {self.name!r}" if self.name else f"{self.op_type} (unnamed, {self.sub_type})"


@dataclass
class Frontier:
    """Where the replay stopped: the first work the recorded history does not hold."""

    op_id: str
    op_type: str
    name: str | None
    what: str
    source: str | None = None


def _args(api: str | None, local: dict[str, Any], op_id: str, arn: str) -> dict[str, Any]:
    """The arguments of an API call that a history records, read from its frame."""
    out: dict[str, Any] = {}
    try:
        if api == "wait":
            duration = local.get("duration")
            out["duration_s"] = duration.to_seconds() if duration is not None else local.get("seconds")
        elif api == "create_callback":
            config = local.get("config")
            out["timeout_s"] = int(getattr(config, "timeout_seconds", 0) or 0)
            out["heartbeat_timeout_s"] = int(getattr(config, "heartbeat_timeout_seconds", 0) or 0)
        elif api == "invoke":
            from aws_durable_execution_sdk_python.serdes import DEFAULT_JSON_SERDES, serialize

            config = local.get("config")
            out["function_name"] = local.get("function_name")
            serdes = getattr(config, "serdes_payload", None) or DEFAULT_JSON_SERDES
            out["payload"] = serialize(serdes=serdes, value=local.get("payload"), operation_id=op_id,
                                       durable_execution_arn=arn)
        elif api == "map":
            out["items"] = len(local.get("inputs") or ())
        elif api == "parallel":
            out["items"] = len(local.get("functions") or ())
    except Exception as exc:  # the comparison degrades; the replay goes on
        out["unreadable"] = f"{type(exc).__name__}: {exc}"
    return out


@dataclass
class Observer:
    """Collects ``Call``s and the ``Frontier`` of one replay invocation (thread-safe)."""

    known: dict[str, str]
    handler_code: Any = None
    arn: str = ""
    calls: list[Call] = field(default_factory=list)
    frontier: Frontier | None = None
    returned_at: str | None = None
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ profile hook
    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        """The profile hook: cheap unless ``frame`` is one of the two SDK functions watched."""
        if event == "call":
            code = frame.f_code
            if code is _REPLAY_AWARE or code is _CHILD_HANDLER:
                with contextlib.suppress(Exception):  # never disturb the SDK
                    self._on_operation(frame, code is _CHILD_HANDLER)
        elif event == "return" and frame.f_code is self.handler_code:
            self.returned_at, _ = user_source(frame)

    def _on_operation(self, frame: FrameType, from_child_handler: bool) -> None:
        ident = frame.f_locals.get("operation_identifier")
        op_id = getattr(ident, "operation_id", None)
        if ident is None or not op_id:
            return
        with self._lock:
            if op_id in self._seen:
                return
            self._seen.add(op_id)
            seq = len(self.calls)
        api, local = None, {}
        if not from_child_handler:
            caller = frame.f_back
            for _ in range(8):
                if caller is None:
                    break
                if caller.f_code.co_filename == _CONTEXT_FILE and caller.f_code.co_name in _API:
                    api, local = caller.f_code.co_name, dict(caller.f_locals)
                    break
                caller = caller.f_back
        source, function = user_source(frame.f_back)
        kind = getattr(getattr(ident, "operation_type", None), "value", None) or "?"
        sub_type = getattr(ident, "sub_type", None)
        sub_type = getattr(sub_type, "value", sub_type)  # an OperationSubType enum in SDK 2.x, a str in 3.x
        call = Call(seq=seq, op_id=op_id, op_type=kind, sub_type=sub_type,
                    name=getattr(ident, "name", None) or None, parent_id=getattr(ident, "parent_id", None) or None,
                    api=api, args=_args(api, local, op_id, self.arn), source=source, function=function)
        with self._lock:
            self.calls.append(call)
            self.calls.sort(key=lambda c: c.seq)

    def call_for(self, op_id: str) -> Call | None:
        """The recorded ``Call`` of an operation id, if the handler issued it."""
        with self._lock:
            return next((c for c in self.calls if c.op_id == op_id), None)

    # -------------------------------------------------------------- frontier
    def reach(self, op_id: str, op_type: str, name: str | None, what: str, frame: FrameType | None) -> None:
        """Record the frontier (the first one wins) and stop the calling thread there."""
        with self._lock:
            if self.frontier is None:
                call = next((c for c in self.calls if c.op_id == op_id), None)
                source = call.source if call is not None else user_source(frame)[0]
                self.frontier = Frontier(op_id=op_id, op_type=op_type, name=name, what=what, source=source)
        raise ReplayStop(f"replay stops at the recorded frontier: {what}")


class Guard(DurableInstrumentationPlugin):
    """Stops the handler before any START the history does not hold and before any step body."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    def on_operation_start(self, info: Any) -> None:
        """A START about to be queued (or a non-terminal operation seen on replay)."""
        status = self._observer.known.get(info.operation_id)
        if status is not None and status != "READY":
            return  # a replayed STARTED/PENDING operation: the SDK's replay hook, not a new START
        kind = getattr(info.operation_type, "value", str(info.operation_type))
        label = f"{kind} {info.name!r}" if info.name else f"{kind} ({info.sub_type})"
        what = f"retrying {label} (the history leaves it READY)" if status == "READY" else f"starting {label}"
        self._observer.reach(info.operation_id, kind, info.name, what, sys._getframe(1))

    def on_user_function_start(self, info: Any) -> None:
        """A user function about to run: a step body is work the replay must not do."""
        kind = getattr(info.operation_type, "value", str(info.operation_type))
        if kind != "STEP":
            return  # child contexts, map items and branches are orchestration: they replay
        label = f"step {info.name!r}" if info.name else f"step ({info.sub_type})"
        attempt = f" (attempt {info.attempt})" if info.attempt else ""
        self._observer.reach(info.operation_id, kind, info.name,
                             f"running the body of {label}{attempt}, which the history left unfinished",
                             sys._getframe(1))


class GuardFactory:
    """The plugin factory added to the handler's plugin list for one replay."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    def create_plugin(self, info: Any, /) -> DurableInstrumentationPlugin:
        """One guard per invocation."""
        return Guard(self._observer)


def add_plugin(handler: Callable[..., Any], factory: Any) -> Callable[[], None]:
    """Add ``factory`` to a ``@durable_execution`` handler's plugin list; returns its remover.

    Raises ``RuntimeError`` when the list cannot be reached: replaying without the guard could
    run step bodies, so the replay refuses instead.
    """
    code = getattr(handler, "__code__", None)
    closure = getattr(handler, "__closure__", None)
    plugins = None
    if code is not None and closure is not None and "configured_plugins" in code.co_freevars:
        plugins = closure[code.co_freevars.index("configured_plugins")].cell_contents
    if not isinstance(plugins, list):
        raise RuntimeError(
            "cannot replay safely: the @durable_execution wrapper of this SDK version keeps no plugin list "
            "chaosdurable can reach, so it could not stop the handler before step bodies")
    plugins.append(factory)

    def remove() -> None:
        if factory in plugins:
            plugins.remove(factory)

    return remove


def payload_equal(a: str | None, b: str | None) -> bool:
    """Two JSON payloads are equal as JSON values (or as text when either is not JSON)."""
    if a == b:
        return True
    try:
        return bool(json.loads(a or "null") == json.loads(b or "null"))
    except (TypeError, ValueError):
        return False
