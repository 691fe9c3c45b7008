"""Correct resumption: despite the faults, the chaotic run ends like the fault-free run.

Same status and same result (or error type). A fault whose kind legitimately changes the
outcome (a callback answered with failure or too late, missed heartbeats, a non-retryable
4xx from the checkpoint API) is declared in the ledger and excuses a different outcome.
"""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, op_label, require_same_handler, sdk_mismatch, shorten
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.history.record import RunRecord

NAME = "resumption"


def first_divergent_operation(reference: RunRecord, chaotic: RunRecord,
                              fresh: FreshValues | None = None) -> tuple[str | None, str | None]:
    """(label, description) of the first operation, in the fault-free run's order, whose outcome differs
    (step results compared with their fresh values replaced, when ``fresh`` is given)."""
    fresh = fresh or FreshValues()
    got = {op["Id"]: op for op in chaotic.operations}
    for op in reference.operations:
        if op["Type"] == "EXECUTION":
            continue
        other = got.get(op["Id"])
        label = op_label(reference, op["Id"])
        if other is None:
            return label, f"{op['Type']} {label!r} was {op['Status']} without faults and never reached under faults"
        if other["Type"] != op["Type"] or (other.get("Name") or None) != (op.get("Name") or None):
            # the same position (operation ids are positional) holds another operation under faults
            other_label = other.get("Name") or other["Id"][:12]
            return label, (f"{op['Type']} {label!r} without faults is {other['Type']} {other_label!r} "
                           "under faults")
        if (op["Status"], fresh.normalize(reference, op.get("Result"))) != (
                other["Status"], fresh.normalize(chaotic, other.get("Result"))):
            why = shorten((other.get("Error") or {}).get("ErrorType") or other.get("Result"), 120)
            return label, (f"{op['Type']} {label!r} was {op['Status']} without faults and {other['Status']} "
                           f"under faults ({why})")
    return None, None


def resumption(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """A violation when the outcome differs without a fault that declares it may."""
    require_same_handler(reference, chaotic)
    if chaotic.stuck or reference.stuck or ledger.outcome_may_change:
        return []
    fresh = ledger.fresh
    op, divergence = first_divergent_operation(reference, chaotic, fresh)
    divergence = sdk_mismatch(chaotic) or divergence  # where the SDK itself stopped the replay, when it did
    extra = (f"first divergent operation: {divergence}",) if divergence else ()
    if reference.status != chaotic.status:
        reason = (chaotic.error or {}).get("ErrorMessage") or (chaotic.error or {}).get("ErrorType")
        return [Violation(
            NAME, f"the execution ended {chaotic.status} under faults but {reference.status} without them",
            op=op,
            detail=(*extra, f"fault-free result: {reference.result_payload!r}",
                    f"chaotic error: {chaotic.error!r}" if chaotic.error else f"chaotic result: {reason!r}"))]
    if reference.status == "SUCCEEDED" and (
            fresh.normalize_value(reference, reference.result) != fresh.normalize_value(chaotic, chaotic.result)):
        under = "under faults" if ledger.fired else "in the chaotic run (no fault fired)"
        return [Violation(
            NAME, f"the execution returned a different result {under}", op=op,
            detail=(*extra, f"fault-free: {shorten(reference.result_payload)}",
                    f"chaotic:   {shorten(chaotic.result_payload)}"))]
    if reference.status == "FAILED":
        want = (reference.error or {}).get("ErrorType")
        got = (chaotic.error or {}).get("ErrorType")
        if want != got:
            return [Violation(NAME, f"the execution failed with {got} under faults but with {want} without them",
                              op=op, detail=extra)]
    return []
