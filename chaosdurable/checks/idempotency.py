"""Idempotency of effects: after the chaotic run, the external world and the explicit effects
are what they were after the fault-free run.

- the moto world (DynamoDB items, S3 objects, SQS/SNS messages, SES mails) is diffed item by
  item; each difference is attributed to the AWS calls that the chaotic run made more often;
- explicit effects (``chaosdurable.effect(name, key)``) are counted per (name, key); one that
  happened more often under faults is not idempotent. Pass ``idempotent=True`` to ``effect``
  for effects that are safe to repeat.
Skipped when a fault legitimately changes the outcome; when the change is only a handled failure
of one operation (``Ledger.repeats_still_count``), the explicit effects that the fault-free run
made are still counted (the world is not compared: the other path may change it legitimately).
"""

from __future__ import annotations

from collections import Counter

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import Effect, RunRecord
from chaosdurable.history.world import diff_worlds

NAME = "idempotency"


def _counts(effects: list[Effect], kind: str) -> Counter[tuple[str, str | None]]:
    return Counter((e.name, e.key) for e in effects
                   if e.kind == kind and e.mutating and not e.detail.get("idempotent"))


def _where(effects: list[Effect], name: str, key: str | None) -> tuple[str, ...]:
    return tuple(f"ran in {e.where.label()}" for e in effects if e.name == name and e.key == key)


def idempotency(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """World differences and repeated explicit effects."""
    require_same_handler(reference, chaotic)
    if chaotic.stuck or (ledger.outcome_may_change and not ledger.repeats_still_count):
        return []
    out: list[Violation] = []
    if reference.world is not None and chaotic.world is not None and not ledger.outcome_may_change:
        lines = diff_worlds(reference.world, chaotic.world)
        if lines:
            extra = _counts(chaotic.effects, "aws") - _counts(reference.effects, "aws")
            culprits = sorted(extra)
            first = next((e for e in chaotic.effects if (e.name, e.key) in extra), None)
            detail = tuple(lines[:20]) + (("... and more",) if len(lines) > 20 else ())
            for name, key in culprits[:5]:
                detail += _where(chaotic.effects, name, key)[:4]
            out.append(Violation(
                NAME, "the external world differs from the fault-free run: "
                      + (f"{', '.join(n for n, _ in culprits[:3])} ran more often under faults"
                         if culprits else "the same calls left a different state"),
                op=first.where.op_name if first else None, invocation=first.where.invocation if first else None,
                source=first.where.source if first else None, detail=detail))
    extra = _counts(chaotic.effects, "explicit") - _counts(reference.effects, "explicit")
    ref_counts = _counts(reference.effects, "explicit")
    if ledger.outcome_may_change:  # another path: effects the fault-free run never made are that path's own
        extra = Counter({k: n for k, n in extra.items() if ref_counts[k] > 0})
    for name, key in sorted(extra):
        hits = [e for e in chaotic.effects if e.name == name and e.key == key]
        total = len(hits)
        out.append(Violation(
            NAME, f"effect {name!r} (key {key!r}) happened {total} times under faults but "
                  f"{ref_counts[(name, key)]} times without them: it is not idempotent",
            op=hits[-1].where.op_name, invocation=hits[-1].where.invocation, source=hits[-1].where.source,
            detail=(*_where(chaotic.effects, name, key),
                    "make it idempotent (an idempotency key the callee honours), or configure the step "
                    "AT_MOST_ONCE_PER_RETRY with no retries")))
    return out
