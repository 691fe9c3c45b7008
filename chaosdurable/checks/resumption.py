"""Correct resumption: despite the faults, the chaotic run ends like the fault-free run.

Same status and same result (or error type). A fault whose kind legitimately changes the
outcome (a callback answered with failure or too late, missed heartbeats, a non-retryable
4xx from the checkpoint API) is declared in the ledger and excuses a different outcome.
"""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, require_same_handler
from chaosdurable.history.record import RunRecord

NAME = "resumption"


def resumption(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """A violation when the outcome differs without a fault that declares it may."""
    require_same_handler(reference, chaotic)
    if chaotic.stuck or reference.stuck or ledger.outcome_may_change:
        return []
    if reference.status != chaotic.status:
        reason = (chaotic.error or {}).get("ErrorMessage") or (chaotic.error or {}).get("ErrorType")
        return [Violation(
            NAME, f"the execution ended {chaotic.status} under faults but {reference.status} without them",
            detail=(f"fault-free result: {reference.result_payload!r}",
                    f"chaotic error: {chaotic.error!r}" if chaotic.error else f"chaotic result: {reason!r}"))]
    if reference.status == "SUCCEEDED" and reference.result != chaotic.result:
        return [Violation(
            NAME, "the execution returned a different result under faults",
            detail=(f"fault-free: {reference.result_payload}", f"chaotic:   {chaotic.result_payload}"))]
    if reference.status == "FAILED":
        want = (reference.error or {}).get("ErrorType")
        got = (chaotic.error or {}).get("ErrorType")
        if want != got:
            return [Violation(NAME, f"the execution failed with {got} under faults but with {want} without them")]
    return []
