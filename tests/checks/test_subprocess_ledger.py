"""In subprocess mode, effects and body runs inside the child reach the parent's ledger."""

from __future__ import annotations

from chaosdurable import CrashAfterEffect, FaultSchedule, check
from tests.checks import handlers


def test_subprocess_mode_records_effects_and_catches_the_double_charge() -> None:
    v = check(handlers.charges_at_least_once, None, FaultSchedule((CrashAfterEffect(effect="charge"),)),
              mode="subprocess")
    assert v.fired
    assert [e.name for e in v.reference.effects] == ["charge"]
    assert [e.where.invocation for e in v.chaotic.effects if e.name == "charge"] == [1, 2]
    assert {b.where.op_name for b in v.chaotic.body_runs} >= {"charge"}
    (violation,) = v.by_checker("idempotency")
    assert "happened 2 times under faults but 1 time without them" in violation.message
    assert v.by_checker("exactly_once") == [], v.report()
