"""History well-formedness: events come in a legal order and every operation ends at most once.

EventIds run 1..n; ExecutionStarted is first; one terminal execution event, and nothing but
nothing after it; timestamps never go back; per operation, nothing precedes its start and
nothing follows its terminal event (a step's retries are not terminal).
"""

from __future__ import annotations

import itertools

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import RunRecord

NAME = "well_formed"
_TERMINAL_SUFFIXES = ("Succeeded", "Failed", "TimedOut", "Stopped", "Cancelled")


def _check(run: RunRecord) -> list[Violation]:
    out = []
    events = run.history
    for i, event in enumerate(events, start=1):
        if event["EventId"] != i:
            out.append(Violation(NAME, f"{run.label} history: event #{i} has EventId {event['EventId']}"))
            break
    if events and events[0]["EventType"] != "ExecutionStarted":
        out.append(Violation(NAME, f"{run.label} history does not begin with ExecutionStarted"))
    terminal_exec = [e for e in events
                     if e["EventType"].startswith("Execution") and e["EventType"] != "ExecutionStarted"]
    if len(terminal_exec) > 1:
        out.append(Violation(NAME, f"{run.label} history has {len(terminal_exec)} execution outcomes"))
    if terminal_exec and events[-1] is not terminal_exec[0]:
        out.append(Violation(NAME, f"{run.label} history has events after {terminal_exec[0]['EventType']}"))
    for a, b in itertools.pairwise(events):
        if b["EventTimestamp"] < a["EventTimestamp"]:
            out.append(Violation(NAME, f"{run.label} history goes back in time at event {b['EventId']}"))
            break
    ended: dict[str, str] = {}
    started: set[str] = set()
    for event in events:
        op_id = event.get("Id")
        kind = event["EventType"]
        if op_id is None or kind.startswith(("Execution", "Invocation")):
            continue
        if op_id in ended:
            out.append(Violation(NAME, f"{run.label} history: {kind} for operation {event.get('Name') or op_id!r} "
                                       f"after it already ended with {ended[op_id]}", op=event.get("Name")))
            continue
        if kind.endswith("Started"):
            started.add(op_id)
        retry = kind in ("StepFailed", "StepSucceeded") and "NextAttemptDelaySeconds" in (
            event.get(f"{kind}Details", {}).get("RetryDetails") or {})
        if kind.endswith(_TERMINAL_SUFFIXES) and not retry:
            ended[op_id] = kind
    return out


def well_formed(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """Violations of history well-formedness in either run."""
    require_same_handler(reference, chaotic)
    return _check(reference) + _check(chaotic)
