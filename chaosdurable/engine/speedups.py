"""Semantics-neutral speed-ups for the SDK, never in faithful mode (all in-process; ``serial_branches``
also in subprocess children).

Why: an unmodified SDK invocation costs ~100 ms because its checkpoint thread polls its
stop flag every 100 ms, plus ~1 ms per synchronous checkpoint for a batching window
(notes §5.4). Two patches remove that cost without changing what is checkpointed:

- ``wake_on_stop``: after ``ExecutionState.stop_checkpointing`` sets the stop flag, put the
  SDK's own no-op ``_Signal.REFRESH_WAKE`` on the queue so the batcher sees the flag at once.
- ``flush_sync_batches``: ``state._BLOCKED_CALLER_WAIT_SECONDS = 0``; a batch that holds a
  synchronous caller is sent at once instead of after 1 ms. Checkpoint contents and order
  per operation are unchanged; only how updates are grouped into calls can differ.

- ``reuse_threads``: the SDK starts a fresh ``ThreadPoolExecutor`` (two threads) for every
  invocation and one per map/parallel call, and joins their threads on shutdown. While active,
  those executors hand their work to ``engine.threads.IDLE_THREADS`` instead. Each executor still
  waits for exactly its own work on shutdown and cancels its own pending work. What a job sees is
  what the SDK's fresh threads give: every job starts in a fresh context (no context variable an
  earlier job set), and every job that can run user code (the handler's ``dex-handler`` worker, a
  map/parallel branch) gets a new thread that ends after it, so no ``threading.local`` value
  outlives it. Only the checkpoint batcher (``ExecutionState.checkpoint_batches_forever``, SDK and
  engine code only) takes a reused thread. Measured (2 cores, medians): a job on a reused thread
  costs 25-70 us, on a new ``threading.Thread`` 150-215 us; per execution, 10 steps take 4.6 ms with
  every thread reused (which leaked thread state), 4.7 ms this way, 5.7 ms with the SDK's own
  executor; a year-long wait (two invocations) 3.0 / 3.7 / 4.6 ms.

- ``serial_branches``: the pool behind ``map``/``parallel`` runs each branch on the thread that
  submits it (the SDK's coordinator), at submission, instead of on a thread of its own. This is
  one legal schedule of the real SDK (the OS may run each branch thread to its end before the
  next starts, and a branch future may be cancelled before its thread picks it up), and it is
  the same schedule every time: the order in which branch checkpoints reach the service, and
  so the history, no longer depends on thread timing. Each branch runs in a fresh context, as on
  a fresh pool thread (a context variable set in one branch is not seen by its siblings or by
  the coordinator; with plugins configured the SDK's own ``copy_context().run`` still applies);
  the coordinator's admission limits, resume waves and completion policy are the SDK's own.
  What it gives up: interleavings *between* branches are not explored; a branch shares the
  coordinator thread's ``threading.local`` values within the invocation (a fresh thread per
  branch would cost about 0.3 ms per branch); and a branch that blocks on another branch
  in-process (a shared ``threading.Event``, a barrier) cannot make progress; the hang timeout
  reports it, and ``DurableRunner(threaded_branches=True)`` turns this patch off on its own.

- ``wrapper_on_caller``: the in-process invoker calls the SDK's handler wrapper on its own (the
  engine's driving) thread instead of handing it to a thread of its own. The wrapper runs no user
  code: it builds the invocation's state and submits its worker (``invoke_worker``, which runs the
  user handler, the plugins and the checkpointing) to its executor, where the worker gets a fresh
  thread as before, and waits for it. That wait is the one thing that changes: the worker's future
  (the first job the wrapper's executor gets) waits through the engine's bounds (the hang timeout,
  the injected crash or timeout); when the engine stops waiting, the wait raises a
  ``BaseException`` that unwinds the wrapper, and the executor then waits for none of its jobs (the
  worker lives on as a zombie, as the wrapper's own thread did before). Each job starts in a fresh
  context, as on the wrapper's own thread. Guarded by the wrapper's source (SHA-256 of SDK 3.0.0's
  ``durable_execution``); switched off alone with ``WRAPPER_ON_CALLER[0] = False``. Saves two
  thread switches per invocation.

The checkpoint path's patches (``skip_plugin_bookkeeping``, ``exact_batch_size``, ``light_queue``,
``inline_sync_checkpoints``, ``plain_step_counter``) live in ``engine.speedups_checkpoint``, which says
what each changes; they are installed and switched with these. So is ``acyclic_logger`` (``engine.speedups_gc``:
a context's logger stops holding the context once its replay status is NEW for good, so an invocation's
state dies by reference counting).

Guards: each patch checks the SDK version (3.x) and that every attribute it touches exists
with the expected shape; otherwise it is skipped and ``status()`` says why. Patches are
installed once per process but act only while ``active(True)`` is in force, so a faithful
runner in the same process gets the SDK's original behaviour.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

from chaosdurable import sdk_compat
from chaosdurable.engine import speedups_checkpoint, speedups_gc
from chaosdurable.engine.threads import IDLE_THREADS, fresh_context

#: Every patch this module knows, in the order ``status()`` reports them (those of the checkpoint path are
#: ``engine.speedups_checkpoint``'s; the last, ``acyclic_logger``, is ``engine.speedups_gc``'s).
PATCHES = ("wake_on_stop", "flush_sync_batches", "reuse_threads", "serial_branches", *speedups_checkpoint.PATCHES,
           "wrapper_on_caller", *speedups_gc.PATCHES)
#: switch for ``wrapper_on_caller`` alone (the others: ``speedups_checkpoint.ENABLED``)
WRAPPER_ON_CALLER = [True]

_lock = threading.Lock()
_installed = False
_skipped: dict[str, str] = {}
_state_module: Any = None
_original_blocked_wait: float | None = None


def install() -> dict[str, str]:
    """Install the patches once (idempotent). Returns {patch: "installed" | reason skipped}."""
    global _installed, _state_module, _original_blocked_wait, _SDK_ONLY_JOB
    with _lock:
        if _installed:
            return status()
        _installed = True
        reason = sdk_compat.speedups_unsupported_reason()
        if reason is not None:
            for name in PATCHES:
                _skipped[name] = reason
            return status()
        from aws_durable_execution_sdk_python import state

        _state_module = state
        _SDK_ONLY_JOB = getattr(getattr(state, "ExecutionState", None), "checkpoint_batches_forever", None)
        cls = getattr(state, "ExecutionState", None)
        signal = getattr(getattr(state, "_Signal", None), "REFRESH_WAKE", None)
        original_stop = getattr(cls, "stop_checkpointing", None)
        if cls is None or signal is None or original_stop is None:
            _skipped["wake_on_stop"] = "ExecutionState.stop_checkpointing or _Signal.REFRESH_WAKE not found"
        else:

            def stop_checkpointing(self: Any) -> None:
                original_stop(self)
                if not _ActiveFlag.on:
                    return
                lock = getattr(self, "_completion_lock", None)
                queue = getattr(self, "_checkpoint_queue", None)
                if lock is None or queue is None or not hasattr(self, "_refresh_wake_enqueued"):
                    return
                with lock:
                    if not self._refresh_wake_enqueued:
                        self._refresh_wake_enqueued = True
                        queue.put(signal)

            stop_checkpointing.__wrapped__ = original_stop  # type: ignore[attr-defined]
            cls.stop_checkpointing = stop_checkpointing
        _install_thread_reuse()
        _check_wrapper(state)
        batcher = speedups_checkpoint.install(state, _skipped)
        if batcher is not None and _SDK_ONLY_JOB is not None:
            _SDK_ONLY_JOB = batcher  # the replacement runs only SDK and engine code too
        speedups_gc.install(_skipped)
        blocked = getattr(state, "_BLOCKED_CALLER_WAIT_SECONDS", None)
        if not isinstance(blocked, float):
            _skipped["flush_sync_batches"] = "state._BLOCKED_CALLER_WAIT_SECONDS not found"
        else:
            _original_blocked_wait = blocked
        return status()


def _check_wrapper(state: Any) -> None:
    """``wrapper_on_caller`` needs the executor patch and the wrapper it was written against."""
    if "reuse_threads" in _skipped:
        _skipped["wrapper_on_caller"] = "needs reuse_threads (" + _skipped["reuse_threads"] + ")"
        return
    expected = speedups_checkpoint._EXPECTED["execution.durable_execution"]
    if speedups_checkpoint.fingerprints(state).get("execution.durable_execution") != expected:
        _skipped["wrapper_on_caller"] = "the SDK's execution.durable_execution differs from 3.0.0 (source checked)"


def runs_on_caller(handler: Callable[..., Any]) -> bool:
    """Whether ``call_wrapper`` may run ``handler`` on the calling thread now: ``wrapper_on_caller`` is
    installed, switched on and active, and ``handler`` is the SDK's own execution wrapper."""
    return (_ActiveFlag.on and WRAPPER_ON_CALLER[0] and _installed and "wrapper_on_caller" not in _skipped
            and sdk_compat.execution_wrapper(handler) is handler)


