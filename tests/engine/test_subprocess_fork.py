"""Forked children (``engine.forkserver``) behave as freshly started interpreters, and reproducibly;
each emulated sandbox is one process, kept across its warm invocations (Lambda's model).

(``test_modes`` covers real crashes and hangs of children, which are forked by default.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import ColdStart, CrashAtCheckpoint, DurableRunner, FaultSchedule, check
from chaosdurable.backends import Subprocess
from chaosdurable.engine import forkserver
from chaosdurable.engine.subprocess_invoker import WARM_POOL

COUNTER: list[int] = []


@durable_execution
def hashes(event: Any, context: DurableContext) -> list[Any]:
    """Each step runs in another invocation: its hash of a string shows that invocation's hash seed."""
    COUNTER.append(1)  # module state: a fresh process starts with an empty list every time
    first = context.step(lambda _: [hash("chaos"), len(COUNTER), os.environ["PYTHONHASHSEED"]], name="first")
    context.wait(Duration.from_seconds(60), name="pause")
    second = context.step(lambda _: [hash("chaos"), len(COUNTER), os.environ["PYTHONHASHSEED"]], name="second")
    return [first, second]


@pytest.fixture(autouse=True)
def _cold_pool() -> Any:
    """Each test starts with no warm sandbox left by another test (module state would carry over)."""
    WARM_POOL.clear()
    yield
    WARM_POOL.clear()


def _run(seed: int, per: Any = "invocation") -> tuple[list[Any], str]:
    result = DurableRunner(hashes, backend=Subprocess(process_per=per), seed=seed).run(None)
    assert result.status == "SUCCEEDED", result.error
    return result.result, result.history_json()


def test_forked_children_have_their_own_hash_seed_and_fresh_module_state() -> None:
    assert forkserver.enabled()
    (first, second), _ = _run(seed=3)
    assert first[1] == second[1] == 1  # no module state carried over from the zygote or the last child
    assert first[2] != second[2] and first[0] != second[0]  # another PYTHONHASHSEED per invocation


def test_a_sandbox_keeps_its_process_across_warm_invocations_and_the_next_execution() -> None:
    (first, second), _ = _run(seed=3, per="sandbox")
    assert (first[1], second[1]) == (1, 2)  # module state kept from the first invocation to the second
    assert first[2] == second[2] and first[0] == second[0]  # one process: one PYTHONHASHSEED
    (third, _fourth), _ = _run(seed=3, per="sandbox")  # a new runner: its execution lands on the warm sandbox
    assert third[1] == 3 and third[2] == first[2]


def test_a_cold_start_or_a_crash_starts_a_new_process_with_another_hash_seed() -> None:
    cold = check(hashes, None, FaultSchedule((ColdStart(invocation=2),)), backend=Subprocess(), seed=1)
    (first, second) = cold.chaotic.result
    assert second[1] == 1 and second[2] != first[2]  # fresh module state, another hash seed
    crash = check(hashes, None, FaultSchedule((CrashAtCheckpoint(op="first", action="SUCCEED"),)),
                  backend=Subprocess(), seed=1)
    (first, second) = crash.chaotic.result
    assert first[1] == 1 and second[1] == 2  # the crashed process' count died with it; then a warm invocation
    assert first[2] == second[2]
    cold_first = check(hashes, None, FaultSchedule((ColdStart(invocation=1),)), backend=Subprocess(), seed=1)
    assert cold_first.chaotic.result[0][1] == 1  # a new sandbox, not the warm one the earlier runs left


def test_a_duplicate_delivery_runs_on_a_sandbox_of_its_own() -> None:
    from chaosdurable import DuplicateInvocation

    verdict = check(hashes, None, FaultSchedule((DuplicateInvocation(invocation=1, concurrent=True),)),
                    backend=Subprocess(), seed=2)
    assert verdict.fired
    seeds = {step[2] for step in verdict.chaotic.result}
    WARM_POOL.clear()
    again = check(hashes, None, FaultSchedule((DuplicateInvocation(invocation=1, concurrent=True),)),
                  backend=Subprocess(), seed=2)
    assert again.fired and {step[2] for step in again.chaotic.result} == seeds  # the same, whichever copy won


