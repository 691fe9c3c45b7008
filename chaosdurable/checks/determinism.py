"""Replay determinism: every replay issues the same operations, with the same values.

- the SDK's own detection (``NonDeterministicExecutionError``) in either run is reported
  with the operation it names;
- the chaotic run's operations (type, subtype, name, parent) must be the fault-free run's,
  operation id by operation id (ids derive from the call structure); the first divergent
  operation, in the fault-free run's order, is reported;
- values computed outside steps and sent with an operation's START (wait durations,
  callback timeouts, invoke targets and payloads, child-context and step names) must be
  equal in both runs; a value that is, in each run, the result of the same step (at the same
  path) was minted inside that step and is not compared (``fresh.carried_by_steps``).
Skipped when a fault legitimately changes the outcome (the flow may branch on it).

Control flow may branch on results, so operations are compared only up to the first one (in the
fault-free run's order) whose *result* differs between the runs: a step, a callback or a chained
invoke that returned something else under faults (a read whose injected failure the step swallowed
and turned into "missing", fresh values aside). What follows it may legitimately differ; the different
result itself is for the other checkers (resumption, idempotency). A replay that takes another path
with the same results is still caught, before that point, and by the SDK's own check at any point.
"""

from __future__ import annotations

from typing import Any

from chaosdurable.checks.base import Ledger, Violation, op_label, require_same_handler
from chaosdurable.checks.fresh import FreshValues, carried_by_steps
from chaosdurable.history.record import RunRecord

NAME = "determinism"
_START_FIELDS = ("WaitOptions", "CallbackOptions", "ChainedInvokeOptions", "Name", "SubType")


def _shape(run: RunRecord, fresh: FreshValues) -> list[tuple[Any, ...]]:
    return [(op["Type"], op.get("SubType"), fresh.normalize(run, op.get("Name")),
             fresh.normalize(run, op_label(run, op.get("ParentId"))), op["Id"])
            for op in run.operations if op["Type"] != "EXECUTION"]


def _starts(run: RunRecord, fresh: FreshValues | None = None) -> dict[str, dict[str, Any]]:
    """The START update of every operation, its identifying fields (fresh values replaced)."""
    out: dict[str, dict[str, Any]] = {}
    for cp in run.checkpoints:
        if not cp.get("accepted") or (run.arn and cp.get("arn", run.arn) != run.arn):
            continue  # chained-invoke children number their operations independently
        for u in cp["updates"]:
            if u.get("Action") == "START" and u["Id"] not in out:
                fields = {k: u.get(k) for k in _START_FIELDS}
                if u.get("Type") == "CHAINED_INVOKE":
                    fields["Payload"] = u.get("Payload")
                if fresh:
                    fields = {k: fresh.normalize(run, v) if isinstance(v, str) else v for k, v in fields.items()}
                out[u["Id"]] = fields
    return out


#: operations whose result user code receives and may branch on (a child context's result is its
#: operations', which are compared one by one)
_RESULT_TYPES = ("STEP", "CALLBACK", "CHAINED_INVOKE")


