"""Execution history events in the exact shape of boto3's ``get_durable_execution_history()["Events"]``.

Every builder returns a plain dict; ``EventId`` is assigned by ``History.append`` in
acceptance order, and ``EventTimestamp`` is a virtual-clock datetime, so the same run
gives the same list. ``to_json`` renders it byte-for-byte reproducibly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from chaosdurable.engine.clock import ms_to_datetime


def payload_field(payload: str | None) -> dict[str, Any]:
    """``{"Payload": ..., "Truncated": false}`` as the service reports results and inputs."""
    return {"Payload": payload, "Truncated": False} if payload is not None else {"Truncated": False}


def error_field(error: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"Payload": ErrorObject, "Truncated": false}`` as the service reports errors."""
    return {"Payload": dict(error or {}), "Truncated": False}


class History:
    """An append-only list of events for one execution."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    def append(
        self,
        event_type: str,
        at_ms: int,
        details: Mapping[str, Any] | None = None,
        *,
        op_id: str | None = None,
        name: str | None = None,
        sub_type: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """Append one event; keys follow the boto3 model order and absent fields are left out."""
        event: dict[str, Any] = {"EventType": event_type}
        if sub_type:
            event["SubType"] = sub_type
        event["EventId"] = len(self._events) + 1
        if op_id is not None:
            event["Id"] = op_id
        if name:
            event["Name"] = name
        event["EventTimestamp"] = ms_to_datetime(at_ms)
        if parent_id:
            event["ParentId"] = parent_id
        event[f"{event_type}Details"] = dict(details or {})
        self._events.append(event)
        return event

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def events(self, include_execution_data: bool = True) -> list[dict[str, Any]]:
        """A deep-enough copy of the events; without execution data, payloads are dropped as on AWS."""
        out = [_copy_event(e) for e in self._events]
        if not include_execution_data:
            for e in out:
                for key, value in e.items():
                    if key.endswith("Details") and isinstance(value, dict):
                        for field in ("Result", "Input", "Error"):
                            if isinstance(value.get(field), dict):
                                value[field] = {"Truncated": value[field].get("Truncated", False)}
        return out


def _copy_event(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_deep(v) if type(v) is dict else v) for k, v in event.items()}


def _keep(value: Any) -> Any:
    return value.isoformat()


def _deep(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _deep(v) for k, v in value.items()}
    if kind is list:
        return [_deep(v) for v in value]
    return value


def to_json(events: list[dict[str, Any]]) -> str:
    """Render events as canonical JSON (sorted keys, ISO timestamps): equal runs give equal bytes."""
    return json.dumps(events, sort_keys=True, indent=1, default=_keep)
