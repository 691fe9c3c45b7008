"""Idempotency of effects: after the chaotic run, the external world and the explicit effects
are what they were after the fault-free run.

- the moto world (DynamoDB items, S3 objects, SQS/SNS messages, SES mails) is diffed item by
  item; each difference is attributed to the AWS calls that the chaotic run made more often;
- explicit effects (``chaosdurable.effect(name, key)``) are counted per (name, key); one that
  happened more often under faults is not idempotent. Pass ``idempotent=True`` to ``effect``
  for effects that are safe to repeat.
- a request that carries an idempotency key of its own (an HTTP ``Idempotency-Key`` the fault-free
  run never sent) made in an operation the fault-free run does not have is new work on a path the
  fault opened (one more callback for a redelivered event, and its own subscription), not a repeat,
  and is not counted. The same request in an operation both runs have (a step re-run by a crash or
  a retry) is counted whatever its key, so a key minted anew per attempt is still caught.
Effects that are safe to repeat by design (a POST that only computes a quote, a send to a queue whose
consumers dedupe) can be declared: ``idempotency_checker(repeatable=["http:POST rating.example.com/*",
"aws:sqs.SendMessage"])`` returns the checker with those effect names (``fnmatch`` patterns) not
counted, and a world difference that only they explain not reported::

    check(handler, event, schedule,
          checkers={**ALL_CHECKERS, "idempotency": idempotency_checker(repeatable=["aws:sqs.SendMessage"])})

Skipped when a fault legitimately changes the outcome; when the change is only a handled failure
of one operation (``Ledger.repeats_still_count``), the explicit effects that the fault-free run
made are still counted (the world is not compared: the other path may change it legitimately).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections import Counter
from collections.abc import Iterable

from chaosdurable.checks.base import Checker, Ledger, Violation, plural, require_same_handler
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.checks.warm import warm_state_lines
from chaosdurable.history.record import Effect, RunRecord
from chaosdurable.history.world import diff_worlds

NAME = "idempotency"


def _counts(effects: list[Effect], kind: str, run: RunRecord | None = None,
            fresh: FreshValues | None = None) -> Counter[tuple[str, str | None]]:
    """How often each (name, key) happened; keys with their fresh values replaced when ``fresh`` is given."""
    def key(e: Effect) -> str | None:
        return fresh.normalize(run, e.key) if fresh is not None and run is not None else e.key

    return Counter((e.name, key(e)) for e in effects
                   if e.kind == kind and e.mutating and not e.detail.get("idempotent"))


def _repeats(chaotic: RunRecord, reference: RunRecord) -> list[Effect]:
    """The chaotic run's effects less new keyed work in operations the fault-free run does not have."""
    known = {op.get("Id") for op in reference.operations}
    sent = {(e.name, e.detail.get("idempotency_key")) for e in reference.effects}
    return [e for e in chaotic.effects
            if e.where.op_id is None or e.where.op_id in known or not e.detail.get("idempotency_key")
            or (e.name, e.detail.get("idempotency_key")) in sent]


def _in_order(effects: list[Effect]) -> list[Effect]:
    """Effects by where they ran (invocation, duplicate copy), not by arrival: copies race."""
    return sorted(effects, key=lambda e: (e.where.invocation or 0, e.where.copy, e.where.label()))


def _where(effects: list[Effect], name: str, key: str | None) -> tuple[str, ...]:
    return tuple(f"ran in {e.where.label()}" for e in _in_order(effects) if e.name == name and e.key == key)


def _without(run: RunRecord, repeatable: tuple[str, ...]) -> RunRecord:
    """``run`` with the effects named by ``repeatable`` left out (the run itself unchanged)."""
    if not repeatable:
        return run
    return dataclasses.replace(run, effects=[e for e in run.effects
                                             if not any(fnmatch.fnmatchcase(e.name, p) for p in repeatable)])


def _fresh_only(old: str, new: str) -> bool:
    """True when item ``new`` equals ``old`` except where ``old`` holds a value a step mints anew in every
    execution (a ``<fresh ...>`` placeholder): two concurrent copies of a step each minted their own
    timestamp or id, and the world kept the other copy's."""
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return False
    if not isinstance(a, dict) or not isinstance(b, dict) or a.keys() != b.keys():
        return False
    loose = {k for k, v in a.items() if "<fresh " in json.dumps(v)}
    return bool(loose) and all(a[k] == b[k] for k in a.keys() - loose)


