"""Attribution: which execution, invocation, operation and attempt is running this code?

How it works, without patching the SDK: the SDK runs every user function (step body,
child-context function, map item, wait_for_condition check, callback submitter) through
``ExecutionState.wrap_user_function``'s ``wrapper``, whose frame holds the operation
identifier, the attempt and the ``ExecutionState`` (which holds our service client, and so
the invocation). ``where_now`` walks the current thread's frames to find the innermost such
wrapper. If the SDK's layout changes, attribution degrades to "unknown" (never crashes).

Body executions are recorded by an instrumentation plugin (the SDK's own public hook API:
``on_user_function_start``/``end``) added to the handler's plugin list for the run. Where that list
is, whether it takes factories or instances, and how an operation identifier names its type differ
between SDK versions: ``chaosdurable.sdk_compat`` knows, and this module asks it.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from chaosdurable import sdk_compat
from chaosdurable.engine import speedups_checkpoint
from chaosdurable.history.record import Where

try:
    from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin
except ImportError:  # an SDK before 1.7 (unsupported: refused by sdk_compat.require_supported)
    DurableInstrumentationPlugin = object  # type: ignore[misc,assignment]

_STATE_FILE = os.path.join("aws_durable_execution_sdk_python", "state.py")
_EXEC_FILE = os.path.join("aws_durable_execution_sdk_python", "execution.py")
_STEP_FILE = os.path.join("aws_durable_execution_sdk_python", "operation", "step.py")
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NOT_USER = tuple(
    p for p in {
        _PACKAGE_DIR,
        sysconfig.get_paths().get("stdlib", "\0"),
        sysconfig.get_paths().get("platstdlib", "\0"),
        sysconfig.get_paths().get("purelib", "\0"),
        sysconfig.get_paths().get("platlib", "\0"),
    } if p
)


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """True for source files outside chaosdurable, the stdlib and site-packages (by path only).

    A path cannot tell an SDK installed with ``--target``/``PYTHONPATH`` or vendored next to the
    handler from the user's code: ``is_user_code`` also asks which module the code belongs to.
    """
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    return not path.startswith(_NOT_USER) and "site-packages" not in path


def is_user_code(frame: FrameType) -> bool:
    """True when ``frame`` runs the user's own code: a user file (``is_user_file``) whose module is not
    part of chaosdurable, the SDK or a package the SDK requires (``sdk_compat.is_library_module``)."""
    return is_user_file(frame.f_code.co_filename) and not sdk_compat.is_library_module(
        frame.f_globals.get("__name__"))


@functools.lru_cache(maxsize=4096)
def _short(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:  # pragma: no cover - other drive on Windows
        return filename


def retry_budget(strategy: Any) -> int | None:
    """``max_attempts`` of a step's retry strategy, when it can be read.

    ``None`` means the SDK's default (``RetryPresets.default()``: 6 attempts). A strategy made
    by ``create_retry_strategy`` keeps its ``RetryStrategyConfig`` in a closure cell; a custom
    callable has no readable budget (None is returned and the budget is not checked).
    """
    if strategy is None:
        return 6
    for cell in getattr(strategy, "__closure__", None) or ():
        value = getattr(cell, "cell_contents", None)
        attempts = getattr(value, "max_attempts", None)
        if isinstance(attempts, int):
            return attempts
    return None


_PLAIN, _USER, _WRAPPER, _STEP, _EXEC, _WORK = range(6)
#: the plain wrapper ``engine.speedups_checkpoint`` hands out in place of the SDK's (same frame locals)
_PLAIN_WRAPPERS = speedups_checkpoint.WRAPPER_CODES
_WORK_ITEM_FILE = os.path.join("concurrent", "futures", "thread.py")
_CODE_KINDS: dict[Any, int] = {}


def _code_kind(frame: FrameType) -> int:
    """What ``frame`` can tell ``where_now`` (cached per code object)."""
    code = frame.f_code
    kind = _CODE_KINDS.get(code)
    if kind is None:
        filename = code.co_filename
        if (filename.endswith(_STATE_FILE) and code.co_name == "wrapper") or code in _PLAIN_WRAPPERS:
            kind = _WRAPPER
        elif filename.endswith(_STEP_FILE):
            kind = _STEP
        elif filename.endswith(_EXEC_FILE):
            kind = _EXEC
        elif filename.endswith(_WORK_ITEM_FILE) and code.co_name == "run":
            kind = _WORK
        elif is_user_code(frame):
            kind = _USER
        else:
            kind = _PLAIN
        if len(_CODE_KINDS) < 65536:
            _CODE_KINDS[code] = kind
    return kind


def where_now(frame: FrameType | None = None) -> Where:
    """Attribute the calling code; fields stay None where they cannot be found."""
    frame = frame or sys._getframe(1)
    source: str | None = None
    ident: Any = None
    attempt: int | None = None
    client: Any = None
    semantics: str | None = None
    budget: int | None = None
    while frame is not None:
        kind = _code_kind(frame)
        if kind == _PLAIN:
            frame = frame.f_back
            continue
        if kind == _USER:
            if source is None:
                source = f"{_short(frame.f_code.co_filename)}:{frame.f_lineno}"
        elif kind == _WRAPPER:
            local = frame.f_locals
            if ident is None and local.get("operation_identifier") is not None:
                ident = local["operation_identifier"]
                attempt = local.get("attempt")
            state = local.get("self")
            if client is None and state is not None:
                client = getattr(state, "_service_client", None)
        elif kind == _STEP:
            if semantics is None and ident is not None:
                config = getattr(frame.f_locals.get("self"), "config", None)
                semantics = getattr(getattr(config, "step_semantics", None), "value", None)
                if config is not None:
                    budget = retry_budget(getattr(config, "retry_strategy", None))
        elif client is None and kind == _EXEC:
            inp = frame.f_locals.get("invocation_input") or frame.f_locals.get("event")
            client = getattr(inp, "service_client", None)
        elif client is None:  # _WORK: a thread-pool job; before SDK 2.1 the handler itself is one
            client = sdk_compat.service_client_of_call(getattr(frame.f_locals.get("self"), "args", None))
        if ident is not None and client is not None and source is not None and (
                semantics is not None or sdk_compat.operation_type(ident) != "STEP"):
            break
        frame = frame.f_back
    arn = invocation = None
    copy = 0
    info = getattr(client, "invocation", None)
    if isinstance(info, tuple) and len(info) == 3:
        arn, invocation, copy = info
    op_type = sdk_compat.operation_type(ident)
    return Where(
        arn=arn,
        invocation=invocation,
        copy=copy,
        op_id=getattr(ident, "operation_id", None),
        op_name=getattr(ident, "name", None),
        op_type=op_type,
        sub_type=sdk_compat.sub_type(ident),
        attempt=attempt,
        in_step=op_type == "STEP",
        source=source,
        semantics=semantics if op_type == "STEP" else None,
        max_attempts=budget if op_type == "STEP" and semantics is not None else None,
    )


class _BodyProbe(DurableInstrumentationPlugin):
    def __init__(self, sink: Callable[[str, Any], None]) -> None:
        self._sink = sink

    def on_user_function_start(self, info: Any) -> None:
        if not getattr(info, "is_replay_children", False):
            self._sink("start", where_now(sys._getframe(1)))


class BodyProbeFactory:
    """The plugin factory added to a handler for the length of a run."""

    def __init__(self, sink: Callable[[str, Any], None]) -> None:
        self._sink = sink

    def create_plugin(self, info: Any, /) -> DurableInstrumentationPlugin:
        """One probe per invocation."""
        return _BodyProbe(self._sink)

    def direct_start(self, frame: FrameType) -> None:
        """What the probe does when a body starts, called by ``engine.speedups_checkpoint``'s
        ``direct_body_probe`` from the SDK's (plain) wrapper frame, without the plugin machinery."""
        self._sink("start", where_now(frame))


_inject_lock = threading.Lock()


def inject_body_probe(handler: Callable[..., Any], factory: BodyProbeFactory) -> Callable[[], None]:
    """Add the probe to the handler's plugin list; returns the function that removes it again.

    ``sdk_compat`` finds the list and says what goes in it (the factory on 3.x, a plugin instance
    before). Guarded: where no list is found, nothing is changed and body executions are simply
    not recorded.
    """
    plugins = sdk_compat.plugin_list(handler)
    if plugins is None:
        return lambda: None
    entry = sdk_compat.plugin_entry(factory)
    with _inject_lock:
        plugins.append(entry)

    def remove() -> None:
        with _inject_lock:
            if any(p is entry for p in plugins):
                plugins.remove(entry)

    return remove
