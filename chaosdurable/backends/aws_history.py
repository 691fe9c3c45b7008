"""Reading a deployed execution's history and what the harness derives from it.

Contract: ``read_history`` follows ``NextMarker`` until the last page (bounded by ``max_pages``)
and returns the events in ``EventId`` order with the number of pages read; every page goes
through the client's rate limiter. The derivations are pure functions of the events:
operations (the engine's ``OpRecord.snapshot`` shape, through ``replay.rebuild``), invocations
(``InvocationCompleted`` events), and the callbacks still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosdurable.backends.aws_client import DurableApi

_CLOSING = ("CallbackSucceeded", "CallbackFailed", "CallbackTimedOut")


class HistoryTooLong(RuntimeError):
    """The history had more pages than the bound allows."""


def read_history(api: DurableApi, arn: str, page_size: int = 100,
                 max_pages: int = 100) -> tuple[list[dict[str, Any]], int]:
    """Every event of ``arn`` (``EventId`` order) and the number of pages read."""
    events: list[dict[str, Any]] = []
    marker: str | None = None
    for page in range(1, max_pages + 1):
        out = api.history_page(arn, marker, page_size)
        events += out.get("Events") or []
        marker = out.get("NextMarker") or None
        if not marker:
            return sorted(events, key=lambda e: int(e.get("EventId", 0))), page
    raise HistoryTooLong(f"the history of {arn} has more than {max_pages} pages of {page_size} events")


def operations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operations the history records, as the engine's ``RunRecord.operations`` holds them."""
    from chaosdurable.replay.rebuild import rebuild

    if not events:
        return []
    return [op.snapshot() for op in rebuild(events, "<aws history>").ops.values()]


def invocations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per ``InvocationCompleted`` event (AWS also records failed ones, with their error)."""
    out = []
    for index, event in enumerate((e for e in events if e.get("EventType") == "InvocationCompleted"), 1):
        details = event.get("InvocationCompletedDetails") or {}
        error = details.get("Error")
        out.append({"index": index, "dead": bool(error), "copies": 1, "concurrent": False,
                    "outcome": "error" if error else "ok", "duplicate_outcome": None,
                    "request_id": details.get("RequestId")})
    return out


@dataclass(frozen=True)
class OpenCallback:
    """A callback the history shows started and not yet closed."""

    callback_id: str
    name: str | None
    operation_id: str
    timeout_s: int | None
    heartbeat_timeout_s: int | None


def callbacks(events: list[dict[str, Any]]) -> tuple[list[OpenCallback], set[str]]:
    """(callbacks still open, in start order; ids of the closed ones)."""
    started: dict[str, OpenCallback] = {}
    closed: set[str] = set()
    for event in events:
        kind = event.get("EventType")
        if kind == "CallbackStarted":
            details = event.get("CallbackStartedDetails") or {}
            started[str(event.get("Id"))] = OpenCallback(str(details.get("CallbackId")), event.get("Name"),
                                                         str(event.get("Id")), details.get("Timeout") or None,
                                                         details.get("HeartbeatTimeout") or None)
        elif kind in _CLOSING:
            closed.add(str(event.get("Id")))
    return ([cb for op_id, cb in started.items() if op_id not in closed],
            {cb.callback_id for op_id, cb in started.items() if op_id in closed})
