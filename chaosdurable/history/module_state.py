"""What a handler's module holds between executions, for explaining warm-sandbox findings.

In-process, the sandbox is the test process: a module-level set, dict or counter that one
execution fills is still filled when the next execution starts (as on a warm Lambda sandbox),
and a ``ColdStart`` reloads the module. ``snapshot(module)`` takes the module's plain-data
globals (numbers, strings, containers) as short text, so that two runs can say which global
differed when they started: ``_PAID: {'p-10'}`` in one, ``set()`` in the other.
Functions, classes, modules and other objects (clients, loggers) are left out.
"""

from __future__ import annotations

import collections
import itertools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

_PLAIN = (type(None), bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset, collections.deque,
          itertools.count)
#: containers longer than this are described by their length, not their contents
MAX_ITEMS = 50
#: longest text kept for one value
MAX_TEXT = 160


def _text(value: Any) -> str | None:
    try:
        if isinstance(value, tuple | list | dict | set | frozenset | collections.deque) and len(value) > MAX_ITEMS:
            return f"{type(value).__name__} of {len(value)} items"
        text = repr(value)
    except Exception:
        return None
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}... ({len(text)} characters)"


def snapshot(module: ModuleType | None) -> dict[str, str]:
    """The module's plain-data globals as ``name -> short repr`` (dunder names left out)."""
    if module is None:
        return {}
    out: dict[str, str] = {}
    for name, value in list(vars(module).items()):
        if name.startswith("__") or not isinstance(value, _PLAIN):
            continue
        text = _text(value)
        if text is not None:
            out[name] = text
    return out


def module_of(handler: Callable[..., Any]) -> ModuleType | None:
    """The module that defines the handler's user function (where its globals live)."""
    from chaosdurable import sdk_compat

    name, _qualname = sdk_compat.handler_origin(handler)
    return sys.modules.get(name or "")


def differing(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(name, value in before, value in after)`` for every global whose value differs (or is missing)."""
    return [(name, before.get(name, "(not set)"), after.get(name, "(not set)"))
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
