"""Events -> the checkpointed operation state the service would hand the SDK at the recorded point.

Contract: ``rebuild(events)`` folds a recorded history (``load.RecordedHistory.events``) into
``OpRecord``s exactly as ``engine.updates`` would have left them after the last event: ids,
parents, names, types, subtypes, statuses, results and errors, step attempts and retry times,
wait durations and scheduled ends, callback ids and timeout options, invoke function names
and payloads, context results and ``replay_children``. It also returns what the history
records as arguments (``Recorded.args``) and the execution's outcome, if it ended. Pure: no
engine, no handler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.engine.operations import OpRecord
from chaosdurable.replay.load import HistoryError

_TYPE_OF_EVENT = {"Step": "STEP", "Wait": "WAIT", "Callback": "CALLBACK", "Context": "CONTEXT",
                  "ChainedInvoke": "CHAINED_INVOKE"}
_BATCH_SUMMARY_TYPES = ("MapResult", "ParallelResult")


@dataclass
class Recorded:
    """The rebuilt state of one history."""

    exec_id: str
    exec_name: str
    input_payload: str
    start_ms: int
    last_ms: int
    #: operations in creation order (the EXECUTION operation first)
    ops: dict[str, OpRecord]
    #: "SUCCEEDED"/"FAILED"/"TIMED_OUT"/"STOPPED" when the history ends the execution, else None
    outcome: str | None = None
    result: str | None = None
    error: dict[str, Any] | None = None
    invocations: int = 0
    #: what the history records of each operation's arguments, by op id
    args: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout_s: int | None = None

    def children(self, parent_id: str | None) -> list[OpRecord]:
        """Recorded operations whose parent is ``parent_id``, in creation order."""
        return [op for op in self.ops.values() if op.type != "EXECUTION" and op.parent_id == parent_id]

    def path(self, op_id: str) -> str:
        """The operation's name path through its parent contexts, e.g. ``notify/map-item-1/notify-1``."""
        parts: list[str] = []
        current: str | None = op_id
        while current and current in self.ops and len(parts) < 64:
            op = self.ops[current]
            parts.append(op.name or op.id[:12])
            current = op.parent_id
        return "/".join(reversed(parts))


def _ms(event: Mapping[str, Any]) -> int:
    return round(event["EventTimestamp"].timestamp() * 1000)


def _payload(details: Mapping[str, Any], part: str) -> str | None:
    value = details.get(part)
    if isinstance(value, Mapping):
        payload = value.get("Payload")
        return payload if isinstance(payload, str) or payload is None else json.dumps(payload)
    return None


def _error(details: Mapping[str, Any]) -> dict[str, Any] | None:
    value = details.get("Error")
    if isinstance(value, Mapping):
        payload = value.get("Payload")
        return dict(payload) if isinstance(payload, Mapping) else {}
    return None


def _function_name(recorded: str) -> str:
    """``arn:aws:lambda:r:a:function:NAME[:qualifier]`` -> NAME; any other text unchanged."""
    parts = recorded.split(":")
    if recorded.startswith("arn:") and len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return recorded


def _replays_children(payload: str | None) -> bool:
    """Whether a SUCCEEDED context was checkpointed as a summary (``ReplayChildren=true``).

    The history does not carry ``ReplayChildren``; the SDK sets it only for results over the
    checkpoint limit, and then checkpoints an empty payload (child contexts without a summary
    generator) or the SDK's batch envelope (map and parallel). A child context with a custom
    summary generator cannot be told apart and is taken as a plain result.
    """
    if payload == "":
        return True
    if not payload or not payload.startswith("{"):
        return False
    try:
        value = json.loads(payload)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("type") in _BATCH_SUMMARY_TYPES and "totalCount" in value


def batch_total(payload: str | None) -> int | None:
    """The number of items a recorded map/parallel result says it had, if it says."""
    if not payload:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if value.get("t") == "br" and isinstance(value.get("v"), dict):  # the SDK's typed BatchResult envelope
        value = value["v"]
        items = value.get("all")
        if isinstance(items, dict) and items.get("t") == "l" and isinstance(items.get("v"), list):
            return len(items["v"])
    if isinstance(value.get("totalCount"), int):
        return int(value["totalCount"])
    items = value.get("all")
    return len(items) if isinstance(items, list) else None


def rebuild(events: Sequence[Mapping[str, Any]], source: str = "<history>") -> Recorded:
    """Fold ``events`` into the operation state after the last one (see the module docstring)."""
    first = events[0]
    details = first.get("ExecutionStartedDetails") or {}
    exec_id = str(first.get("Id") or "")
    if not exec_id:
        raise HistoryError(f"{source}: the ExecutionStarted event has no Id (the execution's id)")
    payload = _payload(details, "Input")
    recorded = Recorded(exec_id=exec_id, exec_name=str(first.get("Name") or exec_id),
                        input_payload=payload if payload is not None else "null", start_ms=_ms(first),
                        last_ms=_ms(events[-1]), ops={}, timeout_s=details.get("ExecutionTimeout"))
    recorded.ops[exec_id] = OpRecord(id=exec_id, type="EXECUTION", status="STARTED", start_ms=recorded.start_ms,
                                     name=recorded.exec_name, input_payload=recorded.input_payload)
    for event in events[1:]:
        _apply(recorded, event, source)
    return recorded


