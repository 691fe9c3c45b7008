"""Liveness: with finitely many faults the execution ends within its bounds (invocations,
virtual time). A stuck execution is reported with what it waits for."""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import RunRecord

NAME = "liveness"


def liveness(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """A violation for each run that did not end."""
    require_same_handler(reference, chaotic)
    out = []
    if reference.stuck:
        out.append(Violation(NAME, f"even the fault-free run did not finish: {reference.stuck}"))
    if chaotic.stuck and not reference.stuck:
        out.append(Violation(NAME, f"the execution did not finish under faults: {chaotic.stuck}"))
    return out
