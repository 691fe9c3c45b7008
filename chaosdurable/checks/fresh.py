"""Fresh values: what step bodies mint anew in every execution (ids, timestamps, random draws).

A step that returns ``str(uuid4())`` or ``datetime.now().isoformat()`` is the durable way to
use such values: the SDK checkpoints the result and every replay of that execution reads the
same value. Two *executions*, though, mint two different values, so the fault-free run and
the chaotic run legitimately disagree wherever those values flow (the result, the items
written, effect keys, invoke payloads).

``FreshValues.between(first, second)`` compares two fault-free runs of the same handler and
input: every leaf of a step's result that differs between them is fresh, identified by the
step (operation id) and the JSON path inside its result. ``normalize(run, text)`` then
replaces, in any text of that run, each fresh value *that run's* steps produced by a
placeholder naming the step and path, so ``<fresh mint-id>`` in both runs compares equal while
a value that a fault duplicated or changed outside those steps still differs.

A fresh step may mint more than one value within one run: a duplicate (concurrent) invocation runs
its body in two copies, a crash re-runs it, and which copy's checkpoint the service keeps is a race.
So every value the run's steps *offered* for that step (the result it kept and the payload of every
SUCCEED checkpoint, accepted or rejected, of any copy or attempt) is replaced, whichever one reached
the world. A value no step ever returned (minted outside a step, or minted and written by an attempt
that crashed before checkpointing) is still not replaced, and a value written twice still counts twice.

Only values of at least ``MIN_LENGTH`` characters (as JSON text) are replaced: short numbers
and words occur everywhere by coincidence.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.history.record import RunRecord

MIN_LENGTH = 6

Path = tuple[Any, ...]


def _parse(payload: Any) -> Any:
    if not isinstance(payload, str):
        return payload
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def _scalars(value: list[Any]) -> bool:
    """A list of plain values of one type (a drawn sample, a shuffled order, a list of minted ids)."""
    return bool(value) and all(not isinstance(v, dict | list) for v in value) and len({type(v) for v in value}) == 1


def _differences(a: Any, b: Any, path: Path = ()) -> Iterator[Path]:
    """Paths (down to leaves, or to where the shapes part) at which ``a`` and ``b`` differ. A list of
    plain values that differs anywhere differs as a whole: a sample drawn anew can keep an element in
    place by chance (trial8 c07: two juries of 3 out of 5 shared a juror at the same index), and that
    element is as fresh as the others."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            yield from _differences(a[key], b[key], (*path, key))
    elif isinstance(a, list) and isinstance(b, list) and _scalars(a) and _scalars(b):
        if a != b:
            yield path
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, (*path, index))
    elif a != b:
        yield path


def _at(value: Any, path: Path) -> Any:
    for part in path:
        in_dict = isinstance(value, dict) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_dict or in_list:
            value = value[part]
        else:
            return None
    return value


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _texts(leaf: Any) -> list[str]:
    """How a leaf can appear in text: a string raw and JSON-escaped, anything else as JSON."""
    if isinstance(leaf, bool) or leaf is None:
        return []
    if isinstance(leaf, str):
        escaped = json.dumps(leaf)[1:-1]
        return [t for t in dict.fromkeys((leaf, escaped)) if len(t) >= MIN_LENGTH]
    text = json.dumps(leaf)
    return [text] if len(text) >= MIN_LENGTH else []


def _step_results(run: RunRecord) -> dict[str, tuple[str, Any]]:
    return {op["Id"]: (str(op.get("Name") or op["Id"][:12]), _parse(op.get("Result")))
            for op in run.operations if op.get("Type") == "STEP" and op.get("Result") is not None}


def _step_values(run: RunRecord) -> dict[str, tuple[str, list[Any]]]:
    """Every value each step of ``run``'s own execution returned: its kept result, then the payload of
    every SUCCEED checkpoint of it (accepted or rejected: any copy or attempt), distinct, in order."""
    out = {op_id: (name, [value]) for op_id, (name, value) in _step_results(run).items()}
    for cp in run.checkpoints:
        if run.arn and cp.get("arn", run.arn) != run.arn:
            continue  # a chained-invoke child numbers its operations independently
        for u in cp.get("updates") or ():
            if u.get("Type") != "STEP" or u.get("Action") != "SUCCEED" or u.get("Payload") is None:
                continue
            _name, values = out.setdefault(u["Id"], (str(u.get("Name") or u["Id"][:12]), []))
            value = _parse(u["Payload"])
            if value not in values:
                values.append(value)
    return out


