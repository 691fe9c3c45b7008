"""Forked children (``engine.forkserver``) behave as freshly started interpreters, and reproducibly.

(``test_modes`` covers real crashes and hangs of children, which are forked by default.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import CrashAtCheckpoint, DurableRunner, FaultSchedule, check
from chaosdurable.engine import forkserver

COUNTER: list[int] = []


@durable_execution
def hashes(event: Any, context: DurableContext) -> list[Any]:
    """Each step runs in another invocation: its hash of a string shows that invocation's hash seed."""
    COUNTER.append(1)  # module state: a fresh process starts with an empty list every time
    first = context.step(lambda _: [hash("chaos"), len(COUNTER), os.environ["PYTHONHASHSEED"]], name="first")
    context.wait(Duration.from_seconds(60), name="pause")
    second = context.step(lambda _: [hash("chaos"), len(COUNTER), os.environ["PYTHONHASHSEED"]], name="second")
    return [first, second]


def _run(seed: int) -> tuple[list[Any], str]:
    result = DurableRunner(hashes, mode="subprocess", seed=seed).run(None)
    assert result.status == "SUCCEEDED", result.error
    return result.result, result.history_json()


def test_forked_children_have_their_own_hash_seed_and_fresh_module_state() -> None:
    assert forkserver.enabled()
    (first, second), _ = _run(seed=3)
    assert first[1] == second[1] == 1  # no module state carried over from the zygote or the last child
    assert first[2] != second[2] and first[0] != second[0]  # another PYTHONHASHSEED per invocation


def test_forked_and_spawned_children_give_the_same_values_and_history(monkeypatch: pytest.MonkeyPatch) -> None:
    forked = _run(seed=5)
    assert _run(seed=5) == forked  # same seed: byte-identical history, same hash seeds
    monkeypatch.setenv("CHAOSDURABLE_FORKSERVER", "0")
    assert not forkserver.enabled()
    assert _run(seed=5) == forked  # a plain `python` per invocation gives exactly the same


def test_a_crash_fault_is_checked_the_same_forked_or_spawned(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = FaultSchedule((CrashAtCheckpoint(op="first", action="SUCCEED"),))
    forked = check(hashes, None, schedule, mode="subprocess", seed=1)
    monkeypatch.setenv("CHAOSDURABLE_FORKSERVER", "0")
    spawned = check(hashes, None, schedule, mode="subprocess", seed=1)
    assert forked.fired and forked.chaotic.history == spawned.chaotic.history
