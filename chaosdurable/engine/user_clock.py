"""Virtual time for the handler's own clock reads (``virtual_clock=True``, issue 8 §5).

Without it, virtual time moves only the service: ``time.time()`` or ``datetime.now()`` in
handler code and step bodies read the real clock, so a replay "a day later" reads the same
moment as the first run (milliseconds later), and two fault-free runs mint timestamps that
differ by milliseconds.

Contract:
- While an invocation of a service that ``enable`` was called for runs, the wall clock of the
  whole process is the engine's virtual clock, frozen at the invocation's virtual start:
  ``time.time``, ``time.time_ns``, ``time.clock_gettime(CLOCK_REALTIME)``, ``time.gmtime``,
  ``time.localtime``, ``time.strftime``, ``datetime.datetime.now``/``utcnow``/``today`` and
  ``datetime.date.today`` return that instant, on every thread. Handler code takes no virtual
  time (as the service's clock already assumed), so a handler that busy-waits for the clock to
  pass a moment never gets there: it is reported as a hang, and the report says why.
- ``time.monotonic`` and ``time.perf_counter`` are never touched: every bounded wait of the engine
  (``threading`` timeouts, the invoker's deadlines), of the SDK (its queues) and of Hypothesis
  (deadlines) keeps running on real time, so a frozen wall clock cannot hang them.
- The SDK in the same process sees the same frozen clock, and so does the service while it
  answers the invocation's checkpoints (``SdkFrame`` then maps virtual now onto virtual now). A
  ``map``/``parallel`` branch suspended until a later moment is therefore never resumed
  in-process (its resume time never comes), and once every branch is suspended the invocation
  ends PENDING: no hang and no busy loop. The invocation's initial state is mapped before the
  freeze starts (on real time); when its pending timers look already due to the frozen clock,
  the SDK asks for a refresh and the service re-sends them with a fresh mapping
  (``TimerPromises``), once.
- The patching is done by ``time-machine`` (C-level, so ``from time import time`` taken earlier
  is covered too), started and stopped around each invocation; overlapping invocations (a
  concurrent duplicate copy) share one freeze. One process has one wall clock: two services
  invoking in overlapping threads at different virtual times see the later one's.
- In subprocess mode the child freezes its own clock the same way, at the same instant (the
  invoker sends it as ``virtual_now_ms`` in the invocation's first message), and this process is
  frozen too while it serves the child, so the service maps virtual onto virtual as in-process.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from chaosdurable.engine.invoker import Outcome

#: Appended to the hang report of an invocation that did not return while the clock was frozen.
FROZEN_CLOCK_HINT = (
    "note: virtual_clock=True: time.time(), datetime.now() and the other wall-clock reads stand still "
    "during an invocation, at its virtual start (code takes no virtual time). A loop that waits until the "
    "clock passes a moment (while time.time() < deadline: ...) never ends this way: wait with "
    "context.wait(...) or a step retry instead, which move virtual time."
)

_ENABLED: weakref.WeakSet[Any] = weakref.WeakSet()


def enable(service: Any) -> None:
    """Freeze the wall clock at virtual now during every invocation ``service`` runs from now on."""
    _ENABLED.add(service)


def enabled(service: Any) -> bool:
    """True when ``enable(service)`` was called."""
    return service in _ENABLED


class _Freeze:
    """One process-wide time-machine travel, shared by overlapping invocations (reference-counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._travel: Any = None
        self._traveller: Any = None

    def enter(self, now_ms: int) -> None:
        import time_machine

        with self._lock:
            if self._depth == 0:
                self._travel = time_machine.travel(now_ms / 1000, tick=False)
                self._traveller = self._travel.start()
            else:
                self._traveller.move_to(now_ms / 1000, tick=False)
            self._depth += 1

    def exit(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._travel.stop()
                self._travel = self._traveller = None


    def move(self, now_ms: int) -> None:
        """Move a running freeze to ``now_ms`` (nothing when no invocation is frozen)."""
        with self._lock:
            if self._depth and self._traveller is not None:
                self._traveller.move_to(now_ms / 1000, tick=False)


_FREEZE = _Freeze()


def moved(service: Any) -> bool:
    """The service's clock moved during an invocation (the ``uninterrupted`` oracle completed a wait at once):
    move the frozen wall clock with it, in this process and (subprocess mode) in the child, which moves its own
    at the answer to the checkpoint that completed the wait (``SubprocessInvoker.moved_now_ms``)."""
    if service not in _ENABLED:
        return True
    if hasattr(service.invoker, "virtual_now_ms"):
        service.invoker.moved_now_ms = service.clock.now_ms
    _FREEZE.move(service.clock.now_ms)
    return True


def move_frozen(now_ms: int) -> None:
    """Move this process's frozen wall clock to ``now_ms`` (nothing when it is not frozen)."""
    _FREEZE.move(now_ms)


@contextlib.contextmanager
def frozen_at(now_ms: int) -> Iterator[None]:
    """Within the block, the process's wall clock reads ``now_ms`` (epoch ms) and stands still."""
    _FREEZE.enter(now_ms)
    try:
        yield
    finally:
        _FREEZE.exit()


def replay_shift_ms(service: Any) -> int:
    """The shift of ``service``'s replays (0 unless set)."""
    return int(getattr(service, "replay_shift_ms", 0) or 0)


def run(service: Any, call: Callable[[], Outcome], invocation: int = 1) -> Outcome:
    """Run one invocation ``call()`` of ``service``: with the clock frozen at virtual now when enabled
    (plus ``replay_shift_ms`` when ``invocation`` > 1).

    A timed-out invocation's report gets ``FROZEN_CLOCK_HINT``: a frozen clock is a likely reason.
    """
    if service not in _ENABLED:
        return call()
    invoker = service.invoker
    in_children = hasattr(invoker, "virtual_now_ms")  # subprocess mode: the child freezes its own clock
    now_ms = service.clock.now_ms + (replay_shift_ms(service) if invocation > 1 else 0)
    with frozen_at(now_ms):
        if in_children:
            invoker.virtual_now_ms, invoker.moved_now_ms = now_ms, None
        try:
            outcome = call()
        finally:
            if in_children:
                invoker.virtual_now_ms = invoker.moved_now_ms = None
    if outcome.kind == "timed_out":
        return replace(outcome, where=f"{outcome.where or 'unknown'}\n{FROZEN_CLOCK_HINT}")
    return outcome
