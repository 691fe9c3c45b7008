"""Running one invocation of a handler, in this process, with a real-time bound.

``InProcessInvoker.invoke`` calls the decorated handler on a daemon thread and waits at
most ``hang_timeout_s`` real seconds. With the speed-ups active (``engine.speedups``,
``wrapper_on_caller``) the SDK's wrapper runs on the calling thread instead, and the same bounds
apply to its wait for the worker thread the SDK runs the user handler on. A handler that does
not return in time is reported as an invocation timeout (``Sandbox.Timedout``) together with
the stack it hung in; its thread cannot be killed, so it lives on as a zombie whose checkpoints
the service rejects.
Nothing here ever waits without a bound.

Sandbox state: every invocation runs with ``tempfile.gettempdir()`` and ``$TMPDIR`` pointing at
its function's sandbox directory (``engine.sandbox``), kept across warm invocations and replaced
by ``new_sandbox`` (a ``ColdStart``). The invocation's own thread may be a reused one (it runs only
the SDK's wrapper, as Lambda's runtime thread does); the SDK's threads that run user code are
fresh (``engine.speedups``), and every job starts in a fresh context (``engine.threads``).
"""

from __future__ import annotations

import collections
import os
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, MutableMapping
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Any, Literal

from chaosdurable import sdk_compat
from chaosdurable.engine import speedups
from chaosdurable.engine.sandbox import Sandboxes, entered
from chaosdurable.engine.threads import IDLE_THREADS

