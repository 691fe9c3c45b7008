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
error type) or another result. The hits stay violations, each saying what diverged. Otherwise they become
notes on the chaotic run (``RunRecord.diagnostics``), not violations.

What it cannot see: a read whose effect needs a shift other than this one (a branch on a
weekday this shift keeps, or on the year), or that changes only step *arguments* that the SDK
does not compare on replay. Only the engine backends confirm; elsewhere the hits stay
violations, unconfirmed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chaosdurable.checks.base import Violation
from chaosdurable.faults.schedule import CrashAtCheckpoint, FaultSchedule
from chaosdurable.history.record import RunRecord
from chaosdurable.run import REPLAY_SHIFT_MS, SHIFTED_REPLAY

NAME = "tripwire"
#: the reads a shifted replay can confirm or clear (as the tripwire names them). Random, uuid and
#: (strict) environment reads stay violations: a draw that steers a replay only sometimes (one in
#: ten) would be cleared by one reseeded replay most of the time, and the environment does not shift.
CLOCK_CALLS = ("time.time()", "time.time_ns()", "datetime.now()", "datetime.utcnow()", "datetime.today()",
               "date.today()")
_SHIFT_WORDS = "a replay 1 day 13 h 13 min 17 s later, reseeded outside steps"


def shape(run: RunRecord) -> dict[str, Any]:
    """What a replay that took another path changes: operations, effects and the end."""
    return {
        "operations": [(op.get("Type"), op.get("SubType"), op.get("Name"), op.get("ParentId"), op.get("Status"))
                       for op in run.operations],
        "effects": [(e.name, e.key) for e in run.effects],
        "end": (run.status, (run.error or {}).get("ErrorType"), bool(run.stuck)),
        "result": run.result_payload,
    }


def divergence(base: RunRecord, shifted: RunRecord) -> str | None:
    """In words, where ``shifted`` left ``base``'s path; None when it did not."""
    a, b = shape(base), shape(shifted)
    if a["end"] != b["end"]:
        return f"the execution ended {b['end'][0]} ({b['end'][1] or 'no error'}) instead of {a['end'][0]}"
    if a["operations"] != b["operations"]:
        for index, (x, y) in enumerate(zip(a["operations"], b["operations"], strict=False)):
            if x != y:
                return f"operation {index + 1} became {y[0]} {y[2]!r} instead of {x[0]} {x[2]!r}"
        return f"it issued {len(b['operations'])} operations instead of {len(a['operations'])}"
    if a["effects"] != b["effects"]:
        return f"its effects became {b['effects'][:4]} instead of {a['effects'][:4]}"
    if a["result"] != b["result"]:
        return f"it returned {str(b['result'])[:80]} instead of {str(a['result'])[:80]}"
    return None


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
    diverged: str | None = None
    if replayed is not None:
        if replayed is not schedule:
            base = run(timed, replayed, "confirm")
        diverged = divergence(base, run(timed, replayed, SHIFTED_REPLAY))
    if diverged is not None:
        return [dataclasses.replace(v, detail=(*v.detail, f"confirmed: in {_SHIFT_WORDS}, {diverged}"))
                if v in suspicions else v for v in violations]
    why = ("the execution has no operation a replay could take another way" if replayed is None
           else f"{_SHIFT_WORDS}, took the same path (operations, effects and end)")
    for v in suspicions:
        chaotic.diagnostics.append(f"note: {v.message.split(';')[0]}, but {why}: not reported as a violation")
    return [v for v in violations if v not in suspicions]


__all__ = ["REPLAY_SHIFT_MS", "confirm", "divergence", "shape", "with_a_replay"]
