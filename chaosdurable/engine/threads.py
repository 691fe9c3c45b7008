"""Daemon threads that run one job at a time: reused ones, or fresh ones that end after their job.

Starting a thread costs 0.1-0.2 ms here (more on a loaded machine), and an in-process run
needs several per invocation: the invocation's own thread and the SDK's executor threads.
``IDLE_THREADS.run`` hands a job to an idle thread, or starts one when none is idle; a job
that never ends (a hung handler, a zombie invocation) simply keeps its thread, and the
next job gets another.

What a job starts with (the sandbox state model, README "Sandbox state model"):

- **context variables**: always those of a thread started at that moment
  (``fresh_context()``: an empty ``contextvars.Context`` on Python < 3.14 or without
  ``sys.flags.thread_inherit_context``; a copy of the submitter's context with it), never
  what an earlier job set;
- **``threading.local`` values**: with ``fresh_thread=True`` the job gets a thread no job ran on
  before, which ends after it, so no ``threading.local`` value can outlive the job (CPython keeps
  a thread's locals with the thread and drops them when it ends; there is no documented way to
  clear them on a live thread). With ``fresh_thread=False`` (a reused thread) the job may see
  locals an earlier reused job left: use it only for jobs that run no user code (the invoker's
  own thread, which only calls the SDK's wrapper, as Lambda's runtime thread does);
- the profile and trace hooks that ``threading.setprofile``/``settrace`` hold at that moment, as
  a fresh thread would (the tripwire and coverage tools rely on that).

Its result or exception (``BaseException`` included) lands in its ``Future``; nothing of it
is kept once it ends.
"""

from __future__ import annotations

import contextvars
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any], contextvars.Context]


def fresh_context() -> contextvars.Context:
    """The context a thread started now (by the calling thread) would run its target in.

    Python < 3.14, and 3.14+ unless ``sys.flags.thread_inherit_context`` is set: an empty
    context. With that flag: a copy of the caller's context, as ``Thread.start`` takes it.
    """
    if getattr(sys.flags, "thread_inherit_context", 0):
        return contextvars.copy_context()
    return contextvars.Context()


class _PoolThread(threading.Thread):
    """A daemon thread that runs one job at a time; reusable ones then offer themselves for the next."""

    def __init__(self, pool: IdleThreads, reusable: bool) -> None:
        super().__init__(name="chaosdurable-worker", daemon=True)
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._pool = pool
        self._reusable = reusable
        self.start()

    def run(self) -> None:
        # No hook until a job brings its own: a thread started while a session's profile or trace hook
        # is set gets it at start, and would otherwise keep that session (its tripwire, its runner)
        # alive while it waits, as a spare does.
        sys.setprofile(None)
        sys.settrace(None)
        while True:
            job = self.jobs.get()
            if job is None:
                return
            future, fn, args, kwargs, context = job
            sys.setprofile(threading.getprofile())
            sys.settrace(threading.gettrace())
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(context.run(fn, *args, **kwargs))
                except BaseException as exc:  # like a ThreadPoolExecutor worker: the future holds it
                    future.set_exception(exc)
            del future, fn, args, kwargs, job, context
            sys.setprofile(None)
            sys.settrace(None)
            if not self._reusable or not self._pool.offer(self):
                return


class IdleThreads:
    """Idle worker threads, at most ``limit`` kept; a thread beyond that simply ends.

    ``fresh_thread=True`` jobs take a *spare*: a thread started ahead (by a helper thread, off the
    caller's path: starting one blocks the starter until it runs) on which no job ever ran, so it is
    as fresh as one started now; ``spares`` of them are kept ready.
    """

    def __init__(self, limit: int = 32, spares: int = 2) -> None:
        self._idle: list[_PoolThread] = []
        self._lock = threading.Lock()
        self._limit = limit
        self._spare_target = spares
        self._spares: list[_PoolThread] = []
        self._refill: queue.SimpleQueue[None] | None = None

    def _take_spare(self) -> _PoolThread | None:
        with self._lock:
            spare = self._spares.pop() if self._spares else None
            if self._spare_target <= 0:
                return spare
            if self._refill is None:
                self._refill = queue.SimpleQueue()
                threading.Thread(target=self._refiller, args=(self._refill,), name="chaosdurable-spare-starter",
                                 daemon=True).start()
            refill = self._refill
        refill.put(None)
        return spare

    def _refiller(self, requests: queue.SimpleQueue[None]) -> None:
        sys.setprofile(None)  # it runs no job: no session's hook (nor what it refers to) is kept here
        sys.settrace(None)
        while True:
            requests.get()
            with self._lock:
                if requests is not self._refill:  # forgotten after a fork
                    return
                wanted = len(self._spares) < self._spare_target
            if wanted:
                thread = _PoolThread(self, reusable=False)
                with self._lock:
                    self._spares.append(thread)

    def run(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None, *, fresh_thread: bool = False) -> threading.Thread:
        """Run ``fn(*args, **kwargs)`` in ``fresh_context()`` on a thread; returns that thread.

        ``fresh_thread=False``: an idle thread (or a new one), offered back afterwards.
        ``fresh_thread=True``: a new thread that ends after this job (fresh ``threading.local``
        state, for jobs that run user code).
        """
        context = fresh_context()
        thread = None
        if not fresh_thread:
            with self._lock:
                thread = self._idle.pop() if self._idle else None
        elif self._spare_target > 0:
            thread = self._take_spare()
        if thread is None:
            thread = _PoolThread(self, reusable=not fresh_thread)
        thread.jobs.put((future, fn, args, kwargs or {}, context))
        return thread

    def offer(self, thread: _PoolThread) -> bool:
        """Take ``thread`` back as idle; False (the thread should end) when enough are idle."""
        with self._lock:
            if len(self._idle) >= self._limit:
                return False
            self._idle.append(thread)
            return True


#: The process-wide pool used by the invoker and the SDK speed-ups.
    def forget_after_fork(self) -> None:
        """In a forked child: the idle threads listed belong to the parent (a fork copies only the
        calling thread), so a job handed to one would never run. Start with none."""
        self._idle = []
        self._spares = []
        self._refill = None
        self._lock = threading.Lock()


IDLE_THREADS = IdleThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=IDLE_THREADS.forget_after_fork)