def _without_fresh_only(lines: list[str]) -> list[str]:
    """World diff ``lines`` less the pairs (one gone, one new, same place) that differ only in fresh values."""
    gone = [(i, line.split(": - ", 1)) for i, line in enumerate(lines) if ": - " in line]
    new = [(i, line.split(": + ", 1)) for i, line in enumerate(lines) if ": + " in line]
    dropped: set[int] = set()
    for i, (place, old) in gone:
        match = next((j for j, (where, item) in new if j not in dropped and where == place
                      and _fresh_only(old, item)), None)
        if match is not None:
            dropped |= {i, match}
    return [line for k, line in enumerate(lines) if k not in dropped]


def _went_back(lines: list[str]) -> tuple[str, ...]:
    """A line for each item that went back to an earlier state: under faults it holds a proper subset of the
    attributes it ends with in the fault-free run (a later write's attributes are gone), so a late copy of
    an earlier step's write (a duplicate or zombie invocation) landed after a later step's."""
    gone = [line.split(": - ", 1) for line in lines if ": - " in line]
    new = [line.split(": + ", 1) for line in lines if ": + " in line]
    out: list[str] = []
    for place, old in gone:
        for where, item in new:
            try:
                a, b = json.loads(old), json.loads(item)
            except ValueError:
                continue
            if where != place or not isinstance(a, dict) or not isinstance(b, dict) or not b.keys() < a.keys():
                continue
            lost = sorted(a.keys() - b.keys())
            out.append(f"{place}: an item went back to an earlier state: it lacks {', '.join(map(repr, lost[:4]))}, "
                       "which a later step wrote without faults. A late copy of an earlier step (a duplicate or "
                       "timed-out invocation) overwrote it after the later step: make that earlier write conditional "
                       "on the item not having moved on (attribute_not_exists, or a status/version condition)")
            break
    return tuple(out[:2])


def _service(name: str) -> str | None:
    """The world's prefix for the service an AWS effect calls (``aws:sqs.SendMessage`` -> ``sqs``)."""
    if not name.startswith("aws:"):
        return None
    service = name[4:].split(".", 1)[0]
    return "ses" if service == "sesv2" else service


def _key_words(name: str, key: str | None) -> str:
    """How a report names an effect's key: ``key 'o-1'``, or what having none means for it."""
    if key is not None:
        return f"key {key!r}"
    if name.startswith("http:"):
        return "no Idempotency-Key header"
    return "no key"


def _opt_out_line(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:2])
    return (f"if repeating it is harmless by design (a pure computation, a consumer that dedupes), declare it: "
            f"check(..., checkers=allowing_repeats({shown})) (from chaosdurable.checks import allowing_repeats)")


def _send_advice(names: list[str]) -> tuple[str, ...]:
    if any(n == "aws:sqs.SendMessage" or n == "aws:sqs.SendMessageBatch" for n in names):
        return ("a message sent again by a re-run step: send to a FIFO queue with a MessageDeduplicationId derived "
                "from the work (not from the attempt), or have the consumer dedupe by a message id",)
    return ()


