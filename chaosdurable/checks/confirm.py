"""Tripwire clock hits are suspicions: a replay shifted in time and reseeded confirms or clears them.

A clock read outside steps is re-read on every replay, so it *may* steer a replay
down another path. It may also be harmless: a log line's timestamp, or the time left until a
deadline a step saved, which feeds a wait the SDK never re-arms on replay. ``confirm`` tells
them apart by running the handler twice more, with ``virtual_clock`` on and the same schedule:

- once as is (the *base*);
- once with every replay (every invocation after the first) reading the clock ``REPLAY_SHIFT_MS``
  later and drawing another ``random`` stream outside steps (``run.SHIFTED_REPLAY``). A step body
  that runs in such a replay reads the shifted clock too; step results are not compared, only
  what follows from the path.

If the schedule gives the base a single invocation, a crash right after its last checkpoint
was persisted is added (to both) so that there is a replay. The suspicion is **confirmed** when
the two runs diverge: another sequence of operations, other effects, another end (status or
error type) or another result. Only up to the first step, callback or invoke whose *result* differs
between them: a step that read the shifted clock itself, or minted a fresh id, legitimately returns
something else, and what follows may follow from that result rather than from a read outside steps.
The hits stay violations, each saying where the handler read the clock
and what the execution did replayed on time and replayed later (``confirmed_lines``). Otherwise they become
notes on the chaotic run (``RunRecord.diagnostics``), not violations.

A step whose result differs is excused only when its own body read the clock, ``random`` or a uuid
(``RunRecord.in_step_reads``, recorded by the tripwire during these runs); a step that read nothing
of the kind returns something else because its inputs, computed outside steps, changed: that
confirms the suspicion (a trade date read outside steps and written by a later step).

What it cannot see: a read whose effect needs a shift other than this one (a branch on a
weekday this shift keeps, or on the year), or that changes only arguments of operations that are
not re-run (an invoke's payload, a wait's duration: the SDK does not compare them on replay); a step
whose body reads the clock through a library (not the handler's own code) counts as reading nothing.
Only the engine backends confirm; elsewhere the hits stay
violations, unconfirmed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chaosdurable.checks.base import Violation, shorten
from chaosdurable.checks.determinism import first_different_result
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.faults.schedule import CrashAtCheckpoint, FaultSchedule
from chaosdurable.history.record import RunRecord
from chaosdurable.run import REPLAY_SHIFT_MS, SHIFTED_REPLAY

NAME = "tripwire"
#: the reads a shifted replay can confirm or clear (as the tripwire names them). Random, uuid and
#: (strict) environment reads stay violations: a draw that steers a replay only sometimes (one in
#: ten) would be cleared by one reseeded replay most of the time, and the environment does not shift.
CLOCK_CALLS = ("time.time()", "time.time_ns()", "datetime.now()", "datetime.utcnow()", "datetime.today()",
               "date.today()")
_SHIFT = "1 day 13 h 13 min 17 s"
_SHIFT_WORDS = f"a replay {_SHIFT} later, reseeded outside steps"


def shape(run: RunRecord) -> dict[str, Any]:
    """What a replay that took another path changes: operations, effects and the end."""
    return {
        "operations": [(op.get("Type"), op.get("SubType"), op.get("Name"), op.get("ParentId"), op.get("Status"))
                       for op in run.operations],
        "effects": [(e.name, e.key) for e in run.effects],
        "end": (run.status, (run.error or {}).get("ErrorType"), bool(run.stuck)),
        "result": run.result_payload,
    }


def _operation_words(op: tuple[Any, ...] | None) -> str:
    if op is None:
        return "none (the execution had ended, or went no further)"
    kind, sub_type, name, _parent, status = op
    what = str(sub_type or kind or "operation").lower().replace("_", " ")
    return f"{what} {name!r} ({str(status).lower()})" if name else f"{what} (unnamed, {str(status).lower()})"


def _end_words(run: RunRecord) -> str:
    if run.stuck:
        return f"stuck, never ended ({shorten(run.stuck, 200)})"
    if run.status == "FAILED" and run.error:
        kind = str(run.error.get("ErrorType") or "an error").rsplit(".", 1)[-1]
        return f"FAILED with {kind}: {shorten(str(run.error.get('ErrorMessage') or ''), 300)}"
    return str(run.status)


def differences(base: RunRecord, shifted: RunRecord) -> list[tuple[str, str, str]]:
    """What differs between ``base`` and ``shifted``: ``(what, in base, in shifted)``, in words, at most
    one line pair per kind: how the execution ended, the first operation that differs, its effects, its
    result. Empty when ``shifted`` took ``base``'s path."""
    a, b = shape(base), shape(shifted)
    out: list[tuple[str, str, str]] = []
    ops_a = [op for op in a["operations"] if op[0] != "EXECUTION"]
    ops_b = [op for op in b["operations"] if op[0] != "EXECUTION"]
    cut = first_different_result(base, shifted, FreshValues())
    steered = _result_steered_from_outside(base, shifted, cut)
    if steered is not None:
        return [steered]
    if cut is not None:
        # a step (or callback, invoke) returned something else replayed later: a step that read the shifted
        # clock or minted a fresh id. What follows may follow from that result, not from a read outside
        # steps, so only the path before it is compared (and the effects of the steps before it)
        before = {op["Id"] for op in [o for o in base.operations if o.get("Type") != "EXECUTION"][:cut]}
        ops_a, ops_b = ops_a[:cut + 1], ops_b[:cut + 1]
        a = dict(a, effects=[(e.name, e.key) for e in base.effects if e.where.op_id in before])
        b = dict(b, effects=[(e.name, e.key) for e in shifted.effects if e.where.op_id in before])
    elif a["end"] != b["end"]:
        out.append(("how it ended", _end_words(base), _end_words(shifted)))
    if ops_a != ops_b:
        index = next(i for i in range(max(len(ops_a), len(ops_b)))
                     if i >= len(ops_a) or i >= len(ops_b) or ops_a[i] != ops_b[i])
        out.append((f"operation {index + 1}", _operation_words(ops_a[index] if index < len(ops_a) else None),
                    _operation_words(ops_b[index] if index < len(ops_b) else None)))
    # another path means other effects, not the same effect repeated: a step re-run after a crash may
    # repeat its call one time more or less in either run (that is for the idempotency checker)
    once_a, once_b = list(dict.fromkeys(a["effects"])), list(dict.fromkeys(b["effects"]))
    if once_a != once_b:
        at = next(i for i in range(max(len(once_a), len(once_b)))
                  if i >= len(once_a) or i >= len(once_b) or once_a[i] != once_b[i])
        start = max(0, at - 1)  # from just before the first difference: where the paths part
        lead = f"(from effect {start + 1}) " if start else ""
        out.append(("effects", lead + shorten(str(once_a[start:start + 4]), 200),
                    lead + shorten(str(once_b[start:start + 4]), 200)))
    if cut is None and a["result"] != b["result"] and a["end"] == b["end"]:
        out.append(("result", shorten(str(a["result"]), 200), shorten(str(b["result"]), 200)))
    return out