def call_wrapper(handler: Callable[..., Any], event: Any, context: Any, bounds: Any) -> Any:
    """Call the SDK's wrapper on this thread, in a fresh context; the worker's future waits with ``bounds``.

    ``bounds.wait(future)`` returns once the future is done, or raises a ``BaseException`` after
    setting ``bounds.abandoned`` (then the wrapper's executor waits for none of its jobs).
    """
    _CALLER.bounds = bounds
    try:
        return fresh_context().run(handler, event, context)
    finally:
        _CALLER.bounds = None


#: the bounds ``call_wrapper`` hands to the executor the wrapper creates on this thread
_CALLER = threading.local()


class _BoundedFuture(Future[Any]):
    """The worker's future: ``result()`` waits through the engine's bounds (``call_wrapper``)."""

    def __init__(self, bounds: Any) -> None:
        super().__init__()
        self._cd_bounds = bounds

    def result(self, timeout: float | None = None) -> Any:
        if timeout is None:
            self._cd_bounds.wait(self)
        return super().result(timeout)


def status() -> dict[str, str]:
    """Which patches are installed, and why any were skipped."""
    out = {}
    for name in PATCHES:
        out[name] = _skipped.get(name, "installed" if _installed else "not installed")
    return out


@contextlib.contextmanager
def active(enabled: bool, serial_branches: bool | None = None) -> Iterator[None]:
    """Turn the patches on (or off) while the block runs.

    ``serial_branches`` defaults to ``enabled``; pass False to keep the other speed-ups but
    run map/parallel branches on threads of their own (real interleavings, timing-dependent
    order). The SDK runs handlers on its own threads, so the switch is process-wide while
    held; the engine runs one invocation at a time, which makes that safe.
    """
    serial = enabled if serial_branches is None else serial_branches
    if (enabled or serial) and not _installed:
        install()
    previous = (_ActiveFlag.on, _ActiveFlag.serial)
    _set(enabled)
    _ActiveFlag.serial = serial
    try:
        yield
    finally:
        _set(previous[0])
        _ActiveFlag.serial = previous[1]