@dataclass(frozen=True)
class FreshValues:
    """Where step results differ between two fault-free runs; see the module docstring."""

    #: (operation id, path inside its result) of every fresh value
    paths: frozenset[tuple[str, Path]] = frozenset()
    #: substitutions by ``id(run)``, with a weak reference to that run: a ``FreshValues`` lives on the
    #: fault-free run, which the pytest plugin reuses across examples, so it outlives the chaotic runs it
    #: normalizes, and a later run may be allocated at a dead one's address (same ``id``)
    _cache: dict[int, tuple[weakref.ref[RunRecord], list[tuple[str, str]]]] = field(
        default_factory=dict, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FreshValues, (self.paths,))  # the cache (weak references) stays behind

    @classmethod
    def between(cls, first: RunRecord, second: RunRecord) -> FreshValues:
        """The fresh values of a handler, from two fault-free runs of it on the same input."""
        from chaosdurable.history.tripwire import ENVIRONMENT_CALLS

        one, two = _step_results(first), _step_results(second)
        # steps whose own body read the clock, random or uuid (the tripwire's record of ``first``): a result
        # both runs happen to share (two juries drawn alike, a coin flip) is as fresh as one they differ on
        minted = {hit.where.op_id for hit in getattr(first, "in_step_reads", ()) if hit.call not in ENVIRONMENT_CALLS}
        paths: set[tuple[str, Path]] = set()
        for op_id in one.keys() & two.keys():
            found = set(_differences(one[op_id][1], two[op_id][1]))
            paths |= {(op_id, path) for path in (found or ({()} if op_id in minted else set()))}
        return cls(frozenset(paths))

    def __bool__(self) -> bool:
        return bool(self.paths)

    def substitutions(self, run: RunRecord) -> list[tuple[str, str]]:
        """(text, placeholder) pairs for ``run``, longest text first."""
        cached = self._cache.get(id(run))
        if cached is not None and cached[0]() is run:
            return cached[1]
        results = _step_values(run)
        pairs: dict[str, str] = {}
        for op_id, path in sorted(self.paths, key=repr):
            if op_id not in results:
                continue
            name, values = results[op_id]
            where = "".join(f"[{p!r}]" for p in path)
            for value in values:
                for leaf in _leaves(_at(value, path)):
                    for text in _texts(leaf):
                        pairs.setdefault(text, f"<fresh {name}{where}>")
        out = sorted(pairs.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        key, cache = id(run), self._cache
        cache[key] = (weakref.ref(run, lambda _dead: cache.pop(key, None)), out)
        return out

    def normalize(self, run: RunRecord, text: str | None) -> str | None:
        """``text`` with every fresh value of ``run`` replaced by its placeholder."""
        if text is None or not self.paths:
            return text
        for value, placeholder in self.substitutions(run):
            if value in text:
                text = text.replace(value, placeholder)
        return text

    def normalize_value(self, run: RunRecord, value: Any) -> Any:
        """A JSON value with its fresh values replaced (compared as normalized JSON text)."""
        if not self.paths:
            return value
        return self.normalize(run, json.dumps(value, sort_keys=True, default=str))

    def normalize_world(self, run: RunRecord, world: Mapping[str, list[str]] | None) -> dict[str, list[str]] | None:
        """A world snapshot with fresh values replaced in every line (lists re-sorted)."""
        if world is None or not self.paths:
            return None if world is None else dict(world)
        return {key: sorted(self.normalize(run, line) or "" for line in lines) for key, lines in world.items()}


def _leaf_paths(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaf_paths(item, (*path, index))
    else:
        yield path, value


def _result_index(run: RunRecord) -> dict[str, set[tuple[str, Path]]]:
    """Every leaf of every step result of ``run`` (as JSON text) -> the (operation id, path) holding it."""
    index: dict[str, set[tuple[str, Path]]] = {}
    for op_id, (_name, values) in _step_values(run).items():
        for value in values:
            for path, leaf in _leaf_paths(value):
                index.setdefault(json.dumps(leaf, sort_keys=True), set()).add((op_id, path))
    return index


def carried_by_steps(first: RunRecord, a: Any, second: RunRecord, b: Any) -> bool:
    """True when ``a`` (seen in ``first``) and ``b`` (seen in ``second``) differ only where each holds
    the result of the *same* step at the same path in its own run: the value was minted inside that
    step (a deadline from the clock, a random wait length) and carried on, as a durable handler should.

    Two executions mint such a value anew, and a fault that moves or repeats the step (a re-run, a
    duplicate or timed-out invocation on a loaded machine) mints another one, so the difference says
    nothing about replay determinism. A value computed outside any step matches no step result.
    """
    one, two = _parse(a), _parse(b)
    paths = list(_differences(one, two))
    if not paths:
        return True
    first_index, second_index = _result_index(first), _result_index(second)
    for path in paths:
        x, y = _at(one, path), _at(two, path)
        if path and (x is None or y is None):
            return False  # the shapes part: not a carried value
        mine = first_index.get(json.dumps(x, sort_keys=True), set())
        theirs = second_index.get(json.dumps(y, sort_keys=True), set())
        if not mine & theirs:
            return False
    return True
