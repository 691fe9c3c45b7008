"""Comparing what the current handler issued on replay with what the history recorded.

Contract: ``compare(recorded, replayed)`` returns the first ``Divergence`` or None. It checks, in
the order the handler issued its operations (the SDK derives an operation's id from its parent
and its position, so a matching id means "the same place in the code"):

1. identity: type, subtype, name and parent of each issued operation against the recorded one
   at that id (a name recorded elsewhere among the siblings is reported as an order change);
2. the arguments the history records: wait durations, callback timeout and heartbeat, invoke
   function names and payloads, map/parallel sizes (see ``rebuild.Recorded.args``);
3. operations the history holds that the handler no longer issued (checked only when the
   replay was not stopped at the frontier, whose later siblings could not run);
4. for a history that ended the execution: that the replay ends it the same way, with an
   equal result (as JSON) or the same error type and message.

Operations issued beyond the recorded frontier are not divergences; ``continuation`` says in
words what the handler would do next. Pure: reads the two values, runs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chaosdurable.replay.observe import Call, payload_equal
from chaosdurable.replay.rebuild import Recorded, _function_name
from chaosdurable.replay.session import Replayed

_TERMINAL = ("SUCCEEDED", "FAILED")
_ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED")
_ARG_WORDS = {"duration_s": "wait duration (s)", "timeout_s": "callback timeout (s)",
              "heartbeat_timeout_s": "callback heartbeat timeout (s)", "function_name": "invoked function",
              "payload": "invoke payload", "items": "number of items"}


@dataclass(frozen=True)
class Divergence:
    """The first place where the current handler does not replay the recorded history.

    ``kind`` is one of ``identity``, ``order``, ``argument``, ``missing``, ``continues``,
    ``result``, ``error``, ``outcome``. ``source`` is ``file:line`` of the handler code that
    issued the operation (or returned, or raised), when it could be found.
    """

    kind: str
    path: str
    expected: str
    actual: str
    source: str | None
    function: str | None = None
    op_id: str | None = None
    detail: str = ""

    def in_words(self) -> str:
        """The kind and place in a phrase: ``another operation was issued at operation 'pay'``, ``the
        execution's result differs``."""
        at = f"operation {self.path!r}"
        return {
            "identity": f"another operation was issued at {at}",
            "order": f"operations were issued in another order at {at}",
            "argument": f"{at} was issued with another argument",
            "missing": f"the replay never issued {at}, which the history holds",
            "continues": f"the replay went on past where the history ends (after {at})",
            "result": "the execution's result differs",
            "error": "the execution failed with another error",
            "outcome": "the execution ended another way",
        }.get(self.kind, f"{self.kind} at {at}")

    def describe(self) -> str:
        """The divergence in a few lines of words."""
        where = f" (at {self.source}" + (f", in {self.function}" if self.function else "") + ")" \
            if self.source else ""
        lines = [f"first divergence: {self.kind} at operation {self.path!r}{where}",
                 f"  expected (recorded): {self.expected}", f"  actual (replayed):  {self.actual}"]
        if self.detail:
            lines.append(f"  {self.detail}")
        return "\n".join(lines)


def _label(op_type: str, sub_type: str | None, name: str | None) -> str:
    shown = f"{op_type} {name!r}" if name else f"{op_type} (unnamed)"
    return f"{shown} [{sub_type}]" if sub_type and sub_type.upper() != op_type.replace("_", "") else shown


