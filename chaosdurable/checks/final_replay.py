"""Final replay: replaying the fault-free run's finished history ends it the same way.

Guarantees: the fault-free run, replayed from its own complete history (no step body runs, every
result comes from its checkpoint), returns the same result (or fails with the same error) and
issues the same operations. A difference means the handler computes something outside steps
from state that no checkpoint holds and that differs between replays: a module-level counter, a
cache in module state or in the temp dir, data read outside a step (``replay.selfcheck``).

Cannot see: state that happens to be equal again on this one replay (a value that changes only
across days, or only on a cold sandbox when this replay is warm); divergences in executions that
did not end; runs with clock, random or uuid reads outside steps (the tripwire reports those and
a shifted replay judges them). Backends other than the engine's do not replay, so it is silent there.
"""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import RunRecord

NAME = "final_replay"


def final_replay(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """One violation when the fault-free run's replay (``reference.final_replay``) diverged."""
    require_same_handler(reference, chaotic)
    lines = reference.final_replay
    if not lines:
        return []
    return [Violation(NAME, lines[0], detail=tuple(lines[1:]))]
