"""Sandbox state model, part 2: every emulated sandbox has its own temporary directory.

Kept across that sandbox's warm invocations, new (and empty) when a ``ColdStart`` puts the
invocation on a new sandbox, in-process and in subprocess mode, and removed afterwards. A
handler that carries state from one invocation to the next in its temp dir fails under a
``ColdStart``; its twin that treats the temp dir as a cache passes.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import find

from chaosdurable import ColdStart, DurableRunner, FaultSchedule, check
from chaosdurable.engine import sandbox
from chaosdurable.engine.sandbox import Sandboxes
from chaosdurable.faults import Nemesis
from chaosdurable.strategies import fault_schedules
from strategies.schedules import OperationSpace
from tests.engine import sandbox_handlers

MODES = ("inprocess", "subprocess")


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every sandbox directory made while the test runs."""
    paths: list[str] = []
    original = Sandboxes.tmpdir

    def tmpdir(self: Sandboxes, function: str) -> str:
        path = original(self, function)
        if path not in paths:
            paths.append(path)
        return path

    monkeypatch.setattr(Sandboxes, "tmpdir", tmpdir)
    yield paths


def _run(mode: str, schedule: FaultSchedule | None = None) -> tuple[DurableRunner, list[Any]]:
    runner = DurableRunner(sandbox_handlers.tmpdir_seen, mode=mode)  # type: ignore[arg-type]
    if schedule is not None:
        runner.service.interceptor = Nemesis(schedule, runner.service)
    result = runner.run(None)
    assert result.status == "SUCCEEDED", result.error
    return runner, result.result


@pytest.mark.parametrize("mode", MODES)
def test_a_warm_sandbox_keeps_its_temp_dir_and_the_process_gets_its_own_back(mode: str, made: list[str]) -> None:
    before = (tempfile.tempdir, os.environ.get("TMPDIR"), tempfile.gettempdir())
    runner, (first, second, env) = _run(mode)
    assert first == second == env == made[0], "both invocations ran on the same (warm) sandbox"
    assert os.path.dirname(first) == before[2]
    assert os.path.basename(first).startswith(f"chaosdurable-sandbox-{os.getpid()}-handler-")
    assert (tempfile.tempdir, os.environ.get("TMPDIR"), tempfile.gettempdir()) == before
    assert os.path.isdir(first)  # kept while the runner can still invoke (warm)
    del runner
    gc.collect()
    if mode == "subprocess":  # the warm sandbox (process and directory) outlives the runner, in the pool
        from chaosdurable.engine.subprocess_invoker import WARM_POOL

        assert sandbox.HOUSEKEEPER.flush() and os.path.isdir(first)
        WARM_POOL.clear()  # the sandbox ends: its directory goes with it
    assert sandbox.HOUSEKEEPER.flush()  # removed on the housekeeping thread, off the invocation path
    assert not os.path.exists(first), "removed once the runner (in-process) or its sandbox is gone"


@pytest.mark.parametrize("mode", MODES)
def test_a_cold_start_lands_on_a_new_sandbox_with_an_empty_temp_dir(mode: str, made: list[str]) -> None:
    runner, (first, second, env) = _run(mode, FaultSchedule((ColdStart(invocation=2),)))
    assert first != second == env
    assert made == [first, second]
    assert not os.path.exists(first), "the old sandbox's directory is removed at the cold start"
    assert os.listdir(second) == []
    runner.service.invoker.sandboxes.close()
    assert not os.path.exists(second)


def test_each_runner_and_each_function_has_its_own_sandbox(made: list[str]) -> None:
    boxes = Sandboxes()
    a, b = boxes.tmpdir("handler"), boxes.tmpdir("other")
    assert a != b and boxes.tmpdir("handler") == a and Sandboxes().tmpdir("handler") not in (a, b)
    boxes.new_sandbox("handler")
    c = boxes.tmpdir("handler")
    assert c != a and not os.path.exists(a) and boxes.created == 3
    boxes.close()
    gc.collect()
    assert sandbox.HOUSEKEEPER.flush()  # a collected Sandboxes' directories are removed off the invocation path
    assert not any(os.path.exists(p) for p in made)