def _call_path(recorded: Recorded, call: Call, calls: dict[str, Call]) -> str:
    own = call.name or call.op_id[:12]
    parent = call.parent_id
    if parent is None:
        return own
    if parent in recorded.ops:
        return f"{recorded.path(parent)}/{own}"
    if parent in calls:
        return f"{_call_path(recorded, calls[parent], calls)}/{own}"
    return own


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _identity(recorded: Recorded, path: str, call: Call) -> Divergence | None:
    """Type, subtype, name and parent of ``call`` against the recorded operation at its id (``path``)."""
    op = recorded.ops[call.op_id]
    rec_parent, parent = op.parent_id or None, call.parent_id or None
    same = (op.type == call.op_type and (op.sub_type or None) == (call.sub_type or None)
            and (op.name or None) == (call.name or None) and rec_parent == parent)
    if same:
        return None
    expected, actual = _label(op.type, op.sub_type, op.name), _label(call.op_type, call.sub_type, call.name)
    if rec_parent != parent:
        expected += f" under {recorded.path(rec_parent) if rec_parent else 'the execution'}"
        actual += f" under {recorded.path(parent) if parent and parent in recorded.ops else parent or 'the execution'}"
    siblings = recorded.children(rec_parent)
    elsewhere = next((i for i, s in enumerate(siblings) if s.id != op.id and s.name == call.name
                      and s.type == call.op_type and call.name), None)
    if elsewhere is not None:
        position = next(i for i, s in enumerate(siblings) if s.id == op.id)
        return Divergence("order", path, expected, actual, call.source, call.function, call.op_id,
                          f"operations were reordered: the history records {call.name!r} as operation "
                          f"#{elsewhere + 1} of its parent, the handler now issues it as #{position + 1} "
                          "(an operation was moved, removed or added before it)")
    return Divergence("identity", path, expected, actual, call.source, call.function, call.op_id,
                      "the SDK would fail this execution with NonDeterministicExecutionError on replay")


def _arguments(recorded: Recorded, call: Call, path: str) -> Divergence | None:
    wanted = recorded.args.get(call.op_id) or {}
    for key, expected in wanted.items():
        if key not in call.args or expected is None:
            continue
        actual = call.args[key]
        if key == "payload":
            same = payload_equal(expected, actual)
        elif key == "function_name":
            same = _function_name(str(expected)) == _function_name(str(actual))
        elif key == "duration_s":
            same = actual is not None and float(expected) == float(actual)
        else:
            same = expected == actual
        if not same:
            return Divergence("argument", path, f"{_ARG_WORDS.get(key, key)} = {_short(expected)}",
                              f"{_ARG_WORDS.get(key, key)} = {_short(actual)}", call.source, call.function,
                              call.op_id, f"{_label(call.op_type, call.sub_type, call.name)} is issued with "
                              "different arguments than the history records; the replay would silently use "
                              "the recorded outcome")
    if call.op_type == "CONTEXT" and call.sub_type in ("Map", "Parallel") and "items" in call.args:
        started = [c for c in recorded.children(call.op_id) if c.sub_type in ("MapIteration", "ParallelBranch")]
        if len(started) > int(call.args["items"]):
            return Divergence("argument", path, f"at least {len(started)} items (the history started that many)",
                              f"{call.args['items']} items", call.source, call.function, call.op_id)
    return None


def _entered(recorded: Recorded, issued: dict[str, Call]) -> set[str | None]:
    """Parents whose bodies the replay ran: the execution, and issued contexts that re-ran theirs."""
    entered: set[str | None] = {None, recorded.exec_id}
    for call in issued.values():
        op = recorded.ops.get(call.op_id)
        if call.op_type == "CONTEXT" and (op is None or op.status not in _TERMINAL or op.replay_children):
            entered.add(call.op_id)
    return entered


def _where_it_stopped(replayed: Replayed, calls: list[Call]) -> tuple[str, str | None]:
    if replayed.status == "SUCCEEDED":
        return "the handler returned", replayed.observer.returned_at
    if replayed.status == "FAILED" or replayed.outcome_kind == "raised":
        error = replayed.error or replayed.outcome_error or {}
        return f"the handler raised {error.get('ErrorType')}: {_short(error.get('ErrorMessage') or '')}", \
            _raise_site(error) or (calls[-1].source if calls else None)
    return "the handler suspended", calls[-1].source if calls else None


def _raise_site(error: dict[str, Any]) -> str | None:
    from chaosdurable.replay.observe import is_user_file

    trace = error.get("StackTrace") or []
    for line in reversed([str(x) for x in trace]):
        if 'File "' in line:
            filename = line.split('File "', 1)[1].split('"', 1)[0]
            number = line.split("line ", 1)[1].split(",", 1)[0].strip() if "line " in line else "?"
            if is_user_file(filename):
                import os

                return f"{os.path.relpath(filename)}:{number}"
    return None


