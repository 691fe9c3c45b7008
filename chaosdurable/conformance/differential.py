"""The second oracle: compare a chaosdurable history with one from AWS's ``DurableFunctionTestRunner``.

Contract
--------
``compare(ours, theirs)`` takes two lists of history events in the boto3
``get_durable_execution_history()["Events"]`` shape (ours from ``DurableRunner.get_execution_history``,
theirs from AWS's runner ``GetDurableExecutionHistoryResponse.to_dict()["Events"]``, every page) of
the same program run fault-free with the same callback answers, normalises both with
``normalise`` and returns ``None`` when they are equal, else a ``Difference`` naming the first
differing event (its position, type and operation name on both sides, the first differing field,
and the neighbouring events).

``normalise`` applies, to both sides alike, exactly two lists of rules and nothing else:

``NORMALISATIONS`` -- AWS's local runner's known gaps, and values that differ between any two runs:

- ``InvocationCompletedDetails`` is removed. AWS's runner does emit the ``InvocationCompleted``
  events themselves (``executor.get_execution_history`` builds one per recorded invocation), but
  its ``HistoryEvent.to_dict`` leaves their details out: the events are kept and compared, their
  details are not.
- ``RetryDetails`` is removed from every ``*Details``: AWS's runner writes it only for ``RETRY``
  updates (and then only ``CurrentAttempt``/``NextAttemptDelaySeconds`` of its own count), never on
  a first-attempt success.
- callback ``Timeout`` and ``HeartbeatTimeout`` are removed from ``CallbackStartedDetails``: AWS's
  runner does not record them.
- ``ExecutedVersion`` is removed wherever it appears: AWS's runner does not record it.
- timestamps are removed (every key ending in ``Timestamp``: ``EventTimestamp``,
  ``ScheduledEndTimestamp``, ...): AWS's runner stamps real (skipped) time, chaosdurable virtual
  time; waits are still compared through their ``Duration``.
- ids are replaced: ``EventId`` (the position in the list is compared instead); the execution's own
  ``Id`` and ``Name`` (AWS's runner uses its invocation id and ``execution-name``, chaosdurable a
  seeded uuid) become ``<execution>``; ``CallbackId``, ``RequestId`` and the child
  ``DurableExecutionArn`` of a chained invoke become ``<callback-N>`` / ``<request-N>`` /
  ``<child-execution-N>`` numbered by first appearance, so a reused or swapped id still differs.
  Operation ``Id``/``ParentId`` are NOT replaced: the SDK derives them from the operation's
  position, so they must be equal.

``DIVERGENCES`` -- differences this comparison found and that are documented with their evidence
(each is a behaviour of AWS's runner or an unknown of the real service, not a chaosdurable defect):

- ``plain-invoke-order``: a ``ChainedInvokeSucceeded``/``ChainedInvokeFailed`` directly before an
  ``InvocationCompleted`` is moved after it. AWS's runner sorts events by real timestamp; a plain
  (non-durable) target it runs on another thread finishes within ~2 ms, while the invocation that
  started it takes ~100 ms to end (the SDK's checkpoint thread polls its stop flag every 100 ms), so
  the target's completion sorts first. chaosdurable runs the target after the invocation ends. The
  SDK suspends right after checkpointing the invoke's START, so on the service the order is a race;
  the conformance suite (invoke 5-x) lists no ``InvocationCompleted`` there.
- ``invoke-function-name``: ``ChainedInvokeStartedDetails.FunctionName`` is reduced to the
  function's name (``arn:aws:lambda:...:function:NAME[:qualifier]`` -> ``NAME``). chaosdurable
  records the qualified ARN it resolved, AWS's runner the name the SDK sent; the conformance suite
  wildcards the field (``FunctionName: '*'`` in every invoke requirement).
- ``poll-result``: the ``Result`` of a ``wait_for_condition`` ``StepSucceeded`` that AWS's runner
  left without a ``Payload`` (a ``RETRY`` update: it builds the event from the operation's final
  state, not the update's payload) is compared as absent on both sides. The conformance suite
  expects the state there (wait_for_condition 6-1: ``Result: {Payload: "1"}``, ``"2"``, ...),
  which chaosdurable writes: this is AWS's runner's gap. Only the intermediate polls are affected;
  the final ``StepSucceeded`` keeps its payload and is compared.
- ``error-truncated``: ``Error.Truncated`` is removed from ``ContextFailed``, ``CallbackFailed`` and
  ``CallbackTimedOut`` events (the ``Error`` payload itself is compared). AWS's runner calls
  ``EventError.from_details(details)`` there without ``include=``, so it writes ``Truncated: true``
  next to the full, untruncated payload (``model.py`` ``create_context_event_failed``,
  ``create_callback_event_failed``, ``create_callback_event_timed_out``; its step and invoke
  failures pass ``include=context.include_execution_data`` and say ``false``).
- ``plain-invoke-arn``: the ``DurableExecutionArn`` chaosdurable writes on a ``ChainedInvokeStarted``
  of a plain (non-durable) target (its ``<function arn>/invocation/<operation id>`` slot) is
  removed; AWS's runner writes none there. What the service writes for a plain target is unknown
  (``engine/updates.py`` ``_apply_invoke_start`` says so); the conformance suite's invoke
  requirements use durable targets only. A durable target's child ARN is still compared (present
  on both sides, numbered by first appearance).

``rule_counts`` (a ``Counter``, optional) counts how many events each rule changed, so a test can
say how often each normalisation was needed.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """One normalisation: its name, why it exists, and the evidence for it."""

    name: str
    reason: str
    evidence: str = ""


NORMALISATIONS: tuple[Rule, ...] = (
    Rule("invocation-details", "AWS's runner emits InvocationCompleted events but not their details",
         "aws_durable_execution_sdk_python_testing HistoryEvent.to_dict drops InvocationCompletedDetails"),
    Rule("retry-details", "AWS's runner writes RetryDetails only for RETRY updates, with its own attempt count",
         "executor.get_execution_history: StepDetails(attempt=...) only for OperationAction.RETRY/FAIL"),
    Rule("callback-timeout", "AWS's runner does not record CallbackStartedDetails.Timeout/HeartbeatTimeout",
         "benchmarks/conformance_anchor.py: missing on every callback requirement"),
    Rule("executed-version", "AWS's runner does not record ExecutedVersion",
         "benchmarks/conformance_anchor.py: missing on every invoke requirement"),
    Rule("timestamps", "real (skipped) time on AWS's runner, virtual time on chaosdurable", ""),
    Rule("ids", "EventId, execution Id/Name, CallbackId, RequestId, child execution ARNs differ between runs", ""),
)

DIVERGENCES: tuple[Rule, ...] = (
    Rule("plain-invoke-order",
         "AWS's runner sorts by real timestamp: a plain target finishes before the ~100 ms invocation shutdown",
         "executor.get_execution_history sorts all_events by event_timestamp; invoke 5-x list no "
         "InvocationCompleted"),
    Rule("invoke-function-name", "chaosdurable records the resolved ARN, AWS's runner the name the SDK sent",
         "conformance invoke 5-1..5-10: ChainedInvokeStartedDetails.FunctionName is '*'"),
    Rule("poll-result",
         "AWS's runner builds a wait_for_condition RETRY event from the final operation state: no Payload",
         "conformance wait_for_condition 6-1 expects Result.Payload '1', '2' on the intermediate polls"),
    Rule("error-truncated", "AWS's runner writes Error.Truncated=true beside the full payload of context and "
         "callback failures", "model.py create_context_event_failed / create_callback_event_failed / "
         "create_callback_event_timed_out call EventError.from_details without include="),
    Rule("plain-invoke-arn", "chaosdurable writes a DurableExecutionArn slot for a plain target, AWS's runner none",
         "engine/updates.py _apply_invoke_start: UNKNOWN for plain targets on AWS"),
)

RULES: tuple[Rule, ...] = NORMALISATIONS + DIVERGENCES

_EXECUTION_EVENTS = ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut",
                     "ExecutionStopped")
_ASYNC_INVOKE_END = ("ChainedInvokeSucceeded", "ChainedInvokeFailed")
_ERROR_NOT_TRUNCATED = ("ContextFailed", "CallbackFailed", "CallbackTimedOut")
_PLAIN_INVOKE_ARN = re.compile(r"/invocation/[^/]+$")
_FUNCTION_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::.*)?$")


def _count(counts: Counter[str] | None, rule: str) -> None:
    if counts is not None:
        counts[rule] += 1


class _Ids:
    """Numbers each distinct id of one kind by first appearance."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, value: Any) -> str:
        key = (kind, str(value))
        if key not in self.seen:
            self.seen[key] = f"<{kind}-{sum(1 for k in self.seen if k[0] == kind) + 1}>"
        return self.seen[key]


