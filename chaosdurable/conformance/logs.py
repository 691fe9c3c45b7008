"""ExpectedLogs rules of the conformance suite, over records captured from a run.

A record is a dict: a durable-logger record becomes ``{"message": ..., <extras>}``, a JSON
object printed to stdout becomes that object, any other printed line ``{"message": line}``.

Rules: ``match`` fields are ANDed; a value written ``/re/`` is a regex search, other strings
compare after stripping whitespace, other values by equality. ``count`` (or ``min_count``/
``max_count``) bounds how many records match. ``after``: every match comes at or after every
record matching each anchor; ``before``: at or before.
"""

from __future__ import annotations

import re
from typing import Any

from chaosdurable.conformance.matching import Bindings


def _field_matches(want: Any, got: Any) -> bool:
    if isinstance(want, str):
        if got is None:
            return False
        text = str(got).strip() if not isinstance(got, str) else got.strip()
        if len(want) >= 2 and want.startswith("/") and want.endswith("/"):
            return re.search(want[1:-1], text) is not None
        return want.strip() == text
    return bool(want == got)


def _matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return all(_field_matches(v, record.get(k)) for k, v in pattern.items())


def check_logs(expected: list[dict[str, Any]] | None, records: list[dict[str, Any]], bindings: Bindings) -> list[str]:
    """Errors for every ExpectedLogs entry the records do not satisfy."""
    errors: list[str] = []
    for i, raw in enumerate(expected or []):
        entry = bindings.substitute(raw)
        pattern = entry.get("match", {})
        own = [j for j, r in enumerate(records) if _matches(pattern, r)]
        label = f"ExpectedLogs[{i}] {pattern}"
        if "count" in entry and len(own) != entry["count"]:
            errors.append(f"{label}: expected exactly {entry['count']} matching records, got {len(own)}")
        if "min_count" in entry and len(own) < entry["min_count"]:
            errors.append(f"{label}: expected at least {entry['min_count']}, got {len(own)}")
        if "max_count" in entry and len(own) > entry["max_count"]:
            errors.append(f"{label}: expected at most {entry['max_count']}, got {len(own)}")
        for direction in ("after", "before"):
            for anchor in entry.get(direction) or []:
                hits = [j for j, r in enumerate(records) if _matches(anchor, r)]
                if not hits:
                    errors.append(f"{label}: {direction} anchor {anchor} matched no record")
                elif own and direction == "after" and own[0] < hits[-1]:
                    errors.append(f"{label}: a match comes before anchor {anchor}")
                elif own and direction == "before" and own[-1] > hits[0]:
                    errors.append(f"{label}: a match comes after anchor {anchor}")
    return errors
