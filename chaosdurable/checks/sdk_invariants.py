"""The SDK's own invariants (issue 14 §3), as checkers over the recorded history.

- ``result_provenance``: a result that reached user code came from the operation's own checkpoint
  (or the service's own completion of it), or from its own body run in that invocation; a replayed
  result equals the checkpointed one.
- ``retryable_not_fatal``: a checkpoint error the service marks retryable (429, 5xx, "Invalid
  checkpoint token") never ends the execution FAILED.
- ``tokens_issued``: every checkpoint token the SDK sends (checkpoint, GetDurableExecutionState) is
  one the service issued.
- ``suspension``: an invocation that suspends (returns PENDING) leaves something that can wake the
  execution (a timer, a pending callback or invoke, a retry, a step to run), and the SDK does not
  suspend again and again without checkpointing anything.

They are not in ``ALL_CHECKERS`` (the default set of ``check``): they judge the SDK, not the handler,
and ``result_provenance`` needs a handler that reports what its operations returned
(``chaosdurable.history.ledger.observe_return``; the self-property's interpreter does). Use
``check(..., checkers={**ALL_CHECKERS, **SDK_INVARIANTS})``, or name them. Each reads the chaotic
run only, and stays silent on what a record does not hold (hand-built or deployed records).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from chaosdurable.checks.base import Checker, Ledger, Violation, require_same_handler, shorten
from chaosdurable.history.record import Returned, RunRecord

#: how many invocations in a row may suspend without an accepted checkpoint before it counts as a livelock
LIVELOCK_RUN = 3

#: the service's retryable checkpoint errors: throttling, its own failures, and a superseded token
#: (the next invocation gets a fresh one); the SDK must end the invocation, never the execution
INVALID_TOKEN_MESSAGE = "Invalid checkpoint token"


def is_retryable(code: str | None, status: int | None, message: str | None) -> bool:
    """Whether the service means this checkpoint rejection as retryable (the SDK's classifier is
    what is under test, so this is the service's contract, written out)."""
    if status is None:
        return False
    if status == 429 or status >= 500:
        return True
    return code == "InvalidParameterValueException" and (message or "") == INVALID_TOKEN_MESSAGE


# ----------------------------------------------------------------------------- provenance
_SERVICE_COMPLETIONS = {"CallbackSucceeded", "CallbackFailed", "CallbackTimedOut", "ChainedInvokeSucceeded",
                        "ChainedInvokeFailed", "ChainedInvokeTimedOut", "ChainedInvokeStopped", "WaitSucceeded"}
#: stands for the payload of a ReplayChildren context's SUCCEED (a summary: never compared)
_SUMMARY = "\0summary"
#: operations whose checkpointed payload is not the value user code receives (a BatchResult)
_NOT_COMPARED = {"Map", "Parallel"}


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


def _untag(value: Any) -> Any:
    """A value in the SDK's typed envelope (``{"t": "m", "v": {...}}``, the extended serdes of child
    contexts) as plain JSON data; other values unchanged."""
    if isinstance(value, dict) and set(value) == {"t", "v"} and isinstance(value["t"], str):
        tag, inner = value["t"], value["v"]
        if tag == "m" and isinstance(inner, dict):
            return {k: _untag(v) for k, v in inner.items()}
        if tag in ("l", "t") and isinstance(inner, list):
            return [_untag(v) for v in inner]
        return inner
    return value


def same_result(payload: str | None, observed: str) -> bool:
    """Whether the checkpointed ``payload`` is the value ``observed`` (JSON text) reached user code as."""
    stored, seen = _loads(payload), _loads(observed)
    return stored == seen or _untag(stored) == seen or (isinstance(stored, str) and _loads(stored) == seen)


def _invocation_ends(run: RunRecord) -> list[int]:
    """History positions of the run's InvocationCompleted events: invocation k ended at the k-th."""
    return [i for i, e in enumerate(run.history) if e.get("EventType") == "InvocationCompleted"]


def result_provenance(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """Every reported result (``chaotic.returns``) has a source of its own, and a replay returns what was checkpointed.

    A result reported in invocation *i* (delivery copy *c*) of operation *op* is explained by
    - a SUCCEED checkpoint of *op* accepted in an earlier invocation, or in (*i*, *c*); or
    - the service's own completion of *op* (callback answered, invoke ended, wait elapsed) before *i* ended; or
    - a body run of *op* (its step body, check function or child function) in (*i*, *c*).
    None of these: the SDK handed user code a result *op* never produced, e.g. another operation's
    checkpoint. With a checkpoint source, the value must equal the checkpointed payload (maps and
    parallels return a ``BatchResult`` built from their children: not compared).
    """
    require_same_handler(reference, chaotic)
    if not chaotic.returns:
        return []
    out: list[Violation] = []
    by_place = {(op.get("ParentId"), op.get("Name")): op for op in chaotic.operations if op.get("Type") != "EXECUTION"}
    succeeded: dict[str, list[tuple[int, int, str | None]]] = defaultdict(list)
    for cp in chaotic.checkpoints:
        if not cp.get("accepted") or (cp.get("arn") or chaotic.arn) != chaotic.arn:
            continue
        for u in cp["updates"]:
            if u.get("Action") == "SUCCEED" and u.get("Type") in ("STEP", "CONTEXT"):
                # a ReplayChildren context checkpoints a summary, not its result: its body re-runs on replay
                summary = bool((u.get("ContextOptions") or {}).get("ReplayChildren"))
                succeeded[u["Id"]].append((cp.get("invocation") or 0, cp.get("copy", 0),
                                           _SUMMARY if summary else u.get("Payload")))
    completions: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for position, event in enumerate(chaotic.history):
        if event.get("EventType") in _SERVICE_COMPLETIONS and event.get("Id"):
            completions[event["Id"]].append((position, event))
    ends = _invocation_ends(chaotic)
    bodies = {(b.where.op_id, b.where.invocation, b.where.copy) for b in chaotic.body_runs
              if (b.where.arn or chaotic.arn) == chaotic.arn}
    for seen in chaotic.returns:
        if (seen.where.arn or chaotic.arn) != chaotic.arn or seen.where.invocation is None:
            continue  # a child execution's (its operations are not in this record), or unattributed
        found = _explain(seen, by_place, succeeded, completions, ends, bodies)
        if found is not None:
            out.append(Violation("result_provenance", found, op=seen.name, invocation=seen.where.invocation,
                                 source=seen.where.source))
    return out


def _explain(seen: Returned, by_place: dict[tuple[Any, Any], dict[str, Any]],
             succeeded: dict[str, list[tuple[int, int, str | None]]],
             completions: dict[str, list[tuple[int, dict[str, Any]]]], ends: list[int],
             bodies: set[tuple[str | None, int | None, int]]) -> str | None:
    """Why ``seen`` is not explained (None: it is)."""
    inv, copy = seen.where.invocation or 0, seen.where.copy
    op = by_place.get((seen.where.op_id, seen.name))
    value = shorten(seen.value, 120)
    if op is None:
        return (f"{seen.name!r} returned {value} to user code in invocation {inv}, but the execution has no "
                f"operation of that name under its parent ({seen.where.op_id or 'the root'}): the result came from "
                "no checkpoint and no body run of its own")
    op_id = op["Id"]
    commits = [(i, c, p) for i, c, p in succeeded.get(op_id, []) if i < inv or (i == inv and c == copy)]
    end = ends[inv - 1] if 0 < inv <= len(ends) else None
    done = [e for pos, e in completions.get(op_id, []) if end is None or pos < end]
    ran = (op_id, inv, copy) in bodies
    if not (commits or done or ran):
        return (f"{seen.name!r} returned {value} to user code in invocation {inv} without a source of its own: "
                f"no SUCCEED checkpoint of it was accepted before, the service had not completed it, and its "
                "body did not run in that invocation (a result taken from another operation?)")
    if op.get("SubType") in _NOT_COMPARED:
        return None
    if commits:
        at, _copy, payload = commits[0]
        if payload is not _SUMMARY and not same_result(payload, seen.value):
            return (f"{seen.name!r} returned {value} in invocation {inv}, but its checkpoint (accepted in invocation "
                    f"{at}) holds {shorten(payload, 120)}")
    for event in done:
        details = event.get(f"{event['EventType']}Details") or {}
        if event["EventType"].endswith("Succeeded") and "Result" in details and not ran and not commits:
            payload = (details.get("Result") or {}).get("Payload")
            if payload is not None and not same_result(payload, seen.value):
                return (f"{seen.name!r} returned {value} in invocation {inv}, but the service completed it with "
                        f"{shorten(payload, 120)}")
    return None


# ------------------------------------------------------------------------- failure modes
def retryable_not_fatal(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """The execution did not end FAILED in an invocation that met a retryable checkpoint error."""
    require_same_handler(reference, chaotic)
    if chaotic.status != "FAILED" or not chaotic.invocations:
        return []
    last = chaotic.invocations[-1]["index"]
    if chaotic.invocations[-1].get("dead"):
        return []
    hits = [cp for cp in chaotic.checkpoints
            if (cp.get("arn") or chaotic.arn) == chaotic.arn and cp.get("invocation") == last and not cp.get("copy")
            and cp.get("accepted") is False and is_retryable(cp.get("code"), cp.get("status"), cp.get("error"))]
    if not hits:
        return []
    first = hits[0]
    error = chaotic.error or {}
    return [Violation(
        "retryable_not_fatal",
        f"the execution ended FAILED in invocation {last}, which had a checkpoint rejected with a retryable error "
        f"({first.get('status')} {first.get('code')}: {first.get('error')!r}); a retryable error ends the "
        "invocation (the service invokes again), never the execution",
        invocation=last,
        detail=(f"execution error: {error.get('ErrorType')}: {shorten(error.get('ErrorMessage'), 200)}",))]


def tokens_issued(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """Every token the SDK sent back (checkpoint, GetDurableExecutionState) is one the service issued,
    to that same invocation (a token kept from an earlier invocation, e.g. in module state, is not)."""
    require_same_handler(reference, chaotic)
    issued = chaotic.issued_tokens
    if issued is None:
        return []
    out = []
    calls = [("checkpoint", cp) for cp in chaotic.checkpoints if "token" in cp]
    calls += [("GetDurableExecutionState", call) for call in chaotic.state_calls]
    for what, call in calls:
        token, invocation = call.get("token"), call.get("invocation")
        if token not in issued:
            message = f"a {what} call sent the checkpoint token {token!r}, which the service never issued"
        elif invocation is not None and issued[token] != invocation:
            message = (f"a {what} call in invocation {invocation} sent the checkpoint token {token!r}, which the "
                       f"service issued to invocation {issued[token]}")
        else:
            continue
        out.append(Violation("tokens_issued", message, invocation=invocation))
        break  # one is enough: the rest usually repeat it
    return out


# ----------------------------------------------------------------------------- liveness
def suspension(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """Each suspension leaves a way to wake the execution, and the SDK makes progress between suspensions.

    Reads ``invocations[*]["wakes"]`` (recorded by the engine when an invocation returned PENDING)
    and the accepted checkpoints. Reported for the chaotic run, unless the fault-free run shows the same.
    """
    require_same_handler(reference, chaotic)
    found = _suspension_problems(chaotic)
    if found and _suspension_problems(reference):
        return []  # the handler itself (a bug the fault-free run shows too): liveness reports it
    return found


def _suspension_problems(run: RunRecord) -> list[Violation]:
    out: list[Violation] = []
    accepted: defaultdict[int, int] = defaultdict(int)
    for cp in run.checkpoints:
        if cp.get("accepted") and (cp.get("arn") or run.arn) == run.arn:
            accepted[cp.get("invocation") or 0] += 1
    streak: list[int] = []
    for inv in run.invocations:
        wakes = inv.get("wakes")
        if wakes is None:  # did not suspend (ended, failed, crashed) or not recorded
            streak = []
            continue
        if not wakes:
            out.append(Violation(
                "suspension", f"invocation {inv['index']} suspended (returned PENDING) while nothing could wake the "
                              "execution: no timer, pending callback or invoke, retry, or step to run",
                invocation=inv["index"]))
        streak = [*streak, inv["index"]] if not accepted[inv["index"]] else []
        if len(streak) == LIVELOCK_RUN:
            out.append(Violation(
                "suspension", f"invocations {streak[0]}..{streak[-1]} each suspended without a single accepted "
                              f"checkpoint: the SDK makes no progress (last woken by: {', '.join(wakes) or 'nothing'})",
                invocation=streak[-1]))
    return out


SDK_INVARIANTS: dict[str, Checker] = {
    "result_provenance": result_provenance,
    "retryable_not_fatal": retryable_not_fatal,
    "tokens_issued": tokens_issued,
    "suspension": suspension,
}