def _strip(value: Any, ids: _Ids, counts: Counter[str] | None) -> Any:
    """Timestamps, ExecutedVersion, RetryDetails and per-run ids, recursively."""
    if isinstance(value, list):
        return [_strip(v, ids, counts) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key.endswith("Timestamp"):
            _count(counts, "timestamps")
            continue
        if key == "ExecutedVersion":
            _count(counts, "executed-version")
            continue
        if key == "RetryDetails":
            _count(counts, "retry-details")
            continue
        if key in ("CallbackId", "RequestId", "DurableExecutionArn") and isinstance(item, str):
            kind = {"CallbackId": "callback", "RequestId": "request", "DurableExecutionArn": "child-execution"}[key]
            _count(counts, "ids")
            out[key] = ids(kind, item)
            continue
        out[key] = _strip(item, ids, counts)
    return out


def _normalise_event(event: Mapping[str, Any], ids: _Ids, counts: Counter[str] | None) -> dict[str, Any]:
    out = dict(copy.deepcopy(dict(event)))
    out.pop("EventId", None)
    etype = out.get("EventType")
    if etype == "InvocationCompleted" and "InvocationCompletedDetails" in out:
        out.pop("InvocationCompletedDetails")
        _count(counts, "invocation-details")
    if etype in _EXECUTION_EVENTS:
        for key in ("Id", "Name"):
            if key in out:
                out[key] = "<execution>"
        _count(counts, "ids")
    started = out.get("CallbackStartedDetails")
    if isinstance(started, dict):
        for key in ("Timeout", "HeartbeatTimeout"):
            if key in started:
                started.pop(key)
                _count(counts, "callback-timeout")
    invoked = out.get("ChainedInvokeStartedDetails")
    if isinstance(invoked, dict) and isinstance(invoked.get("FunctionName"), str):
        m = _FUNCTION_ARN.match(invoked["FunctionName"])
        if m:
            invoked["FunctionName"] = m.group(1)
            _count(counts, "invoke-function-name")
        arn = invoked.get("DurableExecutionArn")
        if isinstance(arn, str) and _PLAIN_INVOKE_ARN.search(arn):
            invoked.pop("DurableExecutionArn")
            _count(counts, "plain-invoke-arn")
    if etype in _ERROR_NOT_TRUNCATED:
        details = out.get(f"{etype}Details")
        error = details.get("Error") if isinstance(details, dict) else None
        if isinstance(error, dict) and "Truncated" in error:
            error.pop("Truncated")
            _count(counts, "error-truncated")
    return dict(_strip(out, ids, counts))


def _reorder_plain_invokes(events: list[dict[str, Any]], counts: Counter[str] | None) -> list[dict[str, Any]]:
    """Rule ``plain-invoke-order``: move an invoke's end directly before an InvocationCompleted after it."""
    out = list(events)
    i = 0
    while i < len(out) - 1:
        if out[i].get("EventType") in _ASYNC_INVOKE_END and out[i + 1].get("EventType") == "InvocationCompleted":
            out[i], out[i + 1] = out[i + 1], out[i]
            _count(counts, "plain-invoke-order")
            i = max(i - 1, 0)
            continue
        i += 1
    return out


def _drop_poll_results(ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
                       counts: Counter[str] | None) -> None:
    """Rule ``poll-result``: a wait_for_condition success whose Result has no Payload on one side
    (AWS's runner) is compared without it on the other side too (in place)."""
    for a, b in zip(ours, theirs, strict=False):
        polls = [e.get("SubType") == "WaitForCondition" and e.get("EventType") == "StepSucceeded" for e in (a, b)]
        if not all(polls) or a.get("Id") != b.get("Id"):
            continue
        ra = (a.get("StepSucceededDetails") or {}).get("Result")
        rb = (b.get("StepSucceededDetails") or {}).get("Result")
        if isinstance(ra, dict) and isinstance(rb, dict) and ("Payload" in ra) != ("Payload" in rb):
            ra.pop("Payload", None)
            rb.pop("Payload", None)
            _count(counts, "poll-result")


def normalise(events: Iterable[Mapping[str, Any]], rule_counts: Counter[str] | None = None) -> list[dict[str, Any]]:
    """One side's events with every rule of ``NORMALISATIONS`` and the one-sided ``DIVERGENCES`` applied.

    (``poll-result`` needs both sides and is applied by ``compare``.) The input is not modified.
    """
    ids = _Ids()
    out = [_normalise_event(e, ids, rule_counts) for e in events]
    return _reorder_plain_invokes(out, rule_counts)


@dataclass(frozen=True)
class Difference:
    """The first place two normalised histories differ."""

    index: int  # 0-based position in the normalised histories
    ours: dict[str, Any] | None
    theirs: dict[str, Any] | None
    field: str  # the first differing field ("" when one side has no event there)
    context: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        where = f"event {self.index + 1}"
        if self.ours is None:
            head = f"{where}: AWS's runner has {_label(self.theirs)}, chaosdurable's history has ended"
        elif self.theirs is None:
            head = f"{where}: chaosdurable has {_label(self.ours)}, AWS's runner's history has ended"
        elif self.field == "EventType":
            head = f"{where}: chaosdurable has {_label(self.ours)}, AWS's runner has {_label(self.theirs)}"
        else:
            head = (f"{where} ({_label(self.ours)}): {self.field} differs: chaosdurable "
                    f"{_short(_get(self.ours, self.field))}, AWS's runner {_short(_get(self.theirs, self.field))}")
        return "histories differ at " + head + ("\n" + "\n".join(self.context) if self.context else "")

    def __str__(self) -> str:
        return self.message


def _label(event: Mapping[str, Any] | None) -> str:
    if event is None:
        return "nothing"
    name = event.get("Name")
    return f"{event.get('EventType')}" + (f" {name!r}" if name and name != "<execution>" else "")


def _short(value: Any, limit: int = 160) -> str:
    text = "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


_ABSENT = object()


def _get(event: Mapping[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _first_field(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = ["EventType", *sorted((set(a) | set(b)) - {"EventType"})]
        for key in keys:
            if key not in a and key not in b:
                continue
            found = _first_field(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".")


def _context(ours: Sequence[Mapping[str, Any]], theirs: Sequence[Mapping[str, Any]], index: int,
             radius: int = 2) -> tuple[str, ...]:
    lines = [f"  {'#':>3}  {'chaosdurable':<40} AWS's runner"]
    for i in range(max(0, index - radius), min(max(len(ours), len(theirs)), index + radius + 1)):
        a = _label(ours[i]) if i < len(ours) else "-"
        b = _label(theirs[i]) if i < len(theirs) else "-"
        lines.append(f"{'>' if i == index else ' '} {i + 1:>3}  {a:<40} {b}")
    return tuple(lines)


def compare(ours: Iterable[Mapping[str, Any]], theirs: Iterable[Mapping[str, Any]],
            rule_counts: Counter[str] | None = None) -> Difference | None:
    """None when the two histories are equal after ``normalise``; else the first ``Difference``."""
    a = normalise(ours, rule_counts)
    b = normalise(theirs, rule_counts)
    _drop_poll_results(a, b, rule_counts)
    for i in range(max(len(a), len(b))):
        ea = a[i] if i < len(a) else None
        eb = b[i] if i < len(b) else None
        if ea is None or eb is None:
            return Difference(i, ea, eb, "", _context(a, b, i))
        found = _first_field(ea, eb)
        if found is not None:
            return Difference(i, ea, eb, found, _context(a, b, i))
    return None
