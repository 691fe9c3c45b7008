"""Subprocess mode: the child's boto3 calls reach the parent's moto world and its ledger, and
the tripwire runs in the child. Every bug here must be caught and its correct twin must pass,
so a child that cannot reach the world, does not record a call, or does not trip, fails a test.
(Handlers: ``subprocess_world_handlers``, so the children import exactly them.)
"""

from __future__ import annotations

import inspect

from chaosdurable import CrashAtCheckpoint, FaultSchedule, check
from chaosdurable.checks.effects import NAME as EFFECTS_OUTSIDE_STEPS
from tests.engine import subprocess_world_handlers as h

CRASH_BEFORE_COUNT_CHECKPOINT = FaultSchedule((CrashAtCheckpoint(op="count", action="SUCCEED"),))
VISIT = {"page": "home", "visit": "v-1"}


def _line(marker: str) -> str:
    """``subprocess_world_handlers.py:N`` for the line carrying ``marker``."""
    lines = inspect.getsource(h).splitlines()
    return f"subprocess_world_handlers.py:{1 + next(i for i, text in enumerate(lines) if marker in text)}"


def test_the_fault_free_run_with_setup_succeeds_in_children() -> None:
    verdict = check(h.count_visit_twice, VISIT, setup=h.counters, mode="subprocess")
    assert verdict.reference.status == "SUCCEEDED", verdict.report()
    assert verdict.reference.result == "done"
    assert verdict.reference.world is not None
    assert any('"N": "1"' in item for item in verdict.reference.world["dynamodb:counters"]), verdict.reference.world


def test_a_counter_counted_twice_under_a_crash_is_caught_in_the_world() -> None:
    verdict = check(h.count_visit_twice, VISIT, CRASH_BEFORE_COUNT_CHECKPOINT, setup=h.counters, mode="subprocess")
    assert verdict.fired, "the crash at the step's checkpoint never happened"
    assert verdict.reference.status == "SUCCEEDED", verdict.report()
    assert verdict.by_checker("idempotency"), verdict.report()
    assert verdict.chaotic.world is not None
    assert any('"N": "2"' in item for item in verdict.chaotic.world["dynamodb:counters"]), verdict.chaotic.world


def test_the_conditional_put_twin_passes_and_its_refused_repeat_is_recorded() -> None:
    verdict = check(h.count_visit_once, VISIT, CRASH_BEFORE_COUNT_CHECKPOINT, setup=h.counters, mode="subprocess")
    assert verdict.ok, verdict.report()
    assert verdict.fired
    puts = [e for e in verdict.chaotic.effects if e.name == "aws:dynamodb.PutItem"]
    assert len(puts) == 2, puts  # the put, and its repeat after the crash, which DynamoDB refused


def test_a_boto3_write_outside_any_step_in_a_child_is_reported() -> None:
    verdict = check(h.bump_outside_step, VISIT, setup=h.counters, mode="subprocess")
    found = verdict.by_checker(EFFECTS_OUTSIDE_STEPS)
    assert found, verdict.report()
    assert any("aws:dynamodb.UpdateItem" in v.message for v in found)
    assert any((v.source or "").endswith(_line("OUTSIDE-STEP WRITE")) for v in found), [v.source for v in found]
    twin = check(h.bump_in_step, VISIT, setup=h.counters, mode="subprocess")
    assert twin.ok, twin.report()
    assert [e.name for e in twin.reference.effects if e.name.startswith("aws:")] == ["aws:dynamodb.UpdateItem"]


def test_random_in_control_flow_outside_a_step_trips_in_a_child() -> None:
    verdict = check(h.coin_outside_step, None, mode="subprocess")
    hits = verdict.by_checker("tripwire")
    assert hits, verdict.report()
    assert any("random.random()" in v.message for v in hits), [v.message for v in hits]
    assert any((v.source or "").endswith(_line("RANDOM OUTSIDE STEP")) for v in hits), [v.source for v in hits]
    twin = check(h.coin_in_step, None, mode="subprocess")
    assert twin.ok, twin.report()