def idempotency_checker(repeatable: Iterable[str] | str = ()) -> Checker:
    """The ``idempotency`` checker with the effects named by ``repeatable`` (effect names or ``fnmatch``
    patterns: ``"http:POST rating.example.com/*"``, ``"aws:sqs.SendMessage"``) declared safe to repeat."""
    patterns = (repeatable,) if isinstance(repeatable, str) else tuple(repeatable)
    bad = [p for p in patterns if not isinstance(p, str) or not p]
    if bad:
        raise TypeError(f"idempotency_checker(repeatable=...) takes effect names or patterns (non-empty strings, "
                        f"e.g. 'aws:sqs.SendMessage' or 'http:POST api.example.com/*'), got {bad!r}")

    def idempotency(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
        """``idempotency``, with the effects the factory was given declared safe to repeat."""
        return _find(reference, chaotic, ledger, patterns)

    return idempotency


def idempotency(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """World differences and repeated explicit effects."""
    return _find(reference, chaotic, ledger, ())


def _find(reference: RunRecord, chaotic: RunRecord, ledger: Ledger, repeatable: tuple[str, ...]) -> list[Violation]:
    require_same_handler(reference, chaotic)
    if chaotic.stuck or (ledger.outcome_may_change and not ledger.repeats_still_count):
        return []
    out: list[Violation] = []
    fresh = ledger.fresh
    if reference.world is not None and chaotic.world is not None and not ledger.outcome_may_change:
        lines = diff_worlds(fresh.normalize_world(reference, reference.world) or {},
                            fresh.normalize_world(chaotic, chaotic.world) or {})
        lines = _without_fresh_only(lines)
        if lines and repeatable:
            kept_c, kept_r = _without(chaotic, repeatable), _without(reference, repeatable)
            if (_counts(chaotic.effects, "aws") - _counts(reference.effects, "aws")
                    and not _counts(kept_c.effects, "aws") - _counts(kept_r.effects, "aws")):
                lines = []  # only calls declared safe to repeat ran more often: that is what changed the world
        if lines:
            extra = _counts(chaotic.effects, "aws") - _counts(reference.effects, "aws")
            culprits = sorted(extra)
            first = next((e for e in chaotic.effects if (e.name, e.key) in extra), None)
            detail = tuple(lines[:20]) + (("... and more",) if len(lines) > 20 else ())
            more = (Counter(n for (n, _), c in _counts(chaotic.effects, "aws").items() for _ in range(c))
                    - Counter(n for (n, _), c in _counts(reference.effects, "aws").items() for _ in range(c)))
            # blame only calls to the services where the world differs (trial8 c07: a conditional PutItem that
            # ran again harmlessly was named for SQS messages that differed)
            places = {line.split(":", 1)[0] for line in lines if ":" in line}
            elsewhere = sorted(n for n in more if _service(n) not in places)
            more = Counter({n: c for n, c in more.items() if _service(n) in places})
            culprits = [(n, k) for n, k in culprits if _service(n) in places] or culprits
            if more:  # every run of a call that ran more often, the first (with other parameters) included
                for name in sorted(more)[:3]:
                    runs = _in_order([e for e in chaotic.effects if e.name == name and e.kind == "aws" and e.mutating
                                      and not e.detail.get("idempotent")])
                    detail += tuple(f"{name} ran in {e.where.label()}" for e in runs[:4])
            else:
                for name, key in culprits[:5]:
                    detail += _where(chaotic.effects, name, key)[:4]
            if more:
                why = f"{', '.join(sorted(more)[:3])} ran more often under faults"
            elif culprits:
                why = (f"{', '.join(sorted({n for n, _ in culprits})[:3])} ran as often as without faults, "
                       "but with different parameters")
            else:
                why = "the same calls left a different state"
            if elsewhere and not more:
                detail += (f"{', '.join(elsewhere[:3])} ran more often under faults too, but on other services than "
                           "where the world differs",)
            detail += warm_state_lines(reference, chaotic, first.where.invocation if first else None,
                                       first.where.op_name if first else None)
            detail += _went_back(lines)
            if more:
                detail += (*_send_advice(sorted(more)), _opt_out_line(sorted(more)))
            out.append(Violation(
                NAME, "the external world differs from the fault-free run: " + why,
                op=first.where.op_name if first else None, invocation=first.where.invocation if first else None,
                source=first.where.source if first else None, detail=detail))
    chaotic, reference = _without(chaotic, repeatable), _without(reference, repeatable)
    repeats = _repeats(chaotic, reference)
    extra = _counts(repeats, "explicit", chaotic, fresh) - _counts(reference.effects, "explicit", reference, fresh)
    ref_counts = _counts(reference.effects, "explicit", reference, fresh)
    if ledger.outcome_may_change:  # another path: effects the fault-free run never made are that path's own
        extra = Counter({k: n for k, n in extra.items() if ref_counts[k] > 0})
    for name, key in sorted(extra):
        hits = _in_order([e for e in repeats if e.name == name and fresh.normalize(chaotic, e.key) == key])
        total = len(hits)
        warm = warm_state_lines(reference, chaotic, hits[-1].where.invocation, hits[-1].where.op_name)
        out.append(Violation(
            NAME, f"effect {name!r} ({_key_words(name, key)}) happened {_times(total)} under faults but "
                  f"{_times(ref_counts[(name, key)])} without them: "
                  + ("it is not idempotent" if ref_counts[(name, key)] else
                     "the fault-free run never made it, so the fault did not repeat it but made the handler do "
                     "work it otherwise skips (module state, a cache, another branch)"),
            op=hits[-1].where.op_name, invocation=hits[-1].where.invocation, source=hits[-1].where.source,
            detail=(*(f"ran in {e.where.label()}" for e in hits), *warm,
                    "an event was delivered again (an at-least-once source): dedupe events by their id before "
                    "acting on them" if "event_redelivery" in ledger.fault_kinds else
                    "make it idempotent (an idempotency key the callee honours), or configure the step "
                    "AT_MOST_ONCE_PER_RETRY with no retries", _opt_out_line([name]))))
    return out


def _times(n: int) -> str:
    """``1 time``, ``2 times``."""
    return plural(n, "time")
