"""WORKLOAD: how the outside world answers callbacks, beyond one answer per name.

``callbacks=`` takes a dict keyed by the name the handler gives a callback
(``wait_for_callback(..., name="approval")`` is ``"approval"``; ``"*"`` is any callback). A value is

- a JSON value or an ``Answer``: every callback of that name gets it;
- ``InOrder([a, b, c])``: the k-th callback of that name gets the k-th answer (JSON values or
  ``Answer``); one past the end gets the default answer, and the report says so;
- a function ``f(request: CallbackRequest) -> answer``: called once per callback with its name,
  its index, its timeout and heartbeat timeout and the execution input;
- ``EventStream([e0, e1, ...])``: an at-least-once event source (a webhook, a queue): the service
  delivers event k to whichever callback of that name is pending when it is delivered. The faults
  ``EventRedelivery`` and ``EventSwap`` (``chaosdurable.faults.events``) deliver an event twice
  (the copy lands on the *next* pending callback) or two adjacent events out of order. When the
  stream has no event left, a callback waits (until its timeout, if it has one).

``callbacks=`` itself may also be an ``InOrder`` (every callback, in creation order), an
``EventStream`` or a function: each means ``{"*": it}``.

``CallbackAnswers`` is the per-run state that hands out answers in the order callbacks are
answered (the order they were created), so the same workload and schedule give the same history.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.faults.events import EventRedelivery, EventSwap
from chaosdurable.run import Answer, _configured_key


class CallbackAnswerError(RuntimeError):
    """A function given in ``callbacks=`` raised while answering a callback (the cause is chained)."""


def _values(what: str, items: Any) -> tuple[Any, ...]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"{what} takes a list of answers (JSON values or Answer), e.g. "
                        f"{what}([{{'id': 'evt-1'}}, {{'id': 'evt-2'}}]); got {type(items).__name__} {items!r:.80}")
    out = tuple(items)
    for item in out:
        if isinstance(item, Answer):
            continue
        try:
            json.dumps(item, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what}: {item!r:.80} is not a JSON value ({exc}); a callback's answer is JSON "
                            "(or an Answer)") from None
    return out


@dataclass(frozen=True, init=False, repr=False)
class InOrder:
    """Answers in turn: the k-th callback (of the key it is given for) gets ``answers[k]``."""

    answers: tuple[Any, ...]

    def __init__(self, answers: Iterable[Any]) -> None:
        object.__setattr__(self, "answers", _values("InOrder", answers))

    def __repr__(self) -> str:
        return f"InOrder({list(self.answers)!r})"


@dataclass(frozen=True, init=False, repr=False)
class EventStream:
    """An at-least-once event source: event k goes to whichever callback is pending when it is delivered.

    ``events`` are JSON values (or ``Answer`` values, for a failure or a delay of their own); each
    arrives ``delay`` virtual seconds after the callback it lands on was created.
    """

    events: tuple[Any, ...]
    delay: float = 1.0

    def __init__(self, events: Iterable[Any], delay: float = 1.0) -> None:
        object.__setattr__(self, "events", _values("EventStream", events))
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < float("inf"):
            raise TypeError(f"EventStream(delay={delay!r}): a number of virtual seconds >= 0")
        object.__setattr__(self, "delay", float(delay))

    def __repr__(self) -> str:
        more = f", delay={self.delay:g}" if self.delay != 1.0 else ""
        return f"EventStream({list(self.events)!r}{more})"


@dataclass(frozen=True)
class CallbackRequest:
    """What a function answering callbacks is told about the callback it answers."""

    #: the name the handler gave the callback (``wait_for_callback(name="approval")``: ``"approval"``)
    name: str | None
    #: 0-based: the k-th callback of the execution (in the order they were created)
    index: int
    #: 0-based: the k-th callback with this name
    nth: int
    timeout_s: int = 0
    heartbeat_timeout_s: int = 0
    #: the execution's input (a JSON value)
    input: Any = None
    #: the operation's name as the history has it (``"approval create callback id"``)
    operation_name: str | None = None
    operation_id: str = ""
    callback_id: str = ""


def normalize(callbacks: Any, where: str = "check()") -> dict[str, Any] | None:
    """``callbacks=`` as a dict: a list, an ``EventStream``, ``InOrder`` or a function is ``{"*": it}``.

    Raises TypeError naming the value for anything else that is not a mapping."""
    if callbacks is None or isinstance(callbacks, Mapping):
        return dict(callbacks) if callbacks is not None else None
    if isinstance(callbacks, EventStream | InOrder) or (callable(callbacks) and not isinstance(callbacks, type)):
        return {"*": callbacks}
    spelled = (f" (answers in turn, the k-th callback getting the k-th: callbacks=InOrder({list(callbacks)!r:.60}))"
               if isinstance(callbacks, list | tuple) else "")
    raise TypeError(f"{where}(callbacks=...) takes a dict of callback name -> answer, e.g. "
                    f"callbacks={{'approval': {{'ok': True}}}} or {{'*': Answer(...)}}; or InOrder([...]) "
                    f"(the k-th callback gets the k-th answer), an EventStream([...]) or a function of the callback; "
                    f"got {type(callbacks).__name__} {callbacks!r:.80}{spelled}")


def _as_answer(value: Any) -> Answer:
    return value if isinstance(value, Answer) else Answer(result=value)


@dataclass
class Delivery:
    """What one callback gets: an ``answer`` (None: nothing, it keeps waiting), and in words what it is."""

    answer: Answer | None
    label: str
    note: str = ""
    defaulted: bool = False
    #: event faults that acted on this delivery, and how (each may legitimately change the control flow)
    changes: list[tuple[Any, str]] = field(default_factory=list)
    #: why nothing was delivered, or why the default was (a diagnostic)
    problem: str | None = None


@dataclass
class _Copy:
    """A redelivery scheduled when its event was first delivered; the fault fires when the copy lands."""

    fault_index: int
    fault: EventRedelivery
    first_to: str


@dataclass
class _Stream:
    key: str
    stream: EventStream
    queue: list[tuple[int, _Copy | None]] = field(default_factory=list)
    delivered: int = 0
    scheduled: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.queue = [(k, None) for k in range(len(self.stream.events))]

    def next(self, nemesis: Any, label: str) -> tuple[int, EventRedelivery | None, EventSwap | None] | None:
        """(event index, the redelivery whose copy this is, the swap that brought it forward), or None."""
        if not self.queue:
            return None
        swapped = None
        if nemesis is not None:
            head, copy = self.queue[0]
            for i, fault in nemesis.pending(EventSwap):
                if copy is not None or fault.event != head or fault.stream not in (None, self.key):
                    continue
                later = next((p for p, (k, c) in enumerate(self.queue) if p and k == head + 1 and c is None), None)
                if later is not None and nemesis.take(i, f"at stream {self.key!r}: event #{head + 1} was delivered "
                                                          f"before event #{head}, to callback {label}"):
                    self.queue.insert(0, self.queue.pop(later))
                    swapped = fault
                    break
        index, copy = self.queue.pop(0)
        self.delivered += 1
        if copy is not None:
            fired = nemesis.take(copy.fault_index, f"at stream {self.key!r}: event #{index}, first delivered to "
                                                   f"callback {copy.first_to}, was delivered again to callback {label}")
            return index, copy.fault if fired else None, swapped
        for i, fault in nemesis.pending(EventRedelivery) if nemesis is not None else ():
            if fault.event == index and fault.stream in (None, self.key) and i not in self.scheduled:
                self.scheduled.add(i)  # fires when the copy lands; never, if no callback is left to take it
                self.queue.insert(min(fault.lag, len(self.queue)), (index, _Copy(i, fault, label)))
                break
        return index, None, swapped


class CallbackAnswers:
    """The answers of one run, handed out in the order callbacks are answered."""

    def __init__(self, callbacks: Any, nemesis: Any = None, input: Any = None) -> None:
        self.callbacks = normalize(callbacks) or {}
        self.nemesis = nemesis
        self.input = input
        self._index = 0
        self._by_name: Counter[str | None] = Counter()
        self._by_key: Counter[str] = Counter()
        self._streams: dict[str, _Stream] = {}

    def next(self, name: str | None, label: str | None, *, timeout_s: int = 0, heartbeat_timeout_s: int = 0,
             operation_id: str = "", callback_id: str = "") -> Delivery:
        """The delivery for the callback operation ``name`` (``label``: the name the handler wrote)."""
        index, nth = self._index, self._by_name[label]
        self._index += 1
        self._by_name[label] += 1
        shown = f"{label!r} #{nth + 1}" if label else f"#{index + 1} (unnamed)"
        key = _configured_key(name, self.callbacks)
        if key is None:
            return Delivery(Answer(), shown, defaulted=True)
        k = self._by_key[key]
        self._by_key[key] += 1
        value = self.callbacks[key]
        if isinstance(value, EventStream):
            stream = self._streams.setdefault(key, _Stream(key, value))
            got = stream.next(self.nemesis, shown)
            if got is None:
                return Delivery(None, shown, problem=(
                    f"callback {shown} waited for an event of stream {key!r}, but all {len(value.events)} "
                    f"event{'s' if len(value.events) != 1 else ''} "
                    f"had been delivered ({stream.delivered} deliveries); give the stream as many events as the "
                    "handler waits for (or end the handler's loop on a last event)"))
            event, copy, swapped = got
            answer = _as_answer(value.events[event])
            if not isinstance(value.events[event], Answer):
                answer = Answer(result=answer.result, delay=value.delay)
            note = f"event #{event} of stream {key!r}" + (" (redelivered)" if copy is not None else "")
            changes: list[tuple[Any, str]] = []
            if copy is not None:
                changes.append((copy, "the handler sees one more event"))
            if swapped is not None:
                changes.append((swapped, "the callbacks after it get the events in that order"))
            return Delivery(answer, shown, note=note, changes=changes)
        if isinstance(value, InOrder):
            if k >= len(value.answers):
                return Delivery(Answer(), shown, problem=(
                    f"callback {shown} got no answer: InOrder for {key!r} has {len(value.answers)} "
                    f"answer{'s' if len(value.answers) != 1 else ''} and "
                    f"this is callback {k + 1} of that key, so it was answered with the default, success with JSON "
                    f"null; give one answer per callback: callbacks={{{key!r}: InOrder([...])}}"))
            return Delivery(_as_answer(value.answers[k]), shown, note=f"answer #{k} of InOrder {key!r}")
        if callable(value) and not isinstance(value, Answer):
            request = CallbackRequest(label, index, nth, timeout_s, heartbeat_timeout_s, self.input, name,
                                      operation_id, callback_id)
            try:
                answered = value(request)
            except Exception as exc:
                raise CallbackAnswerError(f"the function answering callback {shown} "
                                          f"({getattr(value, '__qualname__', value)}) raised {exc!r} for {request}") \
                    from exc
            return Delivery(_as_answer(answered), shown)
        return Delivery(_as_answer(value), shown)


# ------------------------------------------------------------------ JSON (saved failures, --callbacks)
def encode_value(value: Any) -> Any:
    """One ``callbacks=`` value as JSON (``decode_value`` reads it back)."""
    import dataclasses

    if isinstance(value, Answer):
        return {"__answer__": dataclasses.asdict(value)}
    if isinstance(value, InOrder):
        return {"__in_order__": [encode_value(v) for v in value.answers]}
    if isinstance(value, EventStream):
        out: dict[str, Any] = {"__events__": [encode_value(v) for v in value.events]}
        if value.delay != 1.0:
            out["delay"] = value.delay
        return {"__event_stream__": out}
    if callable(value):
        return {"__function__": function_ref(value)}
    return value


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value``."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, body), = value.items()
    if tag == "__answer__":
        return Answer(**body)
    if tag == "__in_order__":
        return InOrder([decode_value(v) for v in body])
    if tag == "__event_stream__":
        return EventStream([decode_value(v) for v in body["__events__"]], delay=body.get("delay", 1.0))
    if tag == "__function__":
        module, _, attr = str(body).partition(":")
        try:
            target: Any = importlib.import_module(module)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"the function that answered callbacks, {body!r}, cannot be imported ({exc}); define it "
                             "at module level so that a saved failure can name it") from None
        return target
    return value


def function_ref(fn: Callable[..., Any]) -> str:
    """``module:attribute`` of a function that answers callbacks (the module-level attribute holding it)."""
    from chaosdurable.verdict import _module_attr

    found = _module_attr(fn)
    if found is None:  # a lambda or a nested function: named as it is; replaying it says to move it
        return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}"
    return f"{found[0]}:{found[1]}"