OutcomeKind = Literal["returned", "raised", "crashed", "timed_out"]
#: real seconds a crashed or timed-out invocation's thread gets to reach its end before the service moves on
ZOMBIE_WAIT_S = 10.0


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended, as the service sees it."""

    kind: OutcomeKind
    output: MutableMapping[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class LambdaContextStub:
    """The parts of the Lambda context object a durable handler can read."""

    aws_request_id: str
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/chaosdurable"
    log_stream_name: str = "chaosdurable"
    tenant_id: str | None = None
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        """Virtual invocations never run out of time; the engine bounds real time itself."""
        return self.remaining_ms


_LIBRARY_DIRS = tuple({p for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))} | {os.path.dirname(os.path.dirname(__file__))})


def _is_library(filename: str) -> bool:
    return filename.startswith("<") or os.path.abspath(filename).startswith(_LIBRARY_DIRS) or (
        "site-packages" in filename)


_INLINE_EXECUTOR_FILE = os.path.join("chaosdurable", "engine", "speedups.py")

#: Added to a hang report when the hang is inside a map/parallel branch run serially.
SERIAL_BRANCH_HINT = (
    "note: map/parallel branches run one after another on the coordinator's thread (serial branches, "
    "the default). If one branch waits for another in-process (a shared threading.Event, Barrier or "
    "queue), it can never be released this way: pass DurableRunner(threaded_branches=True) to give "
    "each branch its own thread, as the SDK does."
)


def _stacks_of_new_threads(before: set[threading.Thread], exclude: int | None) -> str:
    """Where the hanging invocation's threads are: the innermost frames of user code on every
    thread (the SDK runs the handler on its own threads, possibly reused ones), plus any thread
    started since ``before``."""
    frames = sys._current_frames()
    stacks: dict[str, int] = {}
    serial_branch = False
    for t in threading.enumerate():
        if t.ident == exclude or t.ident not in frames or t is threading.current_thread():
            continue
        stack = traceback.extract_stack(frames[t.ident])
        serial_branch |= any(f.name == "submit" and f.filename.endswith(_INLINE_EXECUTOR_FILE) for f in stack)
        user = [f for f in stack if not _is_library(f.filename)]
        if not user and t in before:
            continue
        shown = "".join(traceback.format_list(user[-4:] if user else stack[-4:]))
        stacks[shown] = stacks.get(shown, 0) + 1
    # Zombies of earlier hung invocations sit in the same place: one entry per distinct stack.
    parts = [f"{'thread' if n == 1 else f'{n} threads'}:\n{shown}" for shown, n in stacks.items()]
    if serial_branch:
        parts.append(SERIAL_BRANCH_HINT)
    return "\n".join(parts) or "unknown"


def _wait_either(done: threading.Event, abort: threading.Event | None, timeout: float,
                 wake: threading.Event | None = None) -> bool:
    """Wait until ``done`` or ``abort`` is set; False only when ``timeout`` real seconds passed.

    With ``wake`` (an event set both when ``done`` is set and, through ``AbortSignal.wake_too``,
    when ``abort`` is) the wait is one blocking call; otherwise ``abort`` is polled every 5 ms.
    """
    if abort is None:
        return done.wait(timeout)
    if wake is not None:
        return wake.wait(timeout) or done.is_set() or abort.is_set()
    deadline = time.monotonic() + timeout
    while not done.is_set() and not abort.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        done.wait(min(remaining, 0.005))
    return True


def is_durable_handler(handler: Callable[..., Any]) -> bool:
    """True when ``handler`` is the wrapper that ``@durable_execution`` returns (in any supported SDK
    version: ``chaosdurable.sdk_compat`` knows each version's wrapper).

    Every run registers its handlers through here, so an unsupported SDK is refused here, by name:
    ``UnsupportedSdkError`` says which versions are supported.
    """
    sdk_compat.require_supported()
    return sdk_compat.is_durable_handler(handler)


class _Abandoned(BaseException):
    """Unwinds the SDK's wrapper on the calling thread when the engine stops waiting for its worker."""


class _CallerBounds:
    """The invoker's bounds for the wrapper's wait on its worker (``speedups.call_wrapper``).

    ``abandoned`` says why the wait stopped early: ``"timed_out"`` (the hang timeout), ``"crashed"``
    (killed, and its thread did not reach its end in time), ``"interrupted"`` (the waiting thread
    itself got an exception, a ``KeyboardInterrupt``: it propagates).
    """

    def __init__(self, hang_timeout_s: float, abort: threading.Event | None) -> None:
        self.hang_timeout_s = hang_timeout_s
        self.abort = abort
        self.abandoned: str | None = None

    def wait(self, future: Future[Any]) -> None:
        # one event, set when the worker is done and (``AbortSignal.wake_too``) when the invocation is killed
        wake = threading.Event()
        future.add_done_callback(lambda _f: wake.set())
        abort = self.abort
        if abort is not None and hasattr(abort, "wake_too"):
            abort.wake_too(wake)
        try:
            if not (wake.wait(self.hang_timeout_s) if abort is None or hasattr(abort, "wake_too")
                    else _wait_either(wake, abort, self.hang_timeout_s)):
                self.abandoned = "timed_out"
            elif not future.done() and not futures_wait((future,), min(self.hang_timeout_s, ZOMBIE_WAIT_S)).done:
                # killed: as on a thread of its own, its worker gets to reach its end first (bounded)
                self.abandoned = "crashed"
        except BaseException:
            self.abandoned = "interrupted"
            raise
        if self.abandoned is not None:
            # nobody reads the worker's outcome now (the wrapper unwinds, its executor waits for nothing)
            future.add_done_callback(_forget_outcome)
            raise _Abandoned(self.abandoned)


class InProcessInvoker:
    """Calls handlers on a daemon thread of this process (an idle one reused, or a new one)."""

    def __init__(self, hang_timeout_s: float) -> None:
        self.hang_timeout_s = hang_timeout_s
        #: one temporary directory per function, kept across warm invocations
        self.sandboxes = Sandboxes(recycle=True)

    def new_sandbox(self, function: str) -> None:
        """The next invocation of ``function`` lands on a new sandbox (an empty temporary directory)."""
        self.sandboxes.new_sandbox(function)

    def invoke(self, handler: Callable[..., Any], event: Any, context: Any,
               abort: threading.Event | None = None) -> Outcome:
        """Run ``handler(event, context)`` and report how it ended (bounded by ``hang_timeout_s``).

        ``abort`` set by the service (an injected crash or timeout) ends the wait at once; the
        thread lives on as a zombie that the service no longer listens to.
        """
        if speedups.runs_on_caller(handler):
            return self._invoke_on_caller(handler, event, context, abort)
        box: dict[str, Any] = {}
        done = threading.Event()
        wake: threading.Event | None = None
        if abort is not None and hasattr(abort, "wake_too"):
            wake = threading.Event()
            abort.wake_too(wake)

        def target() -> None:
            try:
                box["output"] = handler(event, context)
            except BaseException as exc:
                box["exc"] = exc
            finally:
                done.set()
                if wake is not None:
                    wake.set()

        before = set(threading.enumerate())
        with entered(self.sandboxes.tmpdir(getattr(context, "function_name", None) or "handler")):
            thread = IDLE_THREADS.run(Future(), target)
            finished = _wait_either(done, abort, self.hang_timeout_s, wake)
        if not finished:
            where = _stacks_of_new_threads(before, exclude=thread.ident)
            return Outcome(
                kind="timed_out",
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {self.hang_timeout_s:.2f} seconds",
                where=where,
            )
        if not done.is_set() or (abort is not None and abort.is_set()):
            # Crashed or timed out by the nemesis, whether or not its thread already stopped on its own
            # exception (which came first is thread timing; the outcome must not depend on it). The thread
            # cannot be killed: let it reach its end (its next checkpoint is refused, its next effect
            # stopped) before the service moves on, so what a zombie still does happens before the retry,
            # never interleaved with it by thread timing: one legal schedule, the same every time. Bounded,
            # for a body stuck in real time.
            if done.wait(min(self.hang_timeout_s, ZOMBIE_WAIT_S)):
                forget_tracebacks(box.get("exc"))
            return Outcome(kind="crashed", error_type="Runtime.ExitError", error_message="killed (injected)")
        if "exc" in box:
            return _raised(box["exc"])
        return Outcome(kind="returned", output=box.get("output"))

    def _invoke_on_caller(self, handler: Callable[..., Any], event: Any, context: Any,
                          abort: threading.Event | None) -> Outcome:
        """``invoke`` with the SDK's wrapper on this thread (``speedups.call_wrapper``): same outcomes."""
        bounds = _CallerBounds(self.hang_timeout_s, abort)
        before = set(threading.enumerate())
        output: Any = None
        error: BaseException | None = None
        with entered(self.sandboxes.tmpdir(getattr(context, "function_name", None) or "handler")):
            try:
                output = speedups.call_wrapper(handler, event, context, bounds)
            except _Abandoned:
                pass
            except BaseException as exc:
                if bounds.abandoned == "interrupted":
                    raise
                error = exc
        outcome = self._outcome_on_caller(bounds, abort, before, output, error)
        forget_tracebacks(error)  # put into words (``_raised``) or of no interest (killed): finished with
        return outcome

    def _outcome_on_caller(self, bounds: _CallerBounds, abort: threading.Event | None, before: set[threading.Thread],
                           output: Any, error: BaseException | None) -> Outcome:
        if bounds.abandoned == "timed_out":
            return Outcome(
                kind="timed_out",
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {self.hang_timeout_s:.2f} seconds",
                where=_stacks_of_new_threads(before, exclude=None),
            )
        if bounds.abandoned is not None or (abort is not None and abort.is_set()):
            return Outcome(kind="crashed", error_type="Runtime.ExitError", error_message="killed (injected)")
        if error is not None:
            return _raised(error)
        return Outcome(kind="returned", output=output)


def _raised(exc: BaseException) -> Outcome:
    """The outcome of a handler (wrapper) that raised ``exc``; ``where`` is its last three frames and the
    exception, in the classic traceback layout (no caret lines: 3.11 parses every line of a traceback for
    them, ~0.5 ms for the SDK's depth, and nothing reads this text but a person)."""
    # the last three entries first, so that only they are looked at (``extract_tb`` computes every frame's code
    # positions before keeping the last three: ~0.1 ms per raised invocation at the SDK's depth); same result
    tail: collections.deque[Any] = collections.deque(maxlen=3)
    tb = exc.__traceback__
    while tb is not None:
        tail.append(tb)
        tb = tb.tb_next
    frames = traceback.extract_tb(tail[0], limit=-3) if tail else traceback.StackSummary()
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' + (f"    {f.line.strip()}\n" if f.line else "")
             for f in frames]
    outcome = Outcome(
        kind="raised",
        error_type=type(exc).__name__,
        error_message=str(exc),
        where="".join(lines + traceback.format_exception_only(exc)),
    )
    forget_tracebacks(exc)  # put into words: finished with
    return outcome


def _forget_outcome(future: Future[Any]) -> None:
    """A done-callback: the tracebacks of a worker's exception that nobody will read (``forget_tracebacks``)."""
    if not future.cancelled():
        forget_tracebacks(future.exception())


def forget_tracebacks(exc: BaseException | None) -> None:
    """Drop the tracebacks of ``exc`` and of every exception it holds (cause, context, attributes, group members).

    For an exception the engine is finished with (an invocation's end, already put into words; a killed
    worker's, which nobody reads): its traceback holds the frames it passed through, which hold it, or
    objects that hold it (the SDK's completion event holds a checkpoint failure, the worker's future the
    worker's exception), so it and the invocation's whole state would wait for the cyclic garbage
    collector. Without the traceback they die by reference counting.
    """
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        item.__traceback__ = None
        todo += (item.__cause__, item.__context__, *getattr(item, "__dict__", {}).values())
        if isinstance(item, BaseExceptionGroup):
            todo += item.exceptions
