"""NEMESIS: faults of at-least-once event sources (``chaosdurable.events.EventStream``).

An event stream answers the callbacks of one key of ``callbacks=`` (a webhook, a queue): the
service delivers event k to whichever of those callbacks is pending when it is delivered. Real
sources deliver each event *at least once*, and not always in order; these faults say where:

- ``EventRedelivery(event=k)``: event k is delivered again; the copy lands on the next callback
  that is pending (``lag`` other events first), not on the callback that got the original;
- ``EventSwap(event=k)``: events k and k+1 are delivered in the opposite order.

Coordinates are stable: ``event`` is the 0-based index of the event in the stream as the user
wrote it, ``stream`` the ``callbacks=`` key of the stream (None matches any stream). Like every
fault, each fires at most once, and one whose event is never delivered is "not reached".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chaosdurable.faults.schedule import Fault, ScheduleError

#: the kinds of this module, for strategies and backends
EVENT_KINDS = ("event_redelivery", "event_swap")


def _check(kind: str, name: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise ScheduleError(f"fault {kind!r}: field {name!r} must be {expected}, got {value!r}")


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class EventRedelivery(Fault):
    """Event ``event`` of a stream is delivered twice: the copy goes to the next pending callback."""

    kind: ClassVar[str] = "event_redelivery"
    event: int = 0
    stream: str | None = None
    #: how many other events the source delivers before the copy (0: the copy comes right next)
    lag: int = 0

    def __post_init__(self) -> None:
        _check(self.kind, "event", self.event, _whole(self.event, 0), "an event index (a whole number >= 0)")
        _check(self.kind, "lag", self.lag, _whole(self.lag, 0), "a whole number of events >= 0")
        _check(self.kind, "stream", self.stream, self.stream is None or (isinstance(self.stream, str)
                                                                         and bool(self.stream)),
               "a callbacks= key holding an EventStream, or null for any stream")

    def describe(self) -> str:
        """In words."""
        where = f" of stream {self.stream!r}" if self.stream else ""
        later = f", after {self.lag} other event{'s' if self.lag != 1 else ''}" if self.lag else ""
        return f"deliver event #{self.event}{where} twice (the copy to the next pending callback{later})"


@dataclass(frozen=True)
class EventSwap(Fault):
    """Events ``event`` and ``event + 1`` of a stream are delivered in the opposite order."""

    kind: ClassVar[str] = "event_swap"
    event: int = 0
    stream: str | None = None

    def __post_init__(self) -> None:
        _check(self.kind, "event", self.event, _whole(self.event, 0), "an event index (a whole number >= 0)")
        _check(self.kind, "stream", self.stream, self.stream is None or (isinstance(self.stream, str)
                                                                         and bool(self.stream)),
               "a callbacks= key holding an EventStream, or null for any stream")

    def describe(self) -> str:
        """In words."""
        where = f" of stream {self.stream!r}" if self.stream else ""
        return f"deliver event #{self.event + 1}{where} before event #{self.event} (out of order)"


#: where each kind comes from (for ``chaosdurable.faults.schedule.PROVENANCE``, where the schedule module has one)
SOURCES = {
    "event_redelivery": (
        "Amazon SQS developer guide, standard queues: 'at-least-once delivery ... occasionally more than one copy "
        "of a message might be delivered'; Amazon EventBridge and Lambda asynchronous invocation document "
        "at-least-once delivery (an event may arrive more than once); webhook providers document the same"),
    "event_swap": (
        "Amazon SQS developer guide, standard queues: 'best-effort ordering ... messages might be delivered in an "
        "order different from which they were sent'; Amazon EventBridge documents no ordering of events; webhook "
        "providers document that events may arrive out of order"),
}


def _register() -> None:
    from chaosdurable.faults import schedule

    schedule.FAULT_TYPES.update({t.kind: t for t in (EventRedelivery, EventSwap)})
    table = getattr(schedule, "PROVENANCE", None)  # fault provenance labels, where the schedule module has them
    make = getattr(schedule, "Provenance", None)
    if isinstance(table, dict) and make is not None:
        for kind, source in SOURCES.items():
            table.setdefault(kind, {None: make("documented", source)})


_register()