def _apply(recorded: Recorded, event: Mapping[str, Any], source: str) -> None:
    kind = str(event["EventType"])
    at = _ms(event)
    details: Mapping[str, Any] = event.get(f"{kind}Details") or {}
    if kind == "InvocationCompleted":
        recorded.invocations += 1
        return
    if kind.startswith("Execution"):
        status = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED",
                  "ExecutionTimedOut": "TIMED_OUT", "ExecutionStopped": "STOPPED"}.get(kind)
        if status is not None:
            recorded.outcome, recorded.result, recorded.error = status, _payload(details, "Result"), _error(details)
        return
    family = next((t for prefix, t in _TYPE_OF_EVENT.items() if kind.startswith(prefix)), None)
    op_id = event.get("Id")
    if family is None or not op_id:
        return  # an event type this SDK version does not produce: nothing to rebuild
    op = recorded.ops.get(str(op_id))
    if op is None:
        op = OpRecord(id=str(op_id), type=family, status="STARTED", start_ms=at, sub_type=event.get("SubType"),
                      name=event.get("Name"), parent_id=event.get("ParentId"))
        recorded.ops[op.id] = op
        if op.parent_id and op.parent_id not in recorded.ops:
            raise HistoryError(f"{source}: event {event.get('EventId')} ({kind} {op.name or op.id}) names parent "
                               f"{op.parent_id} that no earlier event created; the export is missing events")
    args = recorded.args.setdefault(op.id, {})
    if family == "STEP":
        _apply_step(op, kind, details, at)
    elif family == "WAIT":
        if kind == "WaitStarted":
            op.wait_seconds = details.get("Duration")
            end = details.get("ScheduledEndTimestamp")
            if end is not None:
                from chaosdurable.replay.load import parse_timestamp

                op.scheduled_end_ms = round(parse_timestamp(end, source).timestamp() * 1000)
            args["duration_s"] = op.wait_seconds
        else:
            op.status = "SUCCEEDED" if kind == "WaitSucceeded" else "CANCELLED"
            op.end_ms = at
            op.error = _error(details)
    elif family == "CALLBACK":
        if kind == "CallbackStarted":
            op.callback_id = details.get("CallbackId")
            op.callback_timeout_s = int(details.get("Timeout") or 0)
            op.heartbeat_timeout_s = int(details.get("HeartbeatTimeout") or 0)
            args["timeout_s"] = op.callback_timeout_s
            args["heartbeat_timeout_s"] = op.heartbeat_timeout_s
        else:
            op.status = {"CallbackSucceeded": "SUCCEEDED", "CallbackFailed": "FAILED",
                         "CallbackTimedOut": "TIMED_OUT"}.get(kind, "CANCELLED")
            op.end_ms, op.result, op.error = at, _payload(details, "Result"), _error(details)
    elif family == "CONTEXT":
        if kind == "ContextSucceeded":
            op.status, op.end_ms, op.result = "SUCCEEDED", at, _payload(details, "Result")
            op.replay_children = _replays_children(op.result)
            total = batch_total(op.result) if op.sub_type in ("Map", "Parallel") else None
            if total is not None:
                args["items"] = total
        elif kind == "ContextFailed":
            op.status, op.end_ms, op.error = "FAILED", at, _error(details)
    elif family == "CHAINED_INVOKE":
        if kind == "ChainedInvokeStarted":
            fn = str(details.get("FunctionName") or "")
            op.function_name, op.input_payload = fn, _payload(details, "Input")
            op.tenant_id = details.get("TenantId")
            args["function_name"] = _function_name(fn)
            args["payload"] = op.input_payload
        else:
            op.status = {"ChainedInvokeSucceeded": "SUCCEEDED", "ChainedInvokeFailed": "FAILED",
                         "ChainedInvokeTimedOut": "TIMED_OUT", "ChainedInvokeStopped": "STOPPED"}.get(kind, "FAILED")
            op.end_ms, op.result, op.error = at, _payload(details, "Result"), _error(details)


def _apply_step(op: OpRecord, kind: str, details: Mapping[str, Any], at: int) -> None:
    if kind == "StepStarted":
        op.status, op.next_attempt_ms = "STARTED", None
        return
    retry = details.get("RetryDetails") or {}
    attempt = retry.get("CurrentAttempt")
    op.attempt = int(attempt) if isinstance(attempt, int) else op.attempt + 1
    delay = retry.get("NextAttemptDelaySeconds")
    if delay is not None:  # a RETRY: the step waits for its next attempt
        op.status, op.next_attempt_ms = "PENDING", at + int(delay) * 1000
        op.error = _error(details) if kind == "StepFailed" else None
        result = _payload(details, "Result")
        if result is not None:
            op.result = result
        return
    op.next_attempt_ms, op.end_ms = None, at
    if kind == "StepSucceeded":
        op.status, op.result, op.error = "SUCCEEDED", _payload(details, "Result"), None
    else:
        op.status, op.error = "FAILED", _error(details)