def _set(enabled: bool) -> None:
    _ActiveFlag.on = enabled
    speedups_checkpoint._ACTIVE[0] = enabled
    if _state_module is not None and _original_blocked_wait is not None and "flush_sync_batches" not in _skipped:
        _state_module._BLOCKED_CALLER_WAIT_SECONDS = 0.0 if enabled else _original_blocked_wait


_IDLE = IDLE_THREADS
#: every SDK executor job that can run user code gets a thread of its own that ends after it
#: (fresh ``threading.local`` state, as the SDK's fresh executor threads give); see ``threads``
_FRESH_SDK_THREADS = True
#: ``ExecutionState.checkpoint_batches_forever``: the checkpoint batcher runs only SDK and engine
#: code, so it may take a reused thread (None when not found: then it gets a fresh one too)
_SDK_ONLY_JOB: Any = None


class _ReusingExecutor:
    """Stands in for ``ThreadPoolExecutor`` inside the SDK while the speed-ups are active.

    Same contract for the SDK's use of it: ``submit`` runs the call on a (reused) thread and
    returns a ``Future``; ``shutdown(wait=True)`` waits for every call submitted here;
    ``cancel_futures=True`` cancels those not started. Concurrency limits are enforced by the
    SDK's own admission logic, not by the executor, so no limit is lost.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if not _ActiveFlag.on:
            return _ORIGINAL_EXECUTOR(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        # the wrapper's executor under ``call_wrapper`` (created on that thread): its first job is the worker
        self._bounds = getattr(_CALLER, "bounds", None)
        if self._bounds is not None:
            _CALLER.bounds = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future() if self._bounds is None or self._futures else _BoundedFuture(self._bounds)
            self._futures.append(future)
        sdk_only = _SDK_ONLY_JOB is not None and getattr(fn, "__func__", None) is _SDK_ONLY_JOB
        _IDLE.run(future, fn, args, kwargs, fresh_thread=_FRESH_SDK_THREADS and not sdk_only)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            futures = list(self._futures)
        if cancel_futures:
            for future in futures:
                future.cancel()
        if wait and not (self._bounds is not None and self._bounds.abandoned):
            futures_wait(futures)

    def __enter__(self) -> _ReusingExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)


class _InlineExecutor:
    """Runs each submitted call at once on the submitting thread (``serial_branches``), in a fresh context.

    The ``Future`` contract the SDK relies on is kept: ``submit`` returns a future that holds
    the call's result or its exception (``BaseException`` included, as a thread pool's worker
    would store it; nothing escapes into the submitter), ``shutdown`` is idempotent and
    refuses later submissions. Nothing is ever pending, so ``cancel_futures`` has nothing to
    cancel.
    """

    def __init__(self) -> None:
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fresh_context().run(fn, *args, **kwargs))
        except BaseException as exc:  # a pool worker stores BaseExceptions in the future too
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)


class _BranchPool:
    """Stands in for ``ThreadPoolExecutor`` in the SDK's concurrency module (map/parallel).

    Serial branches on: an ``_InlineExecutor``. Otherwise the speed-ups' reusing executor, or
    the SDK's original ``ThreadPoolExecutor`` when neither switch is on.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if _ActiveFlag.serial:
            return _InlineExecutor()
        return _ReusingExecutor(*args, **kwargs)