def _result_steered_from_outside(base: RunRecord, shifted: RunRecord, cut: int | None) -> tuple[str, str, str] | None:
    """A step whose result differs between the runs although its body read no clock, ``random`` or uuid
    in either (``RunRecord.in_step_reads``): its result follows from values computed outside steps, which
    the shifted replay read anew. None when the first differing result is not such a step."""
    if cut is None:
        return None
    ops = [o for o in base.operations if o.get("Type") != "EXECUTION"]
    op = ops[cut]
    if op.get("Type") != "STEP" or op.get("SubType") not in (None, "Step"):
        return None  # a callback's answer, an invoke's target, a poll's state: not this step's own doing
    if any(hit.where.op_id == op["Id"] for run in (base, shifted) for hit in run.in_step_reads):
        return None  # the step read the (shifted) clock or drew a fresh value itself: a legitimate change
    theirs = next((o for o in shifted.operations if o.get("Id") == op["Id"]), {})
    if (theirs.get("Type"), theirs.get("Name")) != (op.get("Type"), op.get("Name")):
        return None  # another operation at this place: the path itself differs, said as such
    name = f"step {op['Name']!r}" if op.get("Name") else f"step {cut + 1} (unnamed)"
    return (f"{name}'s result (its body reads no clock itself)", shorten(str(op.get("Result")), 200),
            shorten(str(theirs.get("Result")), 200))


def divergence(base: RunRecord, shifted: RunRecord) -> str | None:
    """In one line, where ``shifted`` left ``base``'s path; None when it did not."""
    found = differences(base, shifted)
    if not found:
        return None
    return "; ".join(f"{what}: {x} replayed on time, {y} replayed later" for what, x, y in found)


def confirmed_lines(violation: Violation, found: list[tuple[str, str, str]], reads: int = 1) -> tuple[str, ...]:
    """The lines a confirmed clock read adds to its violation: where the handler read the clock, and
    what the same execution did replayed on time and replayed ``REPLAY_SHIFT_MS`` later."""
    call = violation.message.split(" ", 1)[0]
    at = f" ({call} at {violation.source})" if violation.source else f" ({call})"
    head = (f"confirmed: the handler reads the clock outside a step{at}, and when the same execution was "
            f"replayed {_SHIFT} later (its draws outside steps reseeded), it took a different path:")
    if reads > 1:
        head += (f" (the handler has {reads} clock reads outside steps; this replay cannot tell which of them "
                 "steered it)")
    width = max(len(what) for what, _, _ in found) + len(", replayed on time:")
    lines = [head]
    for what, on_time, later in found:
        lines.append(f"  {(what + ', replayed on time:').ljust(width)} {on_time}")
        lines.append(f"  {(what + ', replayed later:').ljust(width)} {later}")
        if what == "how it ended" and "NonDeterministic" in on_time:
            lines.append("  (replayed on time, the clock had already moved on by the execution's own waits, and the "
                         "SDK itself found that the replay took another path than the first run)")
    return tuple(lines)


