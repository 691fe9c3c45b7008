"""The timeline of one run as a grid, read from its stored record (Jepsen's timeline, turned for durable functions).

Lanes are the run's invocations (left to right, in order); rows are its operations (top to
bottom, in the order the fault-free run met them, with a first "handler code" row for what ran
outside any operation). A cell says what happened to one operation in one invocation:

- ``succeeded`` / ``failed``: its SUCCEED / FAIL checkpoint was persisted in that invocation;
- ``started`` / ``retrying``: only a START / RETRY was persisted;
- ``rejected``: the checkpoint API refused one of its checkpoints;
- ``lost``: its body ran (or it made effects) but nothing about it was persisted (the invocation
  crashed first);
- ``ran``: the handler's own code (outside any operation) made effects in that invocation;
- ``replayed``: persisted in an earlier invocation (or completed by the service in between: a wait
  that elapsed, a callback answered), so this invocation read it back.

Checkpoints, effects and fired faults are listed per cell; ``highlight`` marks the operation
where the run diverged from the fault-free one, or where an effect happened more often.
Contract: a pure function of a ``Verdict``; never raises on a sparse record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaosdurable.report.facts import fired_invocation, fired_operation, invocation_outcome

HANDLER_ROW = "(handler code)"
#: Beyond these, rows and lanes are summarised (a nightly report stays a few MB).
MAX_ROWS = 60
MAX_LANES = 40


@dataclass
class Cell:
    """What one operation did in one invocation."""

    status: str = ""
    checkpoints: list[tuple[str, bool]] = field(default_factory=list)  # (action, accepted)
    crashed: bool = False  # a checkpoint was not persisted because the invocation crashed
    effects: list[str] = field(default_factory=list)
    bodies: int = 0
    faults: list[str] = field(default_factory=list)


@dataclass
class Lane:
    """One invocation."""

    index: int
    outcome: str
    start: str = ""


@dataclass
class Row:
    """One operation (or the handler's own code)."""

    key: str
    label: str
    op_type: str = ""
    highlight: str = ""  # why this row is highlighted, or ""


@dataclass
class Timeline:
    """The grid: ``cells[(row key, lane index)]``."""

    lanes: list[Lane]
    rows: list[Row]
    cells: dict[tuple[str, int], Cell]
    unplaced_faults: list[str] = field(default_factory=list)
    hidden_rows: int = 0
    hidden_lanes: int = 0

    def boxes(self) -> int:
        """How many cells show something (a test's "the timeline is not empty")."""
        return sum(1 for c in self.cells.values() if c.status)


def _label(op: dict[str, Any], operations: list[dict[str, Any]]) -> str:
    from chaosdurable.faults.schedule import describe_operation

    kind = str(op.get("SubType") or op.get("Type") or "").lower()
    if op.get("Name"):
        return f"{kind} {op['Name']}"
    return describe_operation(str(op["Id"]), operations)


def _status(cell: Cell, done_before: bool, handler_row: bool) -> str:
    if handler_row:
        return "ran" if cell.effects or cell.faults else ""
    accepted = [a for a, ok in cell.checkpoints if ok]
    if "FAIL" in accepted:
        return "failed"
    if "SUCCEED" in accepted:
        return "succeeded"
    if any(not ok for _, ok in cell.checkpoints):
        return "lost" if cell.crashed else "rejected"
    if "RETRY" in accepted:
        return "retrying"
    if "START" in accepted:
        return "started"
    if cell.bodies or cell.effects or cell.checkpoints or cell.faults:
        return "replayed" if done_before and not cell.bodies else "lost"
    return "replayed" if done_before else ""


def _highlights(verdict: Any, rows: list[Row]) -> None:
    divergence = verdict.first_divergence() if verdict.violations else None
    wanted: dict[str, str] = {}
    for v in verdict.violations:
        if v.op:
            wanted.setdefault(str(v.op), f"[{v.checker}] {v.message}")
        elif v.checker in ("idempotency", "effects_outside_steps"):
            wanted.setdefault(HANDLER_ROW, f"[{v.checker}] {v.message}")
    for row in rows:
        name = row.label.split(" ", 1)[-1]
        if divergence and (divergence.startswith(f"{row.op_type} {name!r}") or divergence.startswith(row.label)):
            row.highlight = f"first divergence: {divergence}"
        for op, why in wanted.items():
            if op in (row.key, name) and not row.highlight:
                row.highlight = why


def build_timeline(verdict: Any, which: str = "chaotic") -> Timeline:
    """The grid of ``verdict.chaotic`` (or ``verdict.reference`` with ``which="reference"``)."""
    run = getattr(verdict, which)
    arn = getattr(run, "arn", "") or ""
    own = [op for op in verdict.reference.operations if op.get("Type") != "EXECUTION"]
    known = {op["Id"] for op in own}
    ops = own + [op for op in run.operations if op.get("Type") != "EXECUTION" and op["Id"] not in known]
    rows = [Row(HANDLER_ROW, HANDLER_ROW)] + [
        Row(str(op["Id"]), _label(op, ops), str(op.get("Type") or "")) for op in ops]
    keys = {row.key for row in rows}
    starts = [e.get("InvocationCompletedDetails", {}).get("StartTimestamp", "") for e in run.history
              if e.get("EventType") == "InvocationCompleted"]
    lanes = [Lane(int(inv.get("index", n + 1)), invocation_outcome(inv), str(starts[n]) if n < len(starts) else "")
             for n, inv in enumerate(run.invocations)]
    cells: dict[tuple[str, int], Cell] = {}

    def cell(key: str | None, invocation: Any) -> Cell | None:
        if not isinstance(invocation, int):
            return None
        key = key if key in keys else HANDLER_ROW
        return cells.setdefault((key, invocation), Cell())

    for cp in run.checkpoints:
        if arn and cp.get("arn", arn) != arn:
            continue  # a chained-invoke child execution's own checkpoint
        for update in cp.get("updates", []):
            if update.get("Type") == "EXECUTION":
                continue
            target = cell(str(update.get("Id")), cp.get("invocation"))
            if target is not None:
                target.checkpoints.append((str(update.get("Action")), bool(cp.get("accepted"))))
                target.crashed |= "crash" in str(cp.get("error") or "")
    for body in run.body_runs:
        if arn and body.where.arn not in (None, arn):
            continue
        target = cell(body.where.op_id if body.where.in_step else None, body.where.invocation)
        if target is not None and body.where.in_step:
            target.bodies += 1
    for effect in run.effects:
        if arn and effect.where.arn not in (None, arn):
            continue
        where = effect.where
        target = cell(where.op_id if where.op_id else None, where.invocation)
        if target is not None and effect.mutating:
            target.effects.append(effect.name + (f" (key {effect.key})" if effect.key else ""))
    unplaced = []
    if which == "chaotic":
        for firing in verdict.fired:
            text = verdict.in_words(firing.describe())
            target = cell(fired_operation(firing, ops), fired_invocation(firing))
            if target is None:
                unplaced.append(text)
            else:
                target.faults.append(text)
    # operations the service completes (a wait elapsing, a callback answered): done after their START
    by_service = {str(op["Id"]) for op in run.operations if op.get("Status") not in ("STARTED", "PENDING", "READY")}
    persisted_end = {key for (key, _), c in cells.items() if any(
        ok and a in ("SUCCEED", "FAIL") for a, ok in c.checkpoints)}
    by_service -= persisted_end
    done: set[str] = set()
    for lane in lanes:
        finished = set()
        for row in rows:
            c = cells.get((row.key, lane.index))
            if c is None and row.key in done:
                c = cells.setdefault((row.key, lane.index), Cell())
            if c is not None:
                c.status = _status(c, row.key in done, row.key == HANDLER_ROW)
                if c.status in ("succeeded", "failed") or (c.status == "started" and row.key in by_service):
                    finished.add(row.key)
        done |= finished
    _highlights(verdict, rows)
    used = [r for r in rows if r.highlight or any(cells.get((r.key, lane.index)) for lane in lanes)]
    hidden_rows = max(0, len(used) - MAX_ROWS)
    hidden_lanes = max(0, len(lanes) - MAX_LANES)
    return Timeline(lanes=lanes[:MAX_LANES], rows=used[:MAX_ROWS], cells=cells, unplaced_faults=unplaced,
                    hidden_rows=hidden_rows, hidden_lanes=hidden_lanes)