_ORIGINAL_EXECUTOR: Any = ThreadPoolExecutor


def _install_thread_reuse() -> None:
    try:
        from aws_durable_execution_sdk_python import execution
        from aws_durable_execution_sdk_python.concurrency import executor as concurrency
    except ImportError:  # pragma: no cover - SDK layout changed
        _skipped["reuse_threads"] = "aws_durable_execution_sdk_python.execution or .concurrency.executor not found"
        return
    modules = (execution, concurrency)
    if not all(getattr(m, "ThreadPoolExecutor", None) is ThreadPoolExecutor for m in modules):
        reason = "the SDK no longer uses concurrent.futures.ThreadPoolExecutor by that name"
        _skipped["reuse_threads"] = _skipped["serial_branches"] = reason
        return
    worker = getattr(getattr(concurrency, "ConcurrentExecutor", None), "_branch_worker", None)
    if worker is None:
        _skipped["serial_branches"] = "ConcurrentExecutor._branch_worker not found (the branch pool changed)"
    setattr(execution, "ThreadPoolExecutor", _ReusingExecutor)  # noqa: B010 - patching a module attribute
    setattr(concurrency, "ThreadPoolExecutor", _ReusingExecutor if worker is None else _BranchPool)  # noqa: B010


class _ActiveFlag:
    """Process-wide switches read by the patched SDK methods."""

    on = False
    serial = False
