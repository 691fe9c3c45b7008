"""The determinism tripwire: clock, randomness, uuid and environment reads outside steps,
reported with their source line even when no fault fired (Temporal's sandbox does this for
its workflows)."""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import RunRecord

NAME = "tripwire"


def tripwire(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """One violation per (call, source line) seen in either run."""
    require_same_handler(reference, chaotic)
    seen: set[tuple[str, str | None]] = set()
    out = []
    for run in (reference, chaotic):
        for hit in run.tripwire:
            key = (hit.call, hit.where.source)
            if key in seen:
                continue
            seen.add(key)
            out.append(Violation(
                NAME, f"{hit.call} is read outside any step ({hit.where.label()}); a replay reads a different "
                      "value and may take another path",
                op=hit.where.op_name, invocation=hit.where.invocation, source=hit.where.source,
                detail=("read it inside context.step(...) so the value is checkpointed",)))
    return out
