"""Long-lived daemon threads that run one job at a time, reused instead of started anew.

Starting a thread costs 0.1-0.5 ms here (more on a loaded machine), and an in-process run
needs several per invocation: the invocation's own thread and the SDK's executor threads.
``IDLE_THREADS.run`` hands a job to an idle thread, or starts one when none is idle; a job
that never ends (a hung handler, a zombie invocation) simply keeps its thread, and the
next job gets another.

Contract of a job run this way: it starts with the profile and trace hooks that
``threading.setprofile``/``settrace`` hold at that moment, as a fresh thread would (the
tripwire and coverage tools rely on that); its result or exception (``BaseException``
included) lands in its ``Future``; nothing of it is kept once it ends.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _PoolThread(threading.Thread):
    """A daemon thread that runs one job at a time and then offers itself for the next."""

    def __init__(self, pool: IdleThreads) -> None:
        super().__init__(name="chaosdurable-worker", daemon=True)
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._pool = pool
        self.start()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            sys.setprofile(threading.getprofile())
            sys.settrace(threading.gettrace())
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # like a ThreadPoolExecutor worker: the future holds it
                    future.set_exception(exc)
            del future, fn, args, kwargs, job
            sys.setprofile(None)
            sys.settrace(None)
            if not self._pool.offer(self):
                return


class IdleThreads:
    """Idle worker threads, at most ``limit`` kept; a thread beyond that simply ends."""

    def __init__(self, limit: int = 32) -> None:
        self._idle: list[_PoolThread] = []
        self._lock = threading.Lock()
        self._limit = limit

    def run(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None) -> threading.Thread:
        """Run ``fn(*args, **kwargs)`` on an idle thread (or a new one); returns that thread."""
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        if thread is None:
            thread = _PoolThread(self)
        thread.jobs.put((future, fn, args, kwargs or {}))
        return thread

    def offer(self, thread: _PoolThread) -> bool:
        """Take ``thread`` back as idle; False (the thread should end) when enough are idle."""
        with self._lock:
            if len(self._idle) >= self._limit:
                return False
            self._idle.append(thread)
            return True


#: The process-wide pool used by the invoker and the SDK speed-ups.
IDLE_THREADS = IdleThreads()
