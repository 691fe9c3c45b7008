"""The SDK's checkpoint path, made cheaper (part of ``engine.speedups``; never in faithful mode).

Four patches of ``aws_durable_execution_sdk_python.state.ExecutionState`` (SDK 3.x). Each one is
installed only when the SDK functions it replaces have exactly the source they were written
against (a SHA-256 of ``inspect.getsource``: any SDK change skips it, and ``speedups.status()`` says
why), and acts only on an ``ExecutionState`` built while the speed-ups were active (the decision is
taken once per invocation, in ``__init__``), so a faithful run in the same process gets the SDK as
shipped. What each one changes:

- ``skip_plugin_bookkeeping``: with no plugin registered for the invocation (``has_plugins`` False),
  ``create_checkpoint`` does not build the ``OperationStartInfo`` for ``on_operation_action`` nor take
  the end-hook claim lock, and ``wrap_user_function`` returns a plain wrapper that only calls the
  user function (no ``functools.wraps``, no ``UserFunctionStartInfo``/``EndInfo``). Every one of
  those is a no-op without plugins (``execute_plugins`` returns at once; no end hook is ever
  recorded), so nothing observable changes. With a plugin (chaosdurable's body probe when it
  records) the SDK's own code runs. The plain wrapper keeps ``self``, ``operation_identifier`` and
  ``attempt`` in its frame, and ``history.probes`` recognises it, so attribution still works. With
  plugins, none of which implements ``on_operation_change`` (chaosdurable's body probe implements
  only ``on_user_function_start``), the change hook is not built: the SDK copies the whole operation
  map and converts every operation for it, per checkpoint response (quadratic in the operations), to
  hand it to the base class's empty method. (Needs ``inline_sync_checkpoints``, which owns the
  response handling.)
- ``skip_unimplemented_hooks``: with plugins, a hook that no plugin of the invocation implements (its
  method is ``DurableInstrumentationPlugin``'s own empty one) is not prepared: no ``OperationStartInfo``
  for ``on_operation_start`` when a START is queued, no ``UserFunctionEndInfo`` (nor the
  ``functools.wraps`` wrapper) around a step body when nobody implements ``on_user_function_end``, and
  without an ``on_operation_end`` no end hook is recorded from checkpoint responses or claimed by the
  synchronous waiter (the SDK would run the empty method, in an order that then orders nothing). Hooks
  that are implemented run exactly as the SDK runs them: chaosdurable's body probe implements only
  ``on_user_function_start``, which is still built and dispatched before every step body, from the same
  wrapper frame. Decided per invocation from the plugin instances the SDK created for it; with an
  unknown executor shape, the SDK's code runs. Needs ``inline_sync_checkpoints`` (which owns the
  response handling where end hooks are recorded).
- ``exact_batch_size``: ``_calculate_operation_size`` returns the length of
  ``json.dumps(update.to_dict()).encode()`` computed without building that JSON text (plain ASCII
  strings are counted directly, anything else is measured with ``json.dumps`` of that one value).
  The number is the same, byte for byte (tested), so batch limits act exactly as before.
- ``light_queue``: the checkpoint queue and the overflow queue are a ``deque`` under one
  ``Condition`` instead of ``queue.Queue`` (which takes three conditions and counts unfinished
  tasks nobody joins). Same FIFO order, same methods as the SDK uses them.
- ``inline_sync_checkpoints``: a synchronous ``create_checkpoint`` sends its batch from the
  caller's own thread instead of handing it to the batcher thread and sleeping until the batcher
  wakes it (two thread switches per synchronous checkpoint). The batch is what the batcher would
  have sent at that moment: everything queued before it, in queue order (asynchronous updates
  queued earlier, other threads' synchronous updates), plus refreshes already due, within the
  SDK's size and count limits; response handling is the SDK's own code path (token, completion,
  revocation, failure, pagination, plugin end hooks). One lock serialises every send of the
  invocation, and every update is taken from the queue only under it, so per-operation order and
  the token chain are those of the SDK. The batcher thread still runs, for what has no waiting
  caller: asynchronous updates (a step START under at-least-once, a child context START) are sent
  with the synchronous checkpoint that follows them, or alone after 1 s (the SDK's collector waits for
  one up to 0.1 s of quiet or 1 s in all; see below); refreshes when due;
  and at invocation end any asynchronous update still queued is sent before the batcher stops (the
  SDK sends those its collector had already taken, which it takes as soon as they are queued).
  What changes: the thread that calls ``checkpoint`` on the service client is the caller's, not
  the batcher's (the service, not the handler, sees that); under threaded branches two threads'
  synchronous updates may share one call or not, depending on timing, as with
  ``flush_sync_batches``. An asynchronous update waits for the synchronous one that follows it, up to
  the SDK's longest batching time (1 s; the SDK's collector sends it after 0.1 s of quiet, 1 s at
  most), so a step START reaches the service with the step's outcome unless the body runs longer than
  1 s: a fault at that START then finds the body run to its end whatever the machine's load, for any
  body shorter than that (the same seed and schedule give the same history). A longer body has its
  START persisted while it runs, as on AWS (conformance 3-12 relies on it).
- ``plain_step_counter``: ``OrderedCounter.increment`` (the step counter every operation id comes
  from) takes its ``OrderedLock``'s inner lock and counts, instead of queueing an ``Event`` per call
  in the ``OrderedLock``. The inner lock is the one that fixes the order of callers in the SDK's
  code too (they are queued in the order they take it), so every caller gets the same number; a
  broken lock or a queued waiter (never, while every counter call goes this way) falls back to the
  SDK's code.
- ``direct_body_probe``: when every plugin factory of the invocation is chaosdurable's own body probe
  (``history.probes.BodyProbeFactory``, registered while ``check()``/``given()`` record), the
  invocation's ``PluginExecutor`` is given no factories (its own copy of the list; the handler's list
  is untouched), so the SDK runs its no-plugin path everywhere (no plugin instances, no
  ``InvocationStartInfo``/``EndInfo`` nor their operation snapshots, no deep copy of the input, no
  ``UserFunctionStartInfo`` with a snapshot of every operation per step body), and the plain wrapper of
  ``skip_plugin_bookkeeping`` calls the probe itself, from the same wrapper frame, at the moment the
  SDK would have dispatched ``on_user_function_start`` (before the body, not for replayed children).
  What the probe raises is contained exactly as the SDK contains a plugin's failure (its own
  ``_contain_plugin_failure``: logged and ignored, thread-control exceptions re-raised). What changes:
  the probe receives no ``UserFunctionStartInfo`` (it reads only ``is_replay_children``), and the SDK
  builds no plugin view of the invocation. The wrapper still sees the handler's list, so it still runs
  the worker in a copy of its context, as with plugins. Needs ``skip_plugin_bookkeeping``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import inspect
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

PATCHES = ("skip_plugin_bookkeeping", "exact_batch_size", "light_queue", "inline_sync_checkpoints",
           "plain_step_counter", "skip_unimplemented_hooks", "direct_body_probe")

#: SHA-256 (first 16 hex digits) of the source of every SDK function these patches replace or
#: re-implement, as in aws-durable-execution-sdk-python 3.0.0. A different source skips the patch.
_EXPECTED = {
    "create_checkpoint": "9143fdc51b72fe66",
    "checkpoint_batches_forever": "354575c2c9516b5b",
    "_collect_checkpoint_batch": "09a5ec684ea1123d",
    "wrap_user_function": "3d1913e91036cee0",
    "_calculate_operation_size": "b1b51bb1ff9dc60e",
    "__init__": "cc720d8b7cfefab2",
    "_drain_unsent_operations": "4dc16fc43654dc4d",
    "OperationUpdate.to_dict": "e8fb1d329c99e72c",
    "OrderedCounter.increment": "6b0997dd7d33f2e3",
    "OrderedLock.acquire": "95c14ce0808ebc88",
    "OrderedLock.release": "09cc50e061cb86f6",
    # not replaced: ``engine.speedups``' ``wrapper_on_caller`` relies on how this wrapper hands the
    # invocation to its executor (one worker job, submitted first, whose ``result()`` it waits for)
    "execution.durable_execution": "4d2c31853f813a75",
    # ``skip_unimplemented_hooks``: what the SDK would do for a hook nobody implements
    "PluginExecutor.execute_plugins": "5b49bc0b7019e163",
    "PluginExecutor._dispatch_plugin": "6bc0c9aebe18343d",
    "PluginExecutor.on_operation_action": "989946c18c9c2746",
    "PluginExecutor.on_user_function_start": "da5613b178f4f5a3",
    "PluginExecutor.on_user_function_end": "6686fa1176d2bda3",
    "PluginExecutor.record_end_hooks": "b16ce5d72f465a53",
    "PluginExecutor.claim_end_hook": "d60a8e127d1f1514",
    "DurableInstrumentationPlugin.on_operation_start": "99cefa834bde4999",
    "DurableInstrumentationPlugin.on_operation_end": "eb7733fd8564c88d",
    "DurableInstrumentationPlugin.on_user_function_start": "1e66058b9a85c91b",
    "DurableInstrumentationPlugin.on_user_function_end": "de38f3a6e2172d17",
    # ``direct_body_probe``: the executor's factory list, what the SDK does without factories, and how it
    # contains a plugin's failure
    "PluginExecutor.__init__": "7fe244a825376b2e",
    "PluginExecutor.has_plugins": "11b4e44ff97717c7",
    "PluginExecutor.on_invocation_start": "b1530731df0945b2",
    "PluginExecutor._snapshot_execution_input": "639079e883697f40",
    "PluginExecutor._create_plugins": "b823938161d54ba9",
    "plugin._contain_plugin_failure": "a0ebcb2b290acb6b",
}
#: which SDK functions each patch depends on
_NEEDS = {
    "skip_plugin_bookkeeping": ("create_checkpoint", "wrap_user_function", "__init__"),
    "exact_batch_size": ("_calculate_operation_size", "OperationUpdate.to_dict"),
    "plain_step_counter": ("OrderedCounter.increment", "OrderedLock.acquire", "OrderedLock.release"),
    "light_queue": ("__init__", "_drain_unsent_operations", "_collect_checkpoint_batch"),
    "inline_sync_checkpoints": ("create_checkpoint", "checkpoint_batches_forever", "_collect_checkpoint_batch",
                                "__init__"),
    "skip_unimplemented_hooks": ("create_checkpoint", "checkpoint_batches_forever", "_collect_checkpoint_batch",
                                 "wrap_user_function", "__init__", *(name for name in _EXPECTED if name.startswith((
                                     "PluginExecutor.", "DurableInstrumentationPlugin.")) and not name.startswith((
                                     "PluginExecutor.__init__", "PluginExecutor.has_plugins",
                                     "PluginExecutor.on_invocation_start", "PluginExecutor._snapshot_execution_input",
                                     "PluginExecutor._create_plugins")))),
    "direct_body_probe": ("wrap_user_function", "__init__", "create_checkpoint", "PluginExecutor.__init__",
                          "PluginExecutor.has_plugins", "PluginExecutor.on_invocation_start",
                          "PluginExecutor._snapshot_execution_input", "PluginExecutor._create_plugins",
                          "PluginExecutor.on_user_function_start", "PluginExecutor._dispatch_plugin",
                          "PluginExecutor.execute_plugins", "plugin._contain_plugin_failure"),
}

#: process-wide switches (``speedups.active`` turns them on; each can be turned off alone)
ENABLED: dict[str, bool] = dict.fromkeys(PATCHES, True)
_ACTIVE = [False]
#: code objects of the plain wrappers ``skip_plugin_bookkeeping`` hands out (``history.probes``)
WRAPPER_CODES: set[Any] = set()


def _fingerprint(fn: Any) -> str | None:
    try:
        fn = fn.fget if isinstance(fn, property) else getattr(fn, "__func__", fn)
        return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return None


# ------------------------------------------------------------------------------------- light queue
class LightFifo:
    """``queue.Queue`` as ``ExecutionState`` uses it, on a ``deque`` (whose ``append``/``popleft`` are
    atomic) and one ``Condition`` that only the batcher waits on.

    ``put`` wakes the batcher only when it waits for an update (``want_updates``) or when the item
    is a wake signal (a refresh scheduled, checkpointing stopped): an update queued while the
    batcher already waits out its batching window needs no wake-up.
    """

    def __init__(self) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self.cond = threading.Condition(threading.Lock())
        self.puts = 0  # how many items were ever put (the batcher's "did anything arrive" check)
        self.want_updates = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._items.append(item)
        self.puts += 1
        if self.want_updates or isinstance(item, _SIGNAL_TYPE[0]):
            with self.cond:
                self.cond.notify()

    def put_nowait(self, item: Any) -> None:
        self.put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        import queue

        try:
            return self._items.popleft()
        except IndexError:
            if not block:
                raise queue.Empty from None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.cond:
                self.want_updates = True
                try:
                    if not self._items:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            raise queue.Empty
                        self.cond.wait(remaining)
                finally:
                    self.want_updates = False
            try:
                return self._items.popleft()
            except IndexError:
                continue

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def popleft_or_none(self) -> Any:
        """The first item, or None when empty (items are never None)."""
        try:
            return self._items.popleft()
        except IndexError:
            return None

    def task_done(self) -> None:
        pass

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def has_update(self) -> bool:
        """True when an operation (not only a wake signal) is queued."""
        signal = _SIGNAL_TYPE[0]
        return any(not isinstance(item, signal) for item in list(self._items))


class FastCompletion:
    """The SDK's ``CompletionEvent`` (``set(error)``, ``wait(timeout)`` raising the error, ``is_set``) on
    one pre-acquired ``Lock`` instead of an ``Event`` (a ``Condition`` and its waiter list)."""

    __slots__ = ("_error", "_flag", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._flag = False
        self._error: BaseException | None = None

    def set(self, error: BaseException | None = None) -> None:
        if self._error is None:  # first error wins (unlocked, as in the SDK's CompletionEvent)
            self._error = error
        if not self._flag:
            self._flag = True
            with contextlib.suppress(RuntimeError):  # a concurrent set() released it first
                self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._flag and self._lock.acquire(timeout=-1 if timeout is None else timeout):
            with contextlib.suppress(RuntimeError):
                self._lock.release()
        if self._error is not None:
            raise self._error
        return self._flag

    def is_set(self) -> bool:
        return self._flag


_SIGNAL_TYPE: list[Any] = [type(None)]
_STATE: list[Any] = [None]


# ------------------------------------------------------------------------------ exact batch size
def _str_size(s: str) -> int:
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return len(s) + 2
    return len(json.dumps(s))  # ensure_ascii: the text is ASCII, so characters are bytes


def json_size(value: Any) -> int:
    """``len(json.dumps(value).encode("utf-8"))`` without building the text (default separators)."""
    kind = type(value)
    if kind is str:
        return _str_size(value)
    if kind is dict:
        if not value:
            return 2
        total = 4 * len(value)  # braces, ", " between items, ": " in each
        for key, item in value.items():
            if type(key) is not str:
                return len(json.dumps(value).encode("utf-8"))
            total += _str_size(key) + json_size(item)
        return total
    if kind is list or kind is tuple:
        if not value:
            return 2
        return 2 * len(value) + sum(json_size(item) for item in value)
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if kind is int:
        return len(int.__repr__(value))
    return len(json.dumps(value).encode("utf-8"))


def update_size(u: Any) -> int:
    """``json_size(u.to_dict())`` for an ``OperationUpdate``, reading its fields as ``to_dict`` (3.0.0)
    does: '{"Id": "...", "Type": "...", "Action": "..."' then each optional field it writes."""
    total = _str_size(u.operation_id)
    # '{"Id": ' + ', "Type": ""' + ', "Action": ""' + '}' = 6 + 12 + 14 + 2, plus the two enum values
    total += 34 + len(u.operation_type._value_) + len(u.action._value_)
    for key_size, value in ((14, u.parent_id), (10, u.name), (13, u.sub_type)):  # ', "ParentId": ' etc.
        if value:
            if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
                total += key_size + len(value) + 2
            else:
                total += key_size + len(json.dumps(value))
    if u.payload is not None:
        value = u.payload
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            total += 13 + len(value) + 2
        else:
            total += 13 + len(json.dumps(value))
    for key_size, nested in ((11, u.error), (20, u.context_options), (17, u.step_options), (17, u.wait_options),
                             (21, u.callback_options), (26, u.chained_invoke_options)):
        if nested:
            total += key_size + json_size(nested.to_dict())
    return total


# ---------------------------------------------------------------------------------------- install
_FOUND: dict[int, dict[str, str | None]] = {}


def fingerprints(state: Any) -> dict[str, str | None]:
    """The source fingerprints of what the patches replace, read once per process (``inspect.getsource``
    costs tens of milliseconds; a subprocess-mode zygote reads them before it forks)."""
    cached = _FOUND.get(id(state))
    if cached is not None:
        return cached
    cls: Any = getattr(state, "ExecutionState", None)
    found = {name: _fingerprint(getattr(cls, name, None)) for name in _EXPECTED if "." not in name}
    found["OperationUpdate.to_dict"] = _fingerprint(getattr(getattr(state, "OperationUpdate", None), "to_dict", None))
    sdk_execution: Any = None
    with contextlib.suppress(ImportError):
        from aws_durable_execution_sdk_python import execution as sdk_execution
    found["execution.durable_execution"] = _fingerprint(getattr(sdk_execution, "durable_execution", None))
    sdk_plugin: Any = None
    with contextlib.suppress(ImportError):
        from aws_durable_execution_sdk_python import plugin as sdk_plugin
    for name in _EXPECTED:
        owner, _, attr = name.partition(".")
        if owner in ("PluginExecutor", "DurableInstrumentationPlugin"):
            found[name] = _fingerprint(getattr(getattr(sdk_plugin, owner, None), attr, None))
        elif owner == "plugin":
            found[name] = _fingerprint(getattr(sdk_plugin, attr, None))
    sdk_threading: Any = None
    with contextlib.suppress(ImportError):  # the SDK's layout changed: the counter patch is skipped below
        from aws_durable_execution_sdk_python import threading as sdk_threading
    for name in ("OrderedCounter.increment", "OrderedLock.acquire", "OrderedLock.release"):
        owner, _, attr = name.partition(".")
        found[name] = _fingerprint(getattr(getattr(sdk_threading, owner, None), attr, None))
    _FOUND[id(state)] = found
    return found


def install(state: Any, skipped: dict[str, str]) -> Callable[[Any], Any] | None:
    """Install the patches on ``state.ExecutionState``; record skipped ones in ``skipped``.

    Returns the batcher function the SDK now submits (for ``speedups``' thread choice), or None.
    """
    cls: Any = getattr(state, "ExecutionState", None)
    if cls is None:
        for patch in PATCHES:
            skipped[patch] = "aws_durable_execution_sdk_python.state.ExecutionState not found"
        return None
    found = fingerprints(state)
    sdk_threading: Any = None
    with contextlib.suppress(ImportError):  # the SDK's layout changed: the counter patch is skipped below
        from aws_durable_execution_sdk_python import threading as sdk_threading
    changed = {name for name, digest in _EXPECTED.items() if found.get(name) != digest}
    for patch, needs in _NEEDS.items():
        bad = [n for n in needs if n in changed]
        if bad:
            skipped[patch] = f"the SDK's ExecutionState.{', .'.join(bad)} differ from 3.0.0 (source checked)"
    for name in ("QueuedOperation", "CompletionEvent", "_Signal", "OperationType", "OperationAction",
                 "BackgroundThreadError", "OrphanedChildException", "_BatchAccumulator", "logger"):
        if not hasattr(state, name):
            for patch in PATCHES:
                skipped.setdefault(patch, f"aws_durable_execution_sdk_python.state.{name} not found")
    if all(p in skipped for p in PATCHES):
        return None
    sdk_plugin: Any = None
    with contextlib.suppress(ImportError):
        from aws_durable_execution_sdk_python import plugin as sdk_plugin
    if not callable(getattr(sdk_plugin, "_contain_plugin_failure", None)):
        skipped.setdefault("direct_body_probe",
                           "aws_durable_execution_sdk_python.plugin._contain_plugin_failure not found")
    else:
        _CONTAIN[0] = sdk_plugin._contain_plugin_failure
    if "skip_plugin_bookkeeping" in skipped:
        skipped.setdefault("direct_body_probe", "needs skip_plugin_bookkeeping")
    _SIGNAL_TYPE[0] = state._Signal
    _STATE[0] = state
    with contextlib.suppress(ImportError):
        from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin

        _BASE_CHANGE_HOOK[0] = getattr(DurableInstrumentationPlugin, "on_operation_change", None)
        for hook in _HOOKS:
            _BASE_HOOKS[hook] = getattr(DurableInstrumentationPlugin, hook, None)
    on = {p: p not in skipped for p in PATCHES}

    original_init = cls.__init__
    original_create = cls.create_checkpoint
    original_forever = cls.checkpoint_batches_forever
    original_wrap = cls.wrap_user_function
    original_size = cls._calculate_operation_size

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        active = _ACTIVE[0]
        light = active and on["light_queue"] and ENABLED["light_queue"]
        inline = active and on["inline_sync_checkpoints"] and ENABLED["inline_sync_checkpoints"]
        if light or inline:  # the inline path needs the queue it can look into
            self._checkpoint_queue = LightFifo()
            self._overflow_queue = LightFifo()
        self._cd_inline = inline
        self._cd_skip_hooks = active and on["skip_plugin_bookkeeping"] and ENABLED["skip_plugin_bookkeeping"]
        self._cd_body_starts = ()
        if self._cd_skip_hooks and on["direct_body_probe"] and ENABLED["direct_body_probe"]:
            self._cd_body_starts = _direct_body_starts(self._plugin_executor)
        self._cd_skip_plugins = self._cd_skip_hooks and not self._plugin_executor.has_plugins
        self._cd_exact_size = active and on["exact_batch_size"] and ENABLED["exact_batch_size"]
        # hooks some plugin implements, found once the invocation's plugins exist (``_implemented``)
        self._cd_unimplemented = inline and on["skip_unimplemented_hooks"] and ENABLED["skip_unimplemented_hooks"]
        self._cd_hooks = None
        if inline:
            self._cd_send_lock = threading.Lock()
            self._cd_token = self._current_checkpoint_token
            self._cd_dead = False

    __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
    cls.__init__ = __init__

    if on["exact_batch_size"]:
        def _calculate_operation_size(queued_op: Any) -> int:
            update = queued_op.operation_update
            if update is None:
                return 0
            if not _ACTIVE[0] or not ENABLED["exact_batch_size"]:
                return original_size(queued_op)
            return update_size(update)

        cls._calculate_operation_size = staticmethod(_calculate_operation_size)

    if on["skip_plugin_bookkeeping"] or on["skip_unimplemented_hooks"]:
        def wrap_user_function(self: Any, user_function: Callable[..., Any], operation_identifier: Any,
                               is_replay_children: bool = False, attempt: int | None = None) -> Any:
            direct: tuple[Callable[[Any], None], ...] = ()
            if getattr(self, "_cd_skip_plugins", False):
                starts = False
                if not is_replay_children:  # as the probe itself decides (``history.probes._BodyProbe``)
                    direct = getattr(self, "_cd_body_starts", ())
            else:
                hooks = _implemented(self)
                if hooks is None or "on_user_function_end" in hooks:
                    return original_wrap(self, user_function, operation_identifier, is_replay_children, attempt)
                starts = "on_user_function_start" in hooks

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                # what ``history.probes.where_now`` reads from an SDK wrapper's frame
                self, operation_identifier, attempt  # noqa: B018
                if starts:  # as the SDK's wrapper does it; nobody implements the end hook
                    self._plugin_executor.on_user_function_start(operation_identifier, is_replay_children, attempt)
                if direct:  # ``direct_body_probe``: chaosdurable's probe, without the plugin machinery
                    _call_body_starts(direct, sys._getframe())
                return user_function(*args, **kwargs)

            return wrapper

        WRAPPER_CODES.add(wrap_user_function.__code__.co_consts[next(
            i for i, c in enumerate(wrap_user_function.__code__.co_consts) if inspect.iscode(c))])
        wrap_user_function.__wrapped__ = original_wrap  # type: ignore[attr-defined]
        cls.wrap_user_function = wrap_user_function

    if on["skip_plugin_bookkeeping"] or on["inline_sync_checkpoints"] or on["skip_unimplemented_hooks"]:
        cls.create_checkpoint = _make_create_checkpoint(state, original_create)

    if on["plain_step_counter"] and sdk_threading is not None:
        _install_counter(sdk_threading.OrderedCounter)

    if on["inline_sync_checkpoints"]:
        forever = _make_batcher(state, original_forever)
        cls.checkpoint_batches_forever = forever
        return forever
    return None


# ------------------------------------------------------------------------------ direct body probe
#: the SDK's ``plugin._contain_plugin_failure`` (how it contains what a plugin's hook raises)
_CONTAIN: list[Any] = [None]
#: the class attribute by which a plugin factory says it is chaosdurable's body probe and how to call it
#: without the plugin machinery (``history.probes.BodyProbeFactory.direct_start``)
DIRECT_START = "direct_start"


def _direct_body_starts(executor: Any) -> tuple[Callable[[Any], None], ...]:
    """``direct_body_probe``: when every factory of this invocation's (fresh, not yet started) executor is a
    body probe, take them out of the executor and return their direct start functions; otherwise ()."""
    factories = getattr(executor, "_plugin_factories", None)
    if not isinstance(factories, list) or not factories or _CONTAIN[0] is None \
            or getattr(executor, "_run_entered", True) or getattr(executor, "_plugins", None) != []:
        return ()
    starts = []
    for factory in factories:
        if getattr(type(factory), DIRECT_START, None) is None:
            return ()
        starts.append(getattr(factory, DIRECT_START))
    executor._plugin_factories = []  # the executor's own copy: the handler's list keeps the probe
    return tuple(starts)


def _call_body_starts(starts: tuple[Callable[[Any], None], ...], frame: Any) -> None:
    """Call each probe as ``PluginExecutor._dispatch_plugin`` would: a failure is logged and ignored,
    a thread-control exception re-raised."""
    for start in starts:
        try:
            start(frame)
        except BaseException as error:  # as the SDK contains a plugin's failure
            control = _CONTAIN[0](error, "Plugin %s exception ignored", "_BodyProbe")
            if control is not None:
                raise control from None


# ----------------------------------------------------------------------------------- step counter
def _install_counter(counter_cls: Any) -> None:
    original = counter_cls.increment

    def increment(self: Any) -> int:
        """``OrderedCounter.increment`` under the ``OrderedLock``'s own inner lock (see the module)."""
        ordered = self._lock
        if _ACTIVE[0] and ENABLED["plain_step_counter"]:
            with ordered._lock:
                if not ordered._is_broken and not ordered._waiters:
                    self._counter += 1
                    return int(self._counter)
        return int(original(self))

    increment.__wrapped__ = original  # type: ignore[attr-defined]
    counter_cls.increment = increment


# ------------------------------------------------------------------------------ create_checkpoint
def _make_create_checkpoint(state: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    QueuedOperation, CompletionEvent = state.QueuedOperation, state.CompletionEvent
    OperationType, OperationAction = state.OperationType, state.OperationAction
    context_end = {OperationAction.SUCCEED, OperationAction.FAIL}

    def create_checkpoint(self: Any, operation_update: Any = None, is_sync: bool = True) -> None:
        """``ExecutionState.create_checkpoint`` of SDK 3.0.0, line for line, with the two changes
        described in ``engine.speedups_checkpoint`` (plugin no-ops skipped; a synchronous batch sent
        from this thread)."""
        skip_plugins = getattr(self, "_cd_skip_plugins", False)
        inline = getattr(self, "_cd_inline", False)
        if not skip_plugins and not inline:
            return original(self, operation_update, is_sync)
        if operation_update is not None:
            with self._parent_done_lock:
                if operation_update.parent_id:
                    if operation_update.parent_id not in self._parent_to_children:
                        self._parent_to_children[operation_update.parent_id] = set()
                    self._parent_to_children[operation_update.parent_id].add(operation_update.operation_id)
                if (operation_update.operation_type == OperationType.CONTEXT
                        and operation_update.action in context_end):
                    if fatal_error := self._branch_fatal_errors.get(operation_update.operation_id):
                        raise fatal_error
                    self._terminal_contexts.add(operation_update.operation_id)
                    self._mark_orphans(operation_update.operation_id)
                self._reject_if_parent_done(operation_update)
        if self._checkpointing_failed.is_set():
            self._checkpointing_failed.wait()
        self._reject_if_checkpoint_token_revoked()
        self._reject_if_execution_completed(operation_update)
        completion_event = (FastCompletion() if inline else CompletionEvent()) if is_sync else None
        hooks = None if skip_plugins else _implemented(self)
        starts = not skip_plugins and (hooks is None or "on_operation_start" in hooks)
        ends = not skip_plugins and (hooks is None or "on_operation_end" in hooks)
        if operation_update is not None and starts:
            with self._operations_lock:
                previous_operation = self._operations.get(operation_update.operation_id)
            self._plugin_executor.on_operation_action(operation_update, previous_operation=previous_operation)
        queued_op = QueuedOperation(operation_update, completion_event)
        with self._completion_lock:
            if self._checkpointing_failed.is_set():
                self._checkpointing_failed.wait()
            self._reject_if_checkpoint_token_revoked()
            self._reject_if_execution_completed(operation_update)
            if operation_update is None:
                self._checkpoint_queue.put(queued_op)
            else:
                with self._parent_done_lock:
                    self._reject_if_parent_done(operation_update)
                    self._checkpoint_queue.put(queued_op)
        if completion_event is None:
            return
        try:
            if inline:
                _send_until(self, completion_event)
            completion_event.wait()
        finally:
            if operation_update is not None and ends:
                self._plugin_executor.claim_end_hook(operation_update.operation_id, waiter=True)

    create_checkpoint.__wrapped__ = original  # type: ignore[attr-defined]
    return create_checkpoint


# ------------------------------------------------------------------------------------ the batches
def _take_batch(self: Any) -> list[Any]:
    """Under the send lock: what the SDK's collector would send now, taken without waiting.

    Overflow first, then refreshes already due, then the queue in order, within the SDK's limits
    (``_BatchAccumulator``: bytes, operations, empty checkpoints counted once); an update that does
    not fit goes to the overflow queue and ends the batch, as in ``_collect_checkpoint_batch``.
    """
    state = _STATE[0]
    batch = state._BatchAccumulator(self._batcher_config)
    if not self._overflow_queue.empty():
        self._drain_overflow(batch)
    # (read without the lock: a refresh scheduled after this read joins the next batch, as in the SDK)
    refreshes = bool(self._pending_refreshes)
    if refreshes:
        self._add_due_refreshes(batch, time.time())
    queue = self._checkpoint_queue
    while not batch.is_full():
        item = queue.popleft_or_none()
        if item is None:
            break
        if isinstance(item, state._Signal):
            self._consume_refresh_wake()
            continue
        size = self._calculate_operation_size(item)
        if not batch.is_empty() and not batch.fits(size):
            self._overflow_queue.put(item)
            break
        batch.add(item, size)
    if refreshes or self._pending_refreshes:
        self._add_due_refreshes(batch, time.time())
    return batch.operations


def _send_until(self: Any, event: Any) -> None:
    """Send batches from this thread until ``event`` (this caller's checkpoint) is settled."""
    while not event.is_set():
        with self._cd_send_lock:
            if event.is_set() or self._cd_dead:
                return
            batch = _take_batch(self)
            if not batch:
                return  # settled by a drain (completion, revocation, failure): the event is set
            _send(self, batch)


def _send(self: Any, batch: list[Any]) -> None:
    """One checkpoint call and its response: the body of SDK 3.0.0's ``checkpoint_batches_forever``
    loop (token kept on the state, since more than one thread sends). Called under the send lock."""
    state = _STATE[0]

    updates = [q.operation_update for q in batch if q.operation_update is not None]
    try:
        output = self._service_client.checkpoint(
            durable_execution_arn=self.durable_execution_arn,
            checkpoint_token=self._cd_token,
            updates=updates,
            client_token=None,
        )
        execution_completed = False
        if output.checkpoint_token:
            self._cd_token = output.checkpoint_token
        elif any(u.operation_type is state.OperationType.EXECUTION for u in updates):
            execution_completed = True
        else:
            self._cd_dead = True
            self._handle_revoked_checkpoint_token(batch)
            return
        has_plugins = self._plugin_executor.has_plugins
        observed = has_plugins and not (self._cd_skip_hooks and not _observes_changes(self._plugin_executor))
        previous_operations = self.operations if observed else None
        fetch_marker = None if execution_completed else output.new_execution_state.next_marker
        hooks = _implemented(self) if has_plugins else None
        records_ends = has_plugins and (hooks is None or "on_operation_end" in hooks)
        waited_for = {
            q.operation_update.operation_id
            for q in batch
            if q.operation_update is not None and q.completion_event is not None
        } if records_ends else set()
        updated_operations = self.fetch_paginated_operations(
            output.new_execution_state.operations,
            self._cd_token,
            fetch_marker,
            before_publish=(
                functools.partial(self._plugin_executor.record_end_hooks, waited_for=waited_for)
                if records_ends else None
            ),
        )
        if previous_operations is not None:
            self._plugin_executor.record_change(updated_operations, self.operations, previous_operations)
        for q in batch:
            if q.completion_event is not None:
                q.completion_event.set()
        if execution_completed:
            self._cd_dead = True
            self._settle_after_execution_completed()
    except Exception as e:
        state.logger.exception("Checkpoint batch processing failed")
        self._cd_dead = True
        bg_error = state.BackgroundThreadError("Checkpoint creation failed", e)
        for q in batch:
            if q.completion_event is not None:
                q.completion_event.set(bg_error)
        with self._completion_lock:
            for queued_op in self._drain_unsent_operations():
                if queued_op.completion_event is not None:
                    queued_op.completion_event.set(bg_error)
            for refresh in self._drain_pending_refreshes():
                refresh.completion_event.set(bg_error)
            self._checkpointing_failed.set(bg_error)


def _observes_changes(executor: Any) -> bool:
    """Whether a plugin of this invocation implements ``on_operation_change`` (the base one does nothing).

    Without one, the change hook (a copy of the whole operation map and an ``OperationInfo`` per
    operation, per checkpoint response) goes to no one. Unknown executor shapes count as observed.
    """
    plugins = getattr(executor, "_plugins", None)
    base = _BASE_CHANGE_HOOK[0]
    if not isinstance(plugins, list) or base is None:
        return True
    return any(getattr(getattr(p, "on_operation_change", None), "__func__", None) is not base for p in plugins)


_BASE_CHANGE_HOOK: list[Any] = [None]
#: the hooks ``skip_unimplemented_hooks`` looks at, and ``DurableInstrumentationPlugin``'s own (empty) ones
_HOOKS = ("on_operation_start", "on_operation_end", "on_user_function_start", "on_user_function_end")
_BASE_HOOKS: dict[str, Any] = {}


def _implemented(self: Any) -> frozenset[str] | None:
    """The hooks (of ``_HOOKS``) some plugin of this invocation implements, or None: unknown (the SDK's
    code then runs), ``skip_unimplemented_hooks`` off, or the invocation's plugins not created yet."""
    found = self._cd_hooks if getattr(self, "_cd_unimplemented", False) else None
    if found is not None or not getattr(self, "_cd_unimplemented", False):
        return found
    executor = self._plugin_executor
    plugins = getattr(executor, "_plugins", None)
    if not isinstance(plugins, list) or getattr(executor, "_invocation_status", None) is None \
            or len(_BASE_HOOKS) != len(_HOOKS) or any(base is None for base in _BASE_HOOKS.values()):
        return None
    found = frozenset(hook for hook in _HOOKS if any(
        getattr(getattr(plugin, hook, None), "__func__", None) is not _BASE_HOOKS[hook] for plugin in plugins))
    self._cd_hooks = found
    return found


def _make_batcher(state: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    orphaned = state.OrphanedChildException

    def checkpoint_batches_forever(self: Any) -> None:
        """The batcher for what no caller waits on (asynchronous updates, refreshes): see the module."""
        if not getattr(self, "_cd_inline", False):
            return original(self)
        poll = getattr(state, "_STOP_SIGNAL_POLL_SECONDS", 0.1)  # the SDK's own polling period, read per thread
        queue: LightFifo = self._checkpoint_queue
        stopped = self._checkpointing_stopped
        while not stopped.is_set() and not self._cd_dead:
            until = self._seconds_until_next_refresh(time.time()) if self._pending_refreshes else None
            if until is not None and until <= 0:
                _flush(self)
                continue
            if not _wait_for_update(self, queue, poll if until is None else min(poll, until)):
                continue
            # An asynchronous update (an at-least-once step's START, a child context's START) waits for the
            # synchronous caller that follows it in the same invocation (the step's SUCCEED, RETRY or FAIL; the
            # child's first operation), which sends it from its own thread, in queue order; this thread sends it
            # alone only after the SDK's longest batching time (``max_batch_time_seconds``, 1 s, on the
            # monotonic clock), when a refresh falls due, or at stop. The SDK's collector sends it after 0.1 s
            # of quiet instead: then a body of 0.1 s, or a loaded machine, decided whether a fault at that START
            # found the body run to its end. A body still running after 1 s has its START persisted, as on AWS.
            deadline = time.monotonic() + self._batcher_config.max_batch_time_seconds
            while not stopped.is_set() and not self._cd_dead:
                until = self._seconds_until_next_refresh(time.time()) if self._pending_refreshes else None
                left = deadline - time.monotonic()
                if (until is not None and until <= 0) or left <= 0:
                    _flush(self)
                    break
                with queue.cond:  # woken by a wake signal only (a refresh scheduled, stop); else polled
                    if queue.has_update():
                        queue.cond.wait(min(poll, left) if until is None else min(poll, left, until))
                if not queue.has_update():
                    break  # a synchronous caller sent it
        # At stop: asynchronous updates still queued go out (the SDK's collector would have taken them).
        if not self._cd_dead and queue.has_update():
            _flush(self)
        # As the SDK's loop ends: a refresh still pending will never be sent.
        with self._completion_lock:
            unsent_refreshes = self._drain_pending_refreshes()
        for refresh in unsent_refreshes:
            refresh.completion_event.set(orphaned("Checkpointing stopped before the refresh time.", operation_id=""))

    checkpoint_batches_forever.__wrapped__ = original  # type: ignore[attr-defined]
    return checkpoint_batches_forever


def _wait_for_update(self: Any, queue: LightFifo, timeout: float) -> bool:
    """Wait up to ``timeout`` for an update in the queue; True when one is there. Wake signals found
    instead are consumed (outside the queue's lock: ``create_checkpoint`` puts under
    ``_completion_lock``, so that lock is never taken while the queue's is held)."""
    with queue.cond:
        queue.want_updates = True
        try:
            if not queue.has_update():
                queue.cond.wait(timeout)
        finally:
            queue.want_updates = False
    if queue.has_update():
        return True
    signal, items, signals = _SIGNAL_TYPE[0], queue._items, 0
    with self._cd_send_lock:  # every other taker holds it: the head cannot change under us
        while items and isinstance(items[0], signal):
            items.popleft()
            signals += 1
        if signals:
            self._consume_refresh_wake()
    return queue.has_update()  # an update queued meanwhile


def _flush(self: Any) -> None:
    with self._cd_send_lock:
        if self._cd_dead:
            return
        batch = _take_batch(self)
        if batch:
            _send(self, batch)