def sdk_confirmed_lines(violation: Violation, base: RunRecord, reads: int = 1,
                        draws: bool = False) -> tuple[str, ...]:
    """The lines a clock read adds when the replay on time itself failed the SDK's replay check."""
    call = violation.message.split(" ", 1)[0]
    at = f" ({call} at {violation.source})" if violation.source else f" ({call})"
    head = (f"confirmed: the handler reads the clock outside a step{at}, and when the same execution was "
            "replayed after its own waits had moved the clock on, it took a different path, and the SDK "
            "detected it:")
    lines = [head, f"  replayed on time: {_end_words(base)}"]
    if reads > 1:
        lines.append(f"  (the handler has {reads} clock reads outside steps; this replay cannot tell which of them "
                     "steered it)")
    if draws:
        lines.append("  (the handler also draws random values or ids outside steps, flagged on their own: they, "
                     "too, may have steered it)")
    return tuple(lines)


def _confirmed_headline(message: str) -> str:
    """The tripwire's headline once a shifted replay confirmed it: it did take another path."""
    return message.replace("and may take another path", "and took another path (confirmed below)")


def with_a_replay(schedule: FaultSchedule, run: RunRecord) -> FaultSchedule | None:
    """``schedule``, plus a crash after the last persisted checkpoint when ``run`` (of it) had no replay.

    None when nothing could replay (the execution has no operation to crash after).
    """
    if len(run.invocations) > 1:
        return schedule
    done = [op for op in run.operations
            if op.get("Type") != "EXECUTION" and op.get("Status") == "SUCCEEDED" and op.get("Id")]
    if not done:
        return None
    last = done[-1]
    crash = CrashAtCheckpoint(op=str(last["Id"]), action="SUCCEED", phase="after_persist")
    return FaultSchedule((*schedule.faults, crash))


def _one_for_all(violations: list[Violation], suspicions: list[Violation],
                 lines: Any) -> list[Violation]:
    """The violations with the clock-read suspicions, confirmed together, as one finding: the first read's,
    with ``lines(first)`` and the other reads named (one replay cannot tell which of them steered it, so
    one finding per read would say the same thing twice: trial8 b05)."""
    first = suspicions[0]
    calls = [(v.message.split(" ", 1)[0], v.source) for v in suspicions[1:]]
    others = list(dict.fromkeys(f"{call} at {source}" if source else call for call, source in calls))
    extra = (f"the handler's other clock reads outside steps, any of which may have steered it: {', '.join(others)}",
             ) if others else ()
    merged = dataclasses.replace(first, message=_confirmed_headline(first.message),
                                 detail=(*first.detail, *lines(first), *extra))
    return [merged if v is first else v for v in violations if v is first or v not in suspicions]


def confirm(violations: list[Violation], chaotic: RunRecord, run: Any, schedule: FaultSchedule,
            backend: Any) -> list[Violation]:
    """The violations with each tripwire suspicion confirmed (kept, with what diverged) or cleared.

    ``run(backend, schedule, label) -> RunRecord`` runs the workload once on ``backend``. A cleared
    suspicion becomes a note in ``chaotic.diagnostics``. Backends other than the engine's keep
    them as they are.
    """
    suspicions = [v for v in violations if v.checker == NAME and v.message.startswith(CLOCK_CALLS)]
    if not suspicions or getattr(backend, "name", None) not in ("inprocess", "subprocess"):
        return violations
    timed = dataclasses.replace(backend, virtual_clock=True)
    base = run(timed, schedule, "confirm")
    replayed = with_a_replay(schedule, base)
    found: list[tuple[str, str, str]] = []
    if replayed is not None:
        if replayed is not schedule:
            base = run(timed, replayed, "confirm")
        found = differences(base, run(timed, replayed, SHIFTED_REPLAY))
    reads = len({(v.message.split(" ", 1)[0], v.source) for v in suspicions})
    if found:
        return _one_for_all(violations, suspicions, lambda v: confirmed_lines(v, found, reads))
    if "NonDeterministic" in str((base.error or {}).get("ErrorType")):
        # both replays failed alike: already the replay on time, after the execution's own waits moved the
        # (virtual) clock on, took another path, and the SDK said so
        draws = any(v.checker == NAME and v not in suspicions for v in violations)
        return _one_for_all(violations, suspicions, lambda v: sdk_confirmed_lines(v, base, reads, draws))
    why = ("the execution has no operation a replay could take another way" if replayed is None
           else f"{_SHIFT_WORDS}, took the same path (operations, effects and end)")
    for v in suspicions:
        chaotic.diagnostics.append(f"note: {v.message.split(';')[0]}, but {why}: not reported as a violation")
    return [v for v in violations if v not in suspicions]


__all__ = ["REPLAY_SHIFT_MS", "confirm", "confirmed_lines", "differences", "divergence", "sdk_confirmed_lines",
           "shape", "with_a_replay"]
