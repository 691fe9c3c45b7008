"""What every checker shares: the ``Violation`` value, the ``Ledger`` of what the nemesis did,
and the guard against comparing runs of different handlers.

A checker is a plain function ``(reference, chaotic, ledger) -> list[Violation]``: it reads
two ``RunRecord`` values and the ledger, and never drives an execution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.checks.fresh import FreshValues
from chaosdurable.history.record import Effect, RunRecord


class CheckerInputError(ValueError):
    """A checker was given runs it cannot compare."""


@dataclass(frozen=True)
class Violation:
    """One broken property: what happened, where, and why it matters.

    ``checker`` names the checker; ``op`` the operation (name or path); ``invocation`` the
    invocation index; ``source`` the handler's file:line when it is known.
    """

    checker: str
    message: str
    op: str | None = None
    invocation: int | None = None
    source: str | None = None
    detail: tuple[str, ...] = ()

    def describe(self) -> str:
        """Readable, multi-line."""
        where = ", ".join(x for x in (
            f"operation {self.op!r}" if self.op else "",
            f"invocation {self.invocation}" if self.invocation else "",
            f"at {self.source}" if self.source else "") if x)
        head = f"[{self.checker}] {self.message}" + (f"\n    where: {where}" if where else "")
        return head + "".join(f"\n    {line}" for line in self.detail)


@dataclass(frozen=True)
class Ledger:
    """The chaotic run's effects, plus what the nemesis did to it.

    ``fired``: descriptions of the faults that fired; ``outcome_may_change``: True when one
    of them legitimately changes the outcome (a callback failure, a late answer, a 4xx).
    ``repeats_still_count``: True when every such change is a handled failure of one operation
    (an interrupted at-most-once step, a dependency failure past the retries): the handler may
    take another path, but an effect the fault-free run made must still not happen more often.
    ``fresh``: where step results legitimately differ between executions (ids, timestamps).
    """

    effects: tuple[Effect, ...] = ()
    fired: tuple[str, ...] = ()
    outcome_may_change: bool = False
    repeats_still_count: bool = False
    fault_kinds: tuple[str, ...] = field(default_factory=tuple)
    #: the kinds of the fired faults that legitimately change the outcome (one per such firing)
    changed_by: tuple[str, ...] = ()
    #: values the handler's steps mint anew in every execution; compare runs through ``fresh.normalize``
    fresh: FreshValues = field(default_factory=FreshValues)


Checker = Callable[[RunRecord, RunRecord, Ledger], list[Violation]]


def require_same_handler(reference: RunRecord, chaotic: RunRecord) -> None:
    """Raise ``CheckerInputError`` unless both runs are of the same handler."""
    if reference.handler != chaotic.handler:
        raise CheckerInputError(
            f"the runs are of different handlers ({reference.handler} vs {chaotic.handler}): a checker compares "
            "a fault-free run and a chaotic run of the same handler and input"
        )


def op_index(run: RunRecord) -> dict[str, dict[str, Any]]:
    """Operations of a run by id."""
    return {op["Id"]: op for op in run.operations}


def op_label(run: RunRecord, op_id: str | None) -> str | None:
    """The operation's name path (parents/name), or its id."""
    if op_id is None:
        return None
    ops = op_index(run)
    parts = []
    current = ops.get(op_id)
    guard = 0
    while current is not None and current.get("Type") != "EXECUTION" and guard < 64:
        parts.append(current.get("Name") or current["Id"][:12])
        current = ops.get(current.get("ParentId") or "")
        guard += 1
    return "/".join(reversed(parts)) or op_id


def shorten(text: Any, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters with the length said (results can be kilobytes)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else f"{flat[:limit]}... ({len(flat)} characters)"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun in the number it takes: ``1 time``, ``2 times``, ``0 retries`` (``words``: the
    plural when it is not ``word + "s"``)."""
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def first(items: Sequence[Any]) -> Any:
    """The first item or None."""
    return items[0] if items else None


_MISMATCH = re.compile(r"(type|subtype|name|parent_id) checkpoint=('[^']*'|None) current=('[^']*'|None)")


def sdk_mismatch(run: RunRecord) -> str | None:
    """``run``'s non-deterministic replay as the SDK detected it, in words, or None."""
    error = run.error or {}
    if "NonDeterministicExecutionError" not in str(error.get("ErrorType", "")):
        return None
    message = str(error.get("ErrorMessage", ""))
    found = _MISMATCH.findall(message)
    if not found:
        return f"the SDK stopped a replay as non-deterministic: {shorten(message, 200)}"
    what = "; ".join(f"the history holds {field.replace('_', ' ')} {old} where the replay issued {new}"
                     for field, old, new in found)
    return f"at the operation where the SDK stopped the replay, {what}"


#: the SDK's typed envelope (``serdes``: ``{"t": tag, "v": value}``), by tag: how to show the value
_ENVELOPE_TAGS = frozenset({"n", "s", "i", "f", "b", "u", "d", "dt", "t", "l", "m", "br"})


def unwrapped(value: Any) -> Any:
    """``value`` with the SDK's typed envelopes (``{"t": "m", "v": {...}}``, SDK 3's extended serdes)
    replaced by what they hold, recursively, for a reader: a dict, a list, a number, a string."""
    if isinstance(value, dict):
        if set(value) == {"t", "v"} and value["t"] in _ENVELOPE_TAGS:
            inner = value["v"]
            if value["t"] == "m" and isinstance(inner, dict):
                return {k: unwrapped(v) for k, v in inner.items()}
            if value["t"] in ("l", "t") and isinstance(inner, list):
                return [unwrapped(v) for v in inner]
            return unwrapped(inner)
        return {k: unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrapped(v) for v in value]
    return value
