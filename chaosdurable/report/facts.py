"""Facts about one failing ``Verdict`` that every report writer shows the same way.

Contract: pure functions of a ``Verdict`` (duck-typed: ``reference``/``chaotic`` ``RunRecord``s,
``fired``, ``violations``, ``schedule``); they never run anything and never raise on a record
that lacks a field (older or partial records give empty answers).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

_INVOCATION = re.compile(r"\binvocation (\d+)")


def world_diff(verdict: Any) -> list[dict[str, Any]]:
    """What the external world holds after the chaotic run that it does not after the fault-free run.

    One entry per resource (``"sqs:orders"``, ``"dynamodb:orders"``...) that differs:
    ``{"resource", "added": [item...], "removed": [item...]}``, items as compact JSON text,
    compared as multisets (a message queued twice is one "added" copy). Empty when no moto
    world was active or both worlds are equal.
    """
    before = getattr(verdict.reference, "world", None) or {}
    after = getattr(verdict.chaotic, "world", None) or {}
    out = []
    for resource in sorted(set(before) | set(after)):
        old = Counter(_text(item) for item in _items(before.get(resource)))
        new = Counter(_text(item) for item in _items(after.get(resource)))
        added, removed = sorted((new - old).elements()), sorted((old - new).elements())
        if added or removed:
            out.append({"resource": resource, "added": added, "removed": removed})
    return out


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [{k: v} for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]


def _text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)


def fired_invocation(firing: Any) -> int | None:
    """The invocation a fault fired in (read from its coordinates, else from where it fired), if known."""
    where = getattr(firing, "where", "") or ""
    match = _INVOCATION.search(where)
    if match:
        return int(match.group(1))
    invocation = getattr(firing.fault, "invocation", None)
    return invocation if isinstance(invocation, int) else None


def fired_operation(firing: Any, operations: list[dict[str, Any]]) -> str | None:
    """The id of the operation a fault fired at, when its coordinates or its place name one."""
    fault = firing.fault
    wanted = getattr(fault, "op", None)
    where = getattr(firing, "where", "") or ""
    for op in operations:
        if op.get("Type") == "EXECUTION":
            continue
        if wanted is not None and wanted in (op.get("Id"), op.get("Name")):
            return str(op["Id"])
    for op in operations:  # "at effect 'charge' (step 'charge' ...)", "at SUCCEED of 'enqueue'"
        name = op.get("Name")
        if op.get("Type") != "EXECUTION" and name and (f"step {name!r}" in where or f"of {name!r}" in where):
            return str(op["Id"])
    return None


def invocation_outcome(entry: dict[str, Any]) -> str:
    """One word for how an invocation ended: returned, crashed, timed out... (duplicates noted)."""
    outcome = str(entry.get("outcome") or entry.get("dead") or "unknown")
    if entry.get("copies", 1) > 1:
        outcome += f" + duplicate {'(concurrent) ' if entry.get('concurrent') else ''}" \
                   f"{entry.get('duplicate_outcome') or ''}".rstrip()
    return outcome
