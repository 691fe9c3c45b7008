"""Effects outside steps: code outside a step runs again on every replay, so its side
effects repeat. Every mutating effect (explicit or AWS) whose innermost user function is not a
step body is reported, with its source line and how often it ran, even without faults."""

from __future__ import annotations

from collections import defaultdict

from chaosdurable.checks.base import Ledger, Violation, plural, require_same_handler
from chaosdurable.history.record import Effect, RunRecord

NAME = "effects_outside_steps"


def effects_outside_steps(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """One violation per (effect, source line) found outside any step in either run."""
    require_same_handler(reference, chaotic)
    found: dict[tuple[str, str | None], list[tuple[str, Effect]]] = defaultdict(list)
    for run in (reference, chaotic):
        for eff in run.effects:
            if eff.mutating and eff.where.arn is not None and not eff.where.in_step:
                found[(eff.name, eff.where.source)].append((run.label, eff))
    out = []
    for (name, source), hits in found.items():
        counts = {label: sum(1 for lbl, _ in hits if lbl == label) for label in ("reference", "chaotic")}
        first = hits[0][1]
        scope = first.where.label()
        tally = f"{plural(counts['reference'], 'time')} in the fault-free run, {counts['chaotic']} under faults"
        if max(counts.values()) <= 1:
            tally += "; no replay reached it in these runs, but any replay that does repeats it"
        out.append(Violation(
            NAME, f"effect {name!r} happens outside any step ({scope}); it runs again on every replay "
                  f"({tally})",
            op=first.where.op_name, invocation=first.where.invocation, source=source,
            detail=("move it into context.step(...) so its result is checkpointed",)))
    return out
