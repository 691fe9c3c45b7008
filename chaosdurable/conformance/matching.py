"""History matching with the conformance suite's rules.

Rules (as documented by the suite): expected events are matched to actual events by
``EventId``; extra actual events are ignored; in a dict, only the expected keys are
compared and each must be present; ``{}`` means "don't care"; ``'*'`` matches anything;
``${NAME}`` is a placeholder bound on first use and compared afterwards; ``${/re/}`` is a
regular expression; other strings have known placeholders substituted and must be equal;
lists must have equal length and match element-wise. Variables such as ``${GEN_STR:8}``
are generated before the run from a seeded source, so runs are reproducible.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

_PLACEHOLDER = re.compile(r"^\$\{([^}]+)\}$")
_REGEX = re.compile(r"^\$\{/(.+)/\}$")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GEN = re.compile(r"^\$\{GEN_STR:(\d+)\}$")


class Bindings:
    """Placeholder name -> value, shared by input, history, result and log matching."""

    def __init__(self, seed: int = 0) -> None:
        self.values: dict[str, Any] = {}
        self._rng = random.Random(seed)

    def define(self, variables: dict[str, Any] | None) -> None:
        """Resolve a requirement's ``Variables`` (``${GEN_STR:N}`` draws N lowercase letters/digits)."""
        alphabet = string.ascii_lowercase + string.digits
        for name, value in (variables or {}).items():
            m = _GEN.match(value) if isinstance(value, str) else None
            self.values[name] = "".join(self._rng.choice(alphabet) for _ in range(int(m.group(1)))) if m else (
                value if isinstance(value, str) else str(value))

    def substitute(self, data: Any) -> Any:
        """Replace bound ``${NAME}`` references anywhere inside ``data``."""
        if isinstance(data, str):
            return _REF.sub(lambda m: str(self.values[m.group(1)]) if m.group(1) in self.values else m.group(0), data)
        if isinstance(data, dict):
            return {k: self.substitute(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.substitute(v) for v in data]
        return data


def match_value(expected: Any, actual: Any, path: str, bindings: Bindings, errors: list[str]) -> None:
    """Match one expected value against the actual one, appending readable errors."""
    if isinstance(expected, dict) and not expected:
        return
    if expected == "*":
        return
    if isinstance(expected, str):
        rx = _REGEX.match(expected)
        if rx:
            if not re.search(rx.group(1), str(actual)):
                errors.append(f"{path}: {actual!r} does not match /{rx.group(1)}/")
            return
        ph = _PLACEHOLDER.match(expected)
        if ph:
            name = ph.group(1)
            if name in bindings.values:
                if bindings.values[name] != actual:
                    errors.append(f"{path}: ${{{name}}} is {bindings.values[name]!r} but got {actual!r}")
            else:
                bindings.values[name] = actual
            return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if key not in actual:
                errors.append(f"{path}.{key}: missing")
            else:
                match_value(value, actual[key], f"{path}.{key}", bindings, errors)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            errors.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
            return
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match_value(e, a, f"{path}[{i}]", bindings, errors)
        return
    want = bindings.substitute(expected) if isinstance(expected, str) else expected
    if want != actual:
        errors.append(f"{path}: expected {want!r}, got {actual!r}")


def match_history(expected: list[dict[str, Any]], actual: list[dict[str, Any]], bindings: Bindings) -> list[str]:
    """Match expected events to actual ones by EventId. Returns the errors (empty = match)."""
    by_id = {e.get("EventId"): e for e in actual}
    errors: list[str] = []
    for exp in expected:
        eid = exp.get("EventId")
        act = by_id.get(eid)
        if act is None:
            errors.append(f"Event[{eid}]: no such event (history has {len(actual)})")
            continue
        match_value(exp, act, f"Event[{eid}]", bindings, errors)
    return errors


def strict_extras(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Our stricter reading: no unlisted event may sit between listed ones, nor follow them
    except the execution's own events (ExecutionStarted first, the terminal event last)."""
    listed = {e["EventId"] for e in expected if isinstance(e.get("EventId"), int)}
    if not listed:
        return []
    last = max(listed)
    errors = []
    for event in actual:
        eid = int(event["EventId"])
        if eid in listed or str(event.get("EventType", "")).startswith("Execution"):
            continue
        if eid < last:
            errors.append(f"Event[{eid}] {event['EventType']} is not in the expected history")
        else:
            errors.append(f"Event[{eid}] {event['EventType']} follows the last expected event")
    return errors