def test_directories_of_processes_that_died_are_swept(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = tmp_path / "chaosdurable-sandbox-999999999-handler-abc"  # no such pid
    alive = tmp_path / f"chaosdurable-sandbox-{os.getppid()}-handler-def"
    other = tmp_path / "chaosdurable-sandbox-notapid"
    for d in (dead, alive, other):
        d.mkdir()
    monkeypatch.setattr(sandbox, "_swept", False)
    monkeypatch.setattr(sandbox, "real_tempdir", lambda: str(tmp_path))
    boxes = Sandboxes()
    made = boxes.tmpdir("handler")
    assert not dead.exists() and alive.exists() and other.exists() and os.path.dirname(made) == str(tmp_path)
    boxes.close()


def test_entered_sandboxes_stack_and_restore_the_originals() -> None:
    before = (tempfile.tempdir, os.environ.get("TMPDIR"), tempfile.gettempdir())
    boxes = Sandboxes()
    outer, inner = boxes.tmpdir("a"), boxes.tmpdir("b")
    with sandbox.entered(outer):
        assert tempfile.gettempdir() == os.environ["TMPDIR"] == outer
        assert sandbox.real_tempdir() == before[2]
        with sandbox.entered(inner):
            assert tempfile.gettempdir() == inner
        assert tempfile.gettempdir() == outer
    assert (tempfile.tempdir, os.environ.get("TMPDIR"), tempfile.gettempdir()) == before
    boxes.close()


@pytest.mark.parametrize("mode", MODES)
def test_state_kept_in_the_temp_dir_breaks_on_a_new_sandbox(mode: str, made: list[str]) -> None:
    cold = FaultSchedule((ColdStart(invocation=2),))
    buggy = check(sandbox_handlers.price_from_tmp_cache, None, cold, mode=mode)  # type: ignore[arg-type]
    assert buggy.reference.status == "SUCCEEDED" and buggy.reference.result == 42
    assert not buggy.ok and buggy.chaotic.result == 0, buggy.report()
    twin = check(sandbox_handlers.price_with_tmp_cache_fallback, None, cold, mode=mode)  # type: ignore[arg-type]
    assert twin.ok, twin.report()
    assert twin.chaotic.result == 42
    del buggy, twin
    gc.collect()
    if mode == "subprocess":  # warm sandboxes (process and directory) outlive their runs in the pool
        from chaosdurable.engine.subprocess_invoker import WARM_POOL

        WARM_POOL.clear()
    assert sandbox.HOUSEKEEPER.flush()
    assert made and not [p for p in made if os.path.exists(p)], "no sandbox directory outlives its sandbox"


@pytest.mark.parametrize("mode", MODES)
def test_filesystem_serdes_on_the_temp_dir_breaks_on_a_new_sandbox(mode: str, tmp_path: Any) -> None:
    cold = FaultSchedule((ColdStart(invocation=2),))
    buggy = check(sandbox_handlers.order_on_tmp_serdes, {}, cold, mode=mode)  # type: ignore[arg-type]
    assert buggy.reference.status == "SUCCEEDED" and buggy.chaotic.status == "FAILED"
    assert "No such file or directory" in str(buggy.chaotic.error) and not buggy.ok
    on_a_shared_mount = check(sandbox_handlers.order_on_tmp_serdes, {"mount": str(tmp_path)}, cold,
                              mode=mode)  # type: ignore[arg-type]
    assert on_a_shared_mount.ok, on_a_shared_mount.report()


def test_the_buggy_handler_passes_without_the_fault() -> None:
    assert check(sandbox_handlers.price_from_tmp_cache, None, FaultSchedule()).ok


def test_a_new_sandbox_schedule_round_trips_through_json_and_reads_as_words() -> None:
    schedule = FaultSchedule((ColdStart(invocation=3),))
    assert FaultSchedule.from_json(schedule.to_json()) == schedule
    assert json.loads(schedule.to_json()) == {"faults": [{"invocation": 3, "kind": "cold_start"}]}
    words = schedule.describe()
    assert words == "1. run invocation 3 on a cold start (a new sandbox: module state reset, empty temp dir)"


def test_the_generic_strategies_draw_a_new_sandbox() -> None:
    space = OperationSpace.probe(sandbox_handlers.price_from_tmp_cache)
    assert space.invocations == 2
    first = find(fault_schedules(space=space), lambda s: any(isinstance(f, ColdStart) for f in s))
    assert first == FaultSchedule((ColdStart(invocation=1),)), "the execution may start on a new sandbox too"
    later = find(fault_schedules(space=space),
                 lambda s: any(isinstance(f, ColdStart) and f.invocation >= 2 for f in s))
    assert later == FaultSchedule((ColdStart(invocation=2),))


def _released() -> None:
    """After the caller dropped its ``Sandboxes``: collected, and the housekeeping done."""
    gc.collect()
    assert sandbox.HOUSEKEEPER.flush()


def _no_blanks() -> None:
    """Room for recycling: the blanks earlier tests left are removed (at most ``_MAX_BLANKS`` are kept)."""
    assert sandbox.HOUSEKEEPER.flush()
    with sandbox.HOUSEKEEPER._lock:
        blanks, sandbox.HOUSEKEEPER.blanks = sandbox.HOUSEKEEPER.blanks, []
    for _, _, path in blanks:
        shutil.rmtree(path, ignore_errors=True)


def test_a_collected_runners_pristine_directory_is_recycled_under_a_name_never_handed_out() -> None:
    _no_blanks()
    boxes = Sandboxes(recycle=True)
    old = boxes.tmpdir("recycled-fn")
    inode = os.stat(old).st_ino
    del boxes
    _released()
    assert not os.path.exists(old), "the old path is gone at once, as after a removal"
    spare = sandbox.HOUSEKEEPER.spares.get("recycled-fn")
    blanks = [path for _, safe, path in sandbox.HOUSEKEEPER.blanks if safe == "recycled-fn"]
    kept = [p for p in (spare, *blanks) if p is not None]
    assert inode in [os.stat(p).st_ino for p in kept], "the directory itself was kept for a later sandbox, renamed"
    assert all(os.path.isdir(p) and os.listdir(p) == [] and p != old for p in kept)
    assert all(os.path.basename(p).startswith(f"chaosdurable-sandbox-{os.getpid()}-recycled-fn-") for p in kept)
    again = Sandboxes(recycle=True)
    new = again.tmpdir("recycled-fn")
    assert new in kept and new != old and os.listdir(new) == [] and again.created == 1
    again.close()


def test_a_directory_that_was_written_to_is_removed_not_recycled() -> None:
    _no_blanks()
    boxes = Sandboxes(recycle=True)
    used, chmodded = boxes.tmpdir("written-fn"), boxes.tmpdir("chmodded-fn")
    with open(os.path.join(used, "left-behind"), "w") as f:
        f.write("state")
    os.chmod(chmodded, 0o755)
    del boxes
    _released()
    assert not os.path.exists(used) and not os.path.exists(chmodded)
    kept = [path for _, _, path in sandbox.HOUSEKEEPER.blanks] + list(sandbox.HOUSEKEEPER.spares.values())
    assert all(os.listdir(p) == [] for p in kept)
    assert not any(os.path.basename(p).startswith(f"chaosdurable-sandbox-{os.getpid()}-chmodded-fn-")
                   for _, _, p in sandbox.HOUSEKEEPER.blanks)


def test_recycling_off_removes_a_collected_runners_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_blanks()
    monkeypatch.setattr(sandbox, "RECYCLE", [False])
    boxes = Sandboxes(recycle=True)
    old = boxes.tmpdir("unrecycled-fn")
    del boxes
    _released()
    assert not os.path.exists(old)
    assert not [p for _, safe, p in sandbox.HOUSEKEEPER.blanks if safe == "unrecycled-fn"]
    assert "unrecycled-fn" not in sandbox.HOUSEKEEPER.spares or sandbox.HOUSEKEEPER.spares["unrecycled-fn"] != old


def test_a_finalizer_run_by_garbage_collection_inside_the_housekeepers_lock_does_not_deadlock() -> None:
    def collect_while_locked() -> None:
        boxes = Sandboxes(recycle=True)
        boxes.tmpdir("gc-in-lock")
        with sandbox.HOUSEKEEPER._lock:  # a collection triggered by an allocation in a locked block
            del boxes
            gc.collect()

    thread = threading.Thread(target=collect_while_locked, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the finalizer deadlocked on the housekeeper's lock"
    assert sandbox.HOUSEKEEPER.flush()


def test_recycled_directories_are_bounded_when_many_runners_are_collected_at_once() -> None:
    _no_blanks()
    many = [Sandboxes(recycle=True) for _ in range(3 * sandbox._MAX_BLANKS)]
    paths = [boxes.tmpdir("burst-fn") for boxes in many]
    del many
    _released()
    assert not any(os.path.exists(p) for p in paths)
    assert len(sandbox.HOUSEKEEPER.blanks) <= sandbox._MAX_BLANKS
    leftover = [p for p in os.listdir(os.path.dirname(paths[0]))
                if p.startswith(f"chaosdurable-sandbox-{os.getpid()}-burst-fn-")]
    assert len(leftover) <= sandbox._MAX_BLANKS + 1, "the blanks and one spare, the rest removed"