def _outcome(recorded: Recorded, replayed: Replayed, calls: list[Call]) -> Divergence | None:
    ended = f"the execution {recorded.outcome}" + (
        f" with result {_short(recorded.result)}" if recorded.outcome == "SUCCEEDED" else
        f" with {(recorded.error or {}).get('ErrorType')}: {_short((recorded.error or {}).get('ErrorMessage'))}")
    frontier = replayed.observer.frontier
    if frontier is not None:
        return Divergence("continues", frontier.name or frontier.op_id[:12], ended,
                          f"the handler would continue with {frontier.what}", frontier.source, None,
                          frontier.op_id, "the recorded execution is over, but the new code issues more work")
    if replayed.status not in _TERMINAL:
        what, source = _where_it_stopped(replayed, calls)
        return Divergence("outcome", "(execution)", ended, f"{what} without ending the execution", source)
    if replayed.status != recorded.outcome:
        what, source = _where_it_stopped(replayed, calls)
        return Divergence("outcome", "(execution)", ended, what, source)
    if recorded.outcome == "SUCCEEDED":
        if not payload_equal(recorded.result, replayed.result):
            return Divergence("result", "(execution)", f"result {_short(recorded.result)}",
                              f"result {_short(replayed.result)}", replayed.observer.returned_at, None, None,
                              "the handler now returns a different value from the same recorded operations")
        return None
    want, got = recorded.error or {}, replayed.error or {}
    if (want.get("ErrorType"), want.get("ErrorMessage")) != (got.get("ErrorType"), got.get("ErrorMessage")):
        _, source = _where_it_stopped(replayed, calls)
        return Divergence("error", "(execution)", f"{want.get('ErrorType')}: {_short(want.get('ErrorMessage'))}",
                          f"{got.get('ErrorType')}: {_short(got.get('ErrorMessage'))}", source)
    return None


def compare(recorded: Recorded, replayed: Replayed) -> Divergence | None:
    """The first divergence between ``recorded`` and ``replayed`` (see the module docstring)."""
    calls = list(replayed.observer.calls)
    issued = {c.op_id: c for c in calls}
    frontier = replayed.observer.frontier
    for call in calls:
        path = _call_path(recorded, call, issued)
        if call.op_id not in recorded.ops:
            if frontier is not None and frontier.op_id == call.op_id:
                break  # the first new work: beyond the recorded frontier
            if call.op_type == "CONTEXT":
                continue  # a virtual (flat) child context never checkpoints itself
            break
        found = _identity(recorded, recorded.path(call.op_id), call) or _arguments(recorded, call, path)
        if found is not None:
            return found
        if frontier is not None and frontier.op_id == call.op_id:
            break
    if frontier is None:
        entered = _entered(recorded, issued)
        for op in recorded.ops.values():
            if op.type == "EXECUTION" or op.id in issued or op.parent_id not in entered:
                continue
            what, source = _where_it_stopped(replayed, calls)
            return Divergence("missing", recorded.path(op.id), f"{_label(op.type, op.sub_type, op.name)} "
                              f"({op.status.lower()} in the history)", f"not issued: {what}", source, None, op.id,
                              "the new code no longer issues an operation the history holds")
    if recorded.outcome in ("SUCCEEDED", "FAILED"):
        return _outcome(recorded, replayed, calls)
    return None


def continuation(recorded: Recorded, replayed: Replayed) -> str:
    """In words, what the handler would do after the recorded point (for an identical replay)."""
    frontier = replayed.observer.frontier
    if frontier is not None:
        return f"would continue with {frontier.what}" + (f" ({frontier.source})" if frontier.source else "")
    if recorded.outcome in _ENDED:
        return f"ends as recorded ({recorded.outcome})"
    if replayed.status == "SUCCEEDED":
        return f"would complete with result {_short(replayed.result)}"
    if replayed.status == "FAILED":
        error = replayed.error or {}
        return f"would fail with {error.get('ErrorType')}: {_short(error.get('ErrorMessage'))}"
    pending = [op for op in recorded.ops.values() if op.type not in ("EXECUTION", "CONTEXT") and op.status not in
               ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED")]
    if pending:
        shown = ", ".join(_label(op.type, op.sub_type, op.name) + f" ({op.status.lower()})" for op in pending[-3:])
        return f"would wait, as recorded, for {shown}"
    return "would suspend, as recorded"
