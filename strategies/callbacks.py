"""WORKLOAD: how the outside world answers callbacks, as Hypothesis strategies.

``callback_answers(names)`` draws who answers each callback, with what and when: a mapping
callback name -> ``Answer`` for ``RunConfig.callbacks`` (a success with a JSON payload, or a
failure with an ErrorObject, after 0 s .. one virtual day). ``callback_faults(names)`` draws
the answers that go wrong: late, twice, after the timeout, a failure instead of a success, no
heartbeats, again after the execution ended. Both shrink toward the plain case: a success,
a short delay, the first name, the first behaviour.

>>> from hypothesis import find
>>> find(callback_answers(["approval"]), lambda answers: True)
{'approval': Answer(result=None, failure=None, delay=0.0)}
>>> find(callback_faults(["approval"]), lambda fault: True).describe()
"answer callback 'approval' 60s late"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from chaosdurable.events import EventStream, InOrder
from chaosdurable.faults.schedule import CallbackBehaviour, CallbackFault, provenance
from chaosdurable.run import Answer

from .payloads import _faked, derived, json_values

__all__ = ["BEHAVIOURS", "ERROR_TYPES", "answers", "answers_in_order", "callback_answers", "callback_faults", "delays",
           "error_objects", "event_streams"]

#: callback fault behaviours, in the order draws shrink toward
BEHAVIOURS: tuple[CallbackBehaviour, ...] = (
    "delay", "duplicate", "after_timeout", "failure", "miss_heartbeats", "after_end",
)
#: ErrorType values a failing answer carries
ERROR_TYPES: tuple[str, ...] = (
    "CallbackFailure", "Rejected", "ValidationError", "Timeout", "PaymentDeclined", "ServiceUnavailable",
)
DAY = 86_400


def delays(max_seconds: float = DAY) -> st.SearchStrategy[float]:
    """Whole virtual seconds in 0..``max_seconds``, often under a minute; they shrink toward 0."""
    top = int(max_seconds)
    return derived(st.one_of(st.integers(0, min(60, top)), st.integers(0, top)), float)


def error_objects(locale: str = "en_US") -> st.SearchStrategy[dict[str, Any]]:
    """ErrorObject dicts ``{"ErrorType": ..., "ErrorMessage": ...}`` with a realistic message."""
    return st.fixed_dictionaries({
        "ErrorType": st.sampled_from(ERROR_TYPES),
        "ErrorMessage": _faked(lambda f: f.sentence(), locale),
    })


def answers(results: st.SearchStrategy[Any] | None = None, *, failures: bool = True,
            max_delay: float = DAY) -> st.SearchStrategy[Answer]:
    """One ``Answer``: a success carrying a value of ``results`` (default: any JSON value, null
    first) or, if ``failures``, a failure with an ErrorObject; after ``delays(max_delay)``."""
    success = st.builds(Answer, result=results if results is not None else json_values(max_leaves=5),
                        failure=st.none(), delay=delays(max_delay))
    if not failures:
        return success
    failure = st.builds(Answer, result=st.none(), failure=error_objects(), delay=delays(max_delay))
    return success | failure


def callback_answers(names: Sequence[str] | None = None, results: st.SearchStrategy[Any] | None = None, *,
                     failures: bool = True, max_delay: float = DAY) -> st.SearchStrategy[dict[str, Answer]]:
    """Mappings callback name -> ``Answer``, for ``RunConfig(callbacks=...)``.

    With ``names`` every named callback gets its own answer; without, the mapping has the
    single key ``"*"`` (one answer for every callback). ``results`` draws success payloads
    (e.g. ``payloads_like({"approved": True})``); ``failures=False`` keeps to successes.
    """
    one = answers(results, failures=failures, max_delay=max_delay)
    if names is None:
        return st.fixed_dictionaries({"*": one})
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"callback_answers: names must be a list of callback names, not {names!r}")
    keys = list(dict.fromkeys(names))
    return derived(st.fixed_dictionaries({name: one for name in keys}),
                   lambda drawn: {name: drawn[name] for name in keys})  # in the caller's order


def callback_faults(names: Sequence[str], behaviours: Sequence[str] | None = None,
                    max_seconds: float = DAY, assumed: bool = False) -> st.SearchStrategy[CallbackFault]:
    """``CallbackFault`` values striking one of ``names`` (callback operation names).

    ``behaviours`` restricts the kinds (default: all of ``BEHAVIOURS`` but those whose provenance is
    ``assumed``, unless ``assumed=True``; see ``chaosdurable.faults.provenance``). ``seconds`` is drawn
    only where it matters (how late a ``delay``; how late an ``after_timeout`` on a callback
    without a timeout) and stays at its default otherwise, so faults print plainly.
    """
    if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"callback_faults needs a non-empty list of callback names, not {names!r}")
    wanted = tuple(behaviours) if behaviours is not None else tuple(
        b for b in BEHAVIOURS if assumed or provenance("callback", b).label != "assumed")
    unknown = [b for b in wanted if b not in BEHAVIOURS]
    if unknown or not wanted:
        raise ValueError(f"callback_faults: unknown behaviours {unknown}; known: {', '.join(BEHAVIOURS)}")
    seconds = st.one_of(st.sampled_from([60.0, 1.0, 3600.0, float(DAY)]),
                        derived(st.integers(1, max(1, int(max_seconds))), float))
    ops = st.sampled_from(list(dict.fromkeys(names)))

    @st.composite
    def draw(data: st.DrawFn) -> CallbackFault:
        behaviour: CallbackBehaviour = data(st.sampled_from(wanted))
        op = data(ops)
        late = data(seconds)  # always drawn, so "delay" stays the simplest draw for the shrinker
        if behaviour in ("delay", "after_timeout"):
            return CallbackFault(behaviour=behaviour, op=op, seconds=late)
        return CallbackFault(behaviour=behaviour, op=op)

    return draw()


def answers_in_order(one: st.SearchStrategy[Any] | None = None, *, min_size: int = 1,
                     max_size: int = 5) -> st.SearchStrategy[InOrder]:
    """``InOrder`` answers (the k-th callback of a name gets the k-th) drawn from ``one`` (default:
    ``answers()``); they shrink toward fewer, plainer answers."""
    return derived(st.lists(one if one is not None else answers(), min_size=min_size, max_size=max_size), InOrder)


def event_streams(events: st.SearchStrategy[Any] | None = None, *, min_events: int = 1, max_events: int = 5,
                  unique_by: str | None = None) -> st.SearchStrategy[EventStream]:
    """``EventStream`` values: ``min_events``..``max_events`` events drawn from ``events`` (default: any JSON
    value); ``unique_by="id"`` keeps one event per value of that key (distinct event ids, as a real source
    has). Event faults (``EventRedelivery``, ``EventSwap``) are drawn by ``fault_schedules``."""
    items = events if events is not None else json_values(max_leaves=3)
    key = (lambda event: event.get(unique_by) if isinstance(event, dict) else event) if unique_by else None
    return derived(st.lists(items, min_size=min_events, max_size=max_events, unique_by=key), EventStream)