def test_process_per_is_checked() -> None:
    with pytest.raises(ValueError, match="process_per"):
        Subprocess(process_per="execution")  # type: ignore[arg-type]


@pytest.mark.parametrize("per", ["invocation", "sandbox"])
def test_forked_and_spawned_children_give_the_same_values_and_history(monkeypatch: pytest.MonkeyPatch,
                                                                      per: Any) -> None:
    forked = _run(seed=5, per=per)
    WARM_POOL.clear()
    assert _run(seed=5, per=per) == forked  # same seed: byte-identical history, same hash seeds
    WARM_POOL.clear()
    monkeypatch.setenv("CHAOSDURABLE_FORKSERVER", "0")
    assert not forkserver.enabled()
    assert _run(seed=5, per=per) == forked  # a plain `python` per process gives exactly the same


def test_a_crash_fault_is_checked_the_same_forked_or_spawned(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = FaultSchedule((CrashAtCheckpoint(op="first", action="SUCCEED"),))
    forked = check(hashes, None, schedule, mode="subprocess", seed=1)
    WARM_POOL.clear()
    monkeypatch.setenv("CHAOSDURABLE_FORKSERVER", "0")
    spawned = check(hashes, None, schedule, mode="subprocess", seed=1)
    assert forked.fired and forked.chaotic.history == spawned.chaotic.history


TMP_STATE: dict[str, str] = {}


@durable_execution
def temp_state(event: Any, context: DurableContext) -> list[Any]:
    """Reports its temp dir, whether a marker file from an earlier invocation or execution is there, and
    the directory its module computed at import time."""
    import tempfile

    TMP_STATE.setdefault("at_import", tempfile.gettempdir())
    here = tempfile.gettempdir()
    marker = os.path.join(here, "marker")
    seen = os.path.exists(marker)
    with open(marker, "w") as out:
        out.write("x")
    return [here, seen, TMP_STATE["at_import"] == here]


def test_a_warm_sandbox_keeps_its_temp_dir_for_the_next_execution_and_a_cold_start_empties_it() -> None:
    first = DurableRunner(temp_state, backend=Subprocess(), seed=4).run(None).result
    second = DurableRunner(temp_state, backend=Subprocess(), seed=4).run(None).result
    assert first[1] is False and second[1] is True  # the next execution found the marker: a warm /tmp
    assert second[0] == first[0] and second[2] is True  # the same directory, so an import-time path still holds
    cold = check(temp_state, None, FaultSchedule((ColdStart(invocation=1),)), backend=Subprocess(), seed=4)
    assert cold.chaotic.result[1] is False  # a new sandbox: an empty temp dir


def test_a_warm_state_bug_of_the_zoo_is_caught_in_subprocess_mode_too() -> None:
    """A module-level cache that a cold start empties (``renewal-module-state-cold-start``): found in
    subprocess mode now that a sandbox's warm invocations share its process."""
    from tests.zoo import test_zoo

    case = next(c for c in test_zoo.BUGS if c.id == "renewal-module-state-cold-start")
    verdict = check(case.handler, case.input, FaultSchedule(case.faults), backend=Subprocess(), setup=case.setup)
    assert verdict.by_checker(case.catcher), verdict.report()


def test_a_runner_collected_while_the_pool_is_busy_hands_its_sandboxes_over_without_blocking() -> None:
    """A garbage collection can finalize a finished runner while this thread is inside the pool (it did,
    in CI: a deadlock). Its finalizer only queues its sandboxes; the pool takes them in at its next use."""
    from chaosdurable.engine.sandbox import Sandboxes
    from chaosdurable.engine.subprocess_invoker import _retire, _Sandbox

    class Idle:
        stdin = None

        def poll(self) -> int | None:
            return None

    boxes = Sandboxes()
    path = boxes.tmpdir("handler")
    sandbox = _Sandbox(Idle(), None, ("key",))
    with WARM_POOL._lock:  # as if the collection ran inside take()
        _retire({"handler": sandbox}, boxes)
    assert WARM_POOL.take(("key",)) is sandbox and sandbox.tmpdir == path  # taken in, with its directory
    boxes.adopt("handler", path)
    boxes.close()
