"""``check``'s judgement over runs made by any backend: two fault-free runs, one chaotic run,
then every checker (what ``check(..., backend=...)`` does once it takes a backend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosdurable.backends.base import Backend, Guards, Limits, Workload
from chaosdurable.checks import ALL_CHECKERS, Ledger, Violation
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.faults.schedule import FaultSchedule
from chaosdurable.history.record import RunRecord


@dataclass
class Judged:
    """The runs and what the checkers found."""

    reference: RunRecord
    chaotic: RunRecord
    nemesis: Nemesis
    violations: list[Violation]

    def describe(self) -> str:
        """Every violation, readable."""
        return "\n".join(v.describe() for v in self.violations) or "no violations"


def judge(backend: Backend, workload: Workload, payload: str, schedule: FaultSchedule, world: Any) -> Judged:
    """Run fault-free twice and under ``schedule`` once on ``backend``; run every checker."""
    limits, guards = Limits(), Guards(tripwire=False)
    reference, _ = backend.run(workload, payload, FaultSchedule(), limits, guards, world, "reference")
    witness, _ = backend.run(workload, payload, FaultSchedule(), limits, guards, world, "witness")
    reference.fresh = FreshValues.between(reference, witness)
    chaotic, nemesis = backend.run(workload, payload, schedule, limits, guards, world, "chaotic")
    fired = list(nemesis.fired)
    changes = any(f.changes_outcome or getattr(f.fault, "changes_outcome_now", False) for f in fired)
    ledger = Ledger(fired=tuple(f.describe() for f in fired), outcome_may_change=changes,
                    fault_kinds=tuple(f.fault.kind for f in fired), fresh=reference.fresh)
    found: list[Violation] = []
    for checker in ALL_CHECKERS.values():
        found += checker(reference, chaotic, ledger)
    return Judged(reference, chaotic, nemesis, found)
