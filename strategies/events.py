"""WORKLOAD: faults of at-least-once event sources, as Hypothesis strategies.

When a handler's callbacks are answered by an ``EventStream`` (``chaosdurable.events``), the
fault-free probe records how many events each stream delivered (``OperationSpace.streams``), and
``fault_schedules`` draws, over those events, ``EventRedelivery`` (an event delivered twice, the
copy landing on the next pending callback, right after or a few events later) and ``EventSwap``
(two adjacent events out of order). Draws shrink toward the first event, no lag, the first stream.

>>> from hypothesis import find
>>> find(event_faults({"webhook": 3}), lambda fault: True).describe()
"deliver event #0 of stream 'webhook' twice (the copy to the next pending callback)"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from chaosdurable.faults.events import EVENT_KINDS, EventRedelivery, EventSwap
from chaosdurable.faults.schedule import Fault

__all__ = ["EVENT_KINDS", "event_faults", "stream_space"]

_DELIVERED = re.compile(r": event #(\d+) of stream '(.*?)'(?: |:|$)")


def stream_space(callbacks_log: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, int], ...]:
    """(stream key, events delivered) for each event stream of a run, from its callbacks log
    (``RunRecord.callbacks``): the coordinates event faults can reach."""
    seen: dict[str, int] = {}
    for entry in callbacks_log:
        found = _DELIVERED.search(str(entry.get("note", "")))
        if found and "(redelivered)" not in str(entry.get("note")):
            key = found.group(2)
            seen[key] = max(seen.get(key, 0), int(found.group(1)) + 1)
    return tuple(seen.items())


def event_faults(streams: Mapping[str, int] | Sequence[tuple[str, int]],
                 kinds: Sequence[str] = EVENT_KINDS) -> st.SearchStrategy[Fault]:
    """Event faults over ``streams`` (stream key -> how many events it delivers).

    ``EventRedelivery`` of any event (lag 0..2), ``EventSwap`` of two adjacent events (streams of
    at least two events). Raises ValueError for no stream or an unknown kind.
    """
    given = list(streams.items()) if isinstance(streams, Mapping) else list(streams)
    pairs = [(str(key), int(n)) for key, n in given if int(n) > 0]
    unknown = [k for k in kinds if k not in EVENT_KINDS]
    if not pairs or unknown or not kinds:
        raise ValueError(f"event_faults needs streams that deliver events ({streams!r}) and kinds from "
                         f"{list(EVENT_KINDS)} (got {list(kinds)})")
    options: list[st.SearchStrategy[Fault]] = []
    if "event_redelivery" in kinds:
        options.append(st.sampled_from(pairs).flatmap(lambda p: st.builds(
            EventRedelivery, event=st.integers(0, p[1] - 1), stream=st.just(p[0]), lag=st.integers(0, 2))))
    swappable = [p for p in pairs if p[1] > 1]
    if "event_swap" in kinds and swappable:
        options.append(st.sampled_from(swappable).flatmap(lambda p: st.builds(
            EventSwap, event=st.integers(0, p[1] - 2), stream=st.just(p[0]))))
    if not options:
        raise ValueError(f"event_faults: no stream of {pairs} has the two events a swap needs")
    return st.one_of(*options)


def for_space(kind: str, space: Any) -> st.SearchStrategy[Fault] | None:
    """The strategy ``fault_schedules`` uses for an event kind, or None when the space has no stream."""
    streams = getattr(space, "streams", ())
    if kind not in EVENT_KINDS or not streams:
        return None
    if kind == "event_swap" and not any(n > 1 for _, n in streams):
        return None
    return event_faults(streams, (kind,))