def first_different_result(reference: RunRecord, chaotic: RunRecord, fresh: FreshValues) -> int | None:
    """The index (among the fault-free run's operations, the execution left out) of the first operation
    that ended in both runs with a different outcome (status, result with fresh values replaced, error
    type); None when every such operation agrees."""
    theirs = {op["Id"]: op for op in chaotic.operations}
    index = -1
    for op in reference.operations:
        if op["Type"] == "EXECUTION":
            continue
        index += 1
        other = theirs.get(op["Id"])
        if op["Type"] not in _RESULT_TYPES or other is None or other["Type"] != op["Type"]:
            continue
        if not all(o.get("Status") in ("SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "STOPPED")
                   for o in (op, other)):
            continue

        def outcome(run: RunRecord, o: dict[str, Any]) -> tuple[Any, ...]:
            return (o.get("Status"), fresh.normalize(run, o.get("Result")), (o.get("Error") or {}).get("ErrorType"))

        if outcome(reference, op) != outcome(chaotic, other):
            return index
    return None


def _sdk_message(run: RunRecord) -> str | None:
    texts = [run.error or {}] + [op.get("Error") or {} for op in run.operations]
    for err in texts:
        if "NonDeterministic" in str(err.get("ErrorType", "")):
            return str(err.get("ErrorMessage"))
    return None


def _sdk_detected(reference: RunRecord, chaotic: RunRecord) -> list[Violation]:
    """The SDK's own non-deterministic replay detection, in either run (one finding when in both)."""
    mine, theirs = _sdk_message(reference), _sdk_message(chaotic)
    if mine is not None:
        again = " (and again in the chaotic run)" if theirs is not None else ""
        return [Violation(NAME, f"the SDK detected a non-deterministic replay in the fault-free run{again}: {mine}",
                          detail=("control flow outside steps must depend only on the input and on step results: "
                                  "not on the clock, randomness, module state or an input the handler mutates",))]
    if theirs is not None:
        return [Violation(NAME, f"the SDK detected a non-deterministic replay in the chaotic run: {theirs}")]
    return []


def determinism(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """The first divergence between the fault-free and the chaotic replays."""
    require_same_handler(reference, chaotic)
    out = _sdk_detected(reference, chaotic)
    if out or ledger.outcome_may_change:
        return out
    ref, got = _shape(reference, ledger.fresh), _shape(chaotic, ledger.fresh)
    cutoff = first_different_result(reference, chaotic, ledger.fresh)
    if cutoff is not None:  # what follows a different result may branch on it
        compared = {shape[4] for shape in ref[:cutoff + 1]}
        ref = ref[:cutoff + 1]
        got = [shape for shape in got if shape[4] in compared]
    got_by_id = {shape[4]: shape for shape in got}
    ref_ids = {shape[4] for shape in ref}
    # Operation ids are a pure function of the call structure, so they are compared by id: the
    # creation order of concurrent map/parallel branches is thread timing, not determinism.
    for index, a in enumerate(ref):
        b = got_by_id.get(a[4])
        if b is None:
            if reference.status == chaotic.status:
                return [Violation(
                    NAME, f"operation #{index + 1}, {a[0]} {a[2]!r} (under {a[3] or 'the handler'}), was not "
                          "issued by the replays under faults", op=a[2],
                    detail=("control flow outside steps must depend only on the input and on step results",))]
            continue
        if a[:4] != b[:4]:
            return [Violation(
                NAME, f"operation #{index + 1} differs between the fault-free run and a replay under faults: "
                      f"{a[0]} {a[2]!r} (under {a[3] or 'the handler'}) became {b[0]} {b[2]!r}",
                op=b[2] or a[2],
                detail=("control flow outside steps must depend only on the input and on step results",))]
    extra = [shape for shape in got if shape[4] not in ref_ids]
    if extra and reference.status == chaotic.status:
        return [Violation(NAME, f"the replays under faults issued an operation the fault-free run did not: "
                                f"{extra[0][0]} {extra[0][2]!r} (under {extra[0][3] or 'the handler'})",
                          op=extra[0][2])]
    ref_starts, got_starts = _starts(reference, ledger.fresh), _starts(chaotic, ledger.fresh)
    for op_id, fields in ref_starts.items():
        other = got_starts.get(op_id)
        if op_id not in ref_ids:
            continue  # started after a different result: not compared
        if other is None or other == fields:
            continue
        # a value minted inside a step (a wait computed from a deadline a step saved) differs between
        # executions, and again when a fault re-runs or delays the step: compare where it came from
        changed = [k for k in fields if fields[k] != other.get(k)
                   and not carried_by_steps(reference, fields[k], chaotic, other.get(k))]
        if not changed:
            continue
        label = op_label(reference, op_id)
        return [Violation(
            NAME, f"operation {label!r} was started with different values under faults: "
                  + ", ".join(f"{k} {fields[k]!r} -> {other.get(k)!r}" for k in changed),
            op=label, detail=("a value computed outside a step differs between replays",))]
    return out
