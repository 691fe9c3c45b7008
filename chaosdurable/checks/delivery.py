"""At-least-once delivery: a handler fed by an event source ends as it does when every event
arrives once and in order.

Runs only when an event fault (``EventRedelivery``, ``EventSwap``: ``chaosdurable.faults.events``)
fired and no other fault legitimately changes the outcome. Such faults change which event each
callback gets, so the control flow may differ (``resumption`` and ``determinism`` stand down);
what must not differ is the end: the status, the result (fresh values replaced) and the error
type. A redelivered event that is processed twice, or an update that wins because it arrived
last, shows here; a repeated explicit effect also shows in ``idempotency``.
"""

from __future__ import annotations

from chaosdurable.checks.base import Ledger, Violation, require_same_handler, shorten
from chaosdurable.faults.events import EVENT_KINDS
from chaosdurable.history.record import RunRecord

NAME = "event_delivery"
ADVICE = ("a consumer of an at-least-once event source must tolerate duplicates and reordering: dedupe by the "
          "event's id (keep the ids seen in the handler, rebuilt on replay) and do not let arrival order decide "
          "(keep the newest by a version or a timestamp the event carries)")


def event_delivery(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """A violation when an event redelivered or reordered changes how the execution ends."""
    require_same_handler(reference, chaotic)
    events = [text for text, kind in zip(ledger.fired, ledger.fault_kinds, strict=False) if kind in EVENT_KINDS]
    if not events or chaotic.stuck or reference.stuck or not set(ledger.changed_by) <= set(EVENT_KINDS):
        return []
    fresh = ledger.fresh
    if reference.status != chaotic.status:
        change = f"ended {chaotic.status} instead of {reference.status}"
    elif reference.status == "SUCCEEDED" and (fresh.normalize_value(reference, reference.result)
                                              != fresh.normalize_value(chaotic, chaotic.result)):
        change = "returned a different result"
    elif reference.status == "FAILED" and (reference.error or {}).get("ErrorType") != (chaotic.error or {}).get(
            "ErrorType"):
        change = "failed with a different error"
    else:
        return []
    return [Violation(
        NAME, f"the execution {change} when the event source delivered an event again or out of order",
        detail=(*(f"fault: {text}" for text in events),
                f"fault-free: {reference.status} {shorten(reference.result_payload or reference.error)}",
                f"chaotic:    {chaotic.status} {shorten(chaotic.result_payload or chaotic.error)}", ADVICE))]
