"""Sandbox state model, part 1: what is fresh per invocation and what persists per sandbox.

- fresh per invocation: ``threading.local`` values and context variables the handler (or a
  map branch) sets, in fast mode, with ``threaded_branches=True`` and in faithful mode, across
  runners, within one runner and between the invocations of one execution;
- per sandbox: module globals persist across warm invocations (in-process: the process);
- ``ColdStart``: module globals start fresh.

The checks are shown to fail on the old behaviour (SDK jobs on reused threads) too.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from chaosdurable import ColdStart, DurableRunner, FaultSchedule
from chaosdurable.engine import speedups
from chaosdurable.engine.threads import IDLE_THREADS, IdleThreads, fresh_context
from chaosdurable.faults import Nemesis
from tests.engine import sandbox_handlers

MODES: dict[str, dict[str, Any]] = {"fast": {}, "threaded": {"threaded_branches": True}, "faithful": {"faithful": True}}


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    sandbox_handlers.OBSERVED.clear()
    yield
    sandbox_handlers.OBSERVED.clear()


def _runner(mode: str, schedule: FaultSchedule | None = None) -> DurableRunner:
    runner = DurableRunner(sandbox_handlers.probe, **MODES[mode])
    if schedule is not None:
        runner.service.interceptor = Nemesis(schedule, runner.service)
    return runner


def leaks(observed: list[dict[str, Any]], mode: str) -> list[str]:
    """Every observation of a thread-local or context value that must not be there."""
    found = []
    for seen in observed:
        for key in ("cv", "tl"):
            value = seen[key]
            if value is not None and not value.startswith(seen["mark"] + ":"):
                found.append(f"{seen['mark']} {seen['where']}: {key} = {value!r} from another invocation")
        if seen["where"] == "entry" and (seen["cv"], seen["tl"]) != (None, None):
            found.append(f"{seen['mark']} entry: starts with {seen['cv']!r}/{seen['tl']!r}")
        if not seen["where"].startswith("branch"):
            continue
        # The SDK's own pool may hand a later branch the thread (and context) a finished sibling
        # used (faithful mode); it never runs a branch in the coordinator's context or thread.
        # The engine's branches always start fresh, except that serial branches (fast mode) share
        # the coordinator thread's locals within the invocation.
        handler_value = f"{seen['mark']}:handler"
        if seen["cv"] == handler_value or (mode != "faithful" and seen["cv"] is not None):
            found.append(f"{seen['mark']} {seen['where']}: a branch sees context variable {seen['cv']!r}")
        if mode != "fast" and (seen["tl"] == handler_value or (mode != "faithful" and seen["tl"] is not None)):
            found.append(f"{seen['mark']} {seen['where']}: a branch thread sees thread-local {seen['tl']!r}")
    return found


def _entries(tag: str) -> list[dict[str, Any]]:
    return [s for s in sandbox_handlers.OBSERVED if s["tag"] == tag and s["where"] == "entry"]


@pytest.mark.parametrize("mode", MODES)
def test_nothing_thread_or_context_bound_reaches_another_execution_in_separate_runners(mode: str) -> None:
    assert _runner(mode).run({"tag": "A"}).result == "done"
    assert _runner(mode).run({"tag": "B"}).result == "done"
    assert len(_entries("A")) == len(_entries("B")) == 2  # two invocations each (the wait)
    assert leaks(sandbox_handlers.OBSERVED, mode) == []


@pytest.mark.parametrize("mode", MODES)
def test_nothing_thread_or_context_bound_reaches_another_execution_in_one_runner(mode: str) -> None:
    runner = _runner(mode)
    assert runner.run({"tag": "A"}).result == "done"
    assert runner.run({"tag": "B"}).result == "done"
    assert leaks(sandbox_handlers.OBSERVED, mode) == []
    # what the coordinator set is still its own after the map, as with the SDK's branch threads
    after = [s for s in sandbox_handlers.OBSERVED if s["where"] == "after map"]
    assert after and all(s["cv"] == f"{s['mark']}:handler" for s in after)


@pytest.mark.parametrize("mode", MODES)
def test_module_globals_persist_across_warm_invocations(mode: str) -> None:
    _runner(mode).run({"tag": "A"})
    _runner(mode).run({"tag": "B"})
    a1, a2 = _entries("A")
    b1, _ = _entries("B")
    assert a1["warm"][-1:] == ["A"] and a2["warm"][-2:] == ["A", "A"]  # invocation 1 of A is still there
    assert a2["module"] == a1["module"] == b1["module"]
    assert b1["warm"][-3:] == ["A", "A", "B"]  # another runner, the same (warm) process


@pytest.mark.parametrize("mode", MODES)
def test_cold_start_resets_module_globals(mode: str) -> None:
    runner = _runner(mode, FaultSchedule((ColdStart(invocation=2),)))
    assert runner.run({"tag": "C"}).result == "done"
    c1, c2 = _entries("C")
    assert c1["warm"][-1] == "C"
    assert c2["warm"] == ["C"], "after a cold start the module starts empty: only this entry"
    assert c2["module"] != c1["module"]
    assert leaks(sandbox_handlers.OBSERVED, mode) == []
    # and a warm runner afterwards sees the reloaded module's state, which persists again
    _runner(mode).run({"tag": "D"})
    d1, d2 = _entries("D")
    assert d1["warm"][:2] == ["C", "D"] and d2["warm"] == ["C", "D", "D"]


def test_the_checks_catch_sdk_jobs_on_reused_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old behaviour (every SDK job on a reused thread) leaks thread-locals between runners."""
    monkeypatch.setattr(speedups, "_FRESH_SDK_THREADS", False)
    for tag in "ABCD":
        _runner("threaded").run({"tag": tag})
    found = leaks(sandbox_handlers.OBSERVED, "threaded")
    assert found and any("from another invocation" in f or "starts with" in f for f in found)


