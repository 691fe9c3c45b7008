"""Uninterrupted: the fault-free execution ends the same way when it never suspends at its waits.

The service suspends an execution at every wait and replays it from the top afterwards. Replay is
meant to be invisible: code that is replay-safe computes the same thing whether it ran straight
through or was suspended and replayed. ``check`` therefore runs the fault-free execution once more
with every wait completed at once (``Knobs.complete_waits_inline``: an oracle, not a behaviour of
the real service), so nothing is replayed across a wait, and compares how the two runs end.

Guarantees: when the run straight through and the fault-free run (which suspended at its waits)
end with another status, another error, or another value at some place of the result, while a
second fault-free run agrees with the first there, it reports the first such place. The usual
cause: a step body that stores what it computed in a variable or object around it (a closure,
the event, a list) instead of returning it. Only the returned value is checkpointed, so after a
suspension the replay skips the body and the value is gone, in every execution, with or without
faults: the comparing checkers never see it, because every run is wrong the same way.

Cannot see: handlers with no wait (callbacks and invokes still suspend in the oracle run, so a
value lost across those is not seen here: ``final_replay`` and faults catch those); places of the
result that two fault-free runs already disagree on (values minted anew per execution); runs with
clock, random or uuid reads outside steps (the tripwire judges those); the ``aws`` backend. With the
virtual clock (the default) the handler's clock moves with each wait completed at once, in a subprocess
child too (``SubprocessInvoker.moved_now_ms``).
"""

from __future__ import annotations

import json
from typing import Any

from chaosdurable.checks.base import Ledger, Violation, require_same_handler, shorten
from chaosdurable.history.record import RunRecord

NAME = "uninterrupted"

#: what is wrong, in the reader's terms, whatever the place
_CAUSE = ("the usual causes: (1) a step body that stores its value in a variable or object around it (a closure, "
          "the event, a list) instead of returning it: only the returned value is checkpointed, so after the "
          "suspension the replay skips the body and the value is gone; return the value from the step (or from "
          "the child context) and use what it returns. (2) state a step leaves in memory (a module global, a "
          "client or token cache) or in /tmp: the replay after the wait may run on another sandbox or process "
          "that never had it; keep it in the step's result or fetch it again where it is used")


def _flatten(value: Any, path: str = "$") -> dict[str, Any]:
    """Every leaf of a JSON value by its path (``$.order.total``, ``$[2]``), with containers' sizes."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        out[path] = f"an object of {len(value)} key(s)"
        for key in sorted(value, key=str):
            out.update(_flatten(value[key], f"{path}.{key}"))
    elif isinstance(value, list):
        out[path] = f"a list of {len(value)} item(s)"
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{path}[{i}]"))
    else:
        out[path] = value
    return out


def _parsed(result: str | None) -> Any:
    try:
        return None if result is None else json.loads(result)
    except (TypeError, ValueError):
        return result


def _shown(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith(("an object", "a list", "SUCCEEDED", "FAILED")) \
        else shorten(json.dumps(value, default=str), 160)


def _ending(run: RunRecord) -> str:
    if run.status == "SUCCEEDED":
        return f"SUCCEEDED {shorten(str(run.result), 80)}"
    error = run.error or {}
    return f"{run.status} {error.get('ErrorType', '')}: {shorten(str(error.get('ErrorMessage', '')), 80)}"


def compare(reference: RunRecord, witness: RunRecord, straight: RunRecord) -> tuple[str, ...]:
    """The finding in lines (empty when the runs agree wherever the two fault-free runs agree).

    ``reference`` and ``witness`` are two fault-free runs (suspended at their waits), ``straight``
    the run with every wait completed at once.
    """
    if reference.stuck or straight.stuck or witness.stuck:
        return ()
    where: str | None = None
    suspended: Any = None
    through: Any = None
    if (reference.status, witness.status) != (straight.status,) * 2:
        if reference.status != witness.status:
            return ()
        where, suspended, through = "its status", _ending(reference), _ending(straight)
    elif reference.status != "SUCCEEDED":
        ref_err, wit_err, str_err = (r.error or {} for r in (reference, witness, straight))
        key = ("ErrorType", "ErrorMessage")
        if [ref_err.get(k) for k in key] == [wit_err.get(k) for k in key] != [str_err.get(k) for k in key]:
            where, suspended, through = "its error", _ending(reference), _ending(straight)
    else:
        ref, wit, other = (_flatten(_parsed(r.result)) for r in (reference, witness, straight))
        for path in sorted(set(ref) | set(other), key=lambda p: (p.count(".") + p.count("["), p)):
            if ref.get(path, "<absent>") == wit.get(path, "<absent>") != other.get(path, "<absent>"):
                where = f"the result at {path}"
                suspended, through = ref.get(path, "<absent>"), other.get(path, "<absent>")
                break
    if where is None:
        return ()
    waits = sum(1 for op in reference.operations if op.get("Type") == "WAIT")
    return (
        f"the fault-free execution ends another way when it runs straight through its {waits} wait(s) than when "
        f"it suspends at them and is replayed, as the service does: {where} differs",
        f"  suspended and replayed ({len(reference.invocations)} invocations): {_shown(suspended)}",
        f"  straight through ({len(straight.invocations)} invocation(s)):  {_shown(through)}",
        "a second fault-free run agrees with the first there, so this is not a value minted anew per execution",
        *_suspects(reference),
        _CAUSE,
    )


def _suspects(reference: RunRecord) -> tuple[str, ...]:
    """A line naming the step bodies that ran before a suspension and were then replayed from their checkpoints
    (their results came back, anything else they left in memory did not), with where each is, when any."""
    last = len(reference.invocations)
    seen: dict[str, str] = {}
    for run in reference.body_runs:
        where = run.where
        if where.in_step and where.op_name and (where.invocation or last) < last:
            seen.setdefault(where.op_name, f"{where.op_name!r}" + (f" ({where.source})" if where.source else ""))
    if not seen:
        return ()
    return ("the step bodies that ran before a suspension and were replayed from their checkpoints after it (only "
            f"their returned values came back): {', '.join(list(seen.values())[:6])}",)


def uninterrupted(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """One violation when the fault-free run straight through its waits (``reference.uninterrupted``) ended
    another way."""
    require_same_handler(reference, chaotic)
    lines = reference.uninterrupted
    if not lines:
        return []
    return [Violation(NAME, lines[0], detail=tuple(lines[1:]))]