def test_the_checks_catch_branches_in_the_coordinator_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serial branches run in the coordinator's context unless each gets a fresh one."""
    monkeypatch.setattr(speedups, "fresh_context", contextvars.copy_context)
    _runner("fast").run({"tag": "A"})
    assert any("a branch sees context variable" in f for f in leaks(sandbox_handlers.OBSERVED, "fast"))


# ------------------------------------------------------------------ the pool itself
_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("pool_probe", default="unset")
_LOCAL = threading.local()


def _set_and_read() -> tuple[str, str]:
    seen = (_VAR.get(), getattr(_LOCAL, "v", "unset"))
    _VAR.set("set by a job")
    _LOCAL.v = "set by a job"
    return seen


def _run(pool: IdleThreads, fresh_thread: bool) -> tuple[tuple[str, str], threading.Thread]:
    future: Future[tuple[str, str]] = Future()
    thread = pool.run(future, _set_and_read, fresh_thread=fresh_thread)
    return future.result(timeout=10), thread


def test_every_job_starts_in_a_fresh_context_and_fresh_threads_in_fresh_locals() -> None:
    pool = IdleThreads(limit=1)
    _VAR.set("set by the submitter")
    (seen, first), (again, second) = _run(pool, False), _run(pool, False)
    assert seen[0] == again[0] == "unset"  # context: fresh every job, even on a reused thread
    assert first is second and again[1] == "set by a job"  # a reused thread keeps its locals (documented)
    (fresh_seen, third) = _run(pool, True)
    assert fresh_seen == ("unset", "unset") and third is not second
    third.join(timeout=10)
    assert not third.is_alive(), "a fresh thread ends after its job"
    assert fresh_context().run(_VAR.get) == "unset"


def test_the_shared_pool_is_the_one_the_engine_uses() -> None:
    assert speedups._IDLE is IDLE_THREADS


def test_a_thread_started_ahead_keeps_no_hook_it_was_started_with() -> None:
    """A spare thread (and the helper that starts spares) started while a session's profile hook is
    set must not keep that hook, and what it refers to (a tripwire, a whole run), alive while idle."""
    import gc
    import time
    import weakref
    from concurrent.futures import Future

    from chaosdurable.engine.threads import IdleThreads

    class Hook:
        def __call__(self, *args: object) -> None:
            return None

    hook = Hook()
    gone = weakref.ref(hook)
    pool = IdleThreads(spares=1)
    threading.setprofile(hook)
    try:
        done: Future[int] = Future()
        pool.run(done, lambda: 1, fresh_thread=True)  # starts the helper, which starts a spare
        assert done.result(timeout=5) == 1
        deadline = time.monotonic() + 5
        while not pool._spares and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool._spares
    finally:
        threading.setprofile(None)
    del hook
    deadline = time.monotonic() + 5
    while gone() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert gone() is None
