"""``check(handler, input, schedule) -> Verdict``: one call from a handler to a trustworthy verdict.

It runs the handler twice on the same input, in the same (optionally moto-mocked) world:
once fault-free (the reference) and once under the schedule (the chaotic run), then hands
both records to every checker. The verdict carries the violations, both runs, the schedule
with the faults that fired and those never reached, and a snippet that reproduces it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdurable.backends import Backend, Guards, Limits, Workload
from chaosdurable.backends.base import refuse_unsupported
from chaosdurable.checks import ALL_CHECKERS, Checker, Ledger, Violation
from chaosdurable.checks.base import plural, sdk_mismatch, shorten, unwrapped
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.checks.uninterrupted import compare as compare_uninterrupted
from chaosdurable.checks.warm import WARM_MARK
from chaosdurable.engine.errors import NotDurableHandlerError, PayloadNotJsonError
from chaosdurable.engine.knobs import Knobs
from chaosdurable.faults.nemesis import Firing
from chaosdurable.faults.schedule import FaultSchedule, describe_operation, unnamed_in_words
from chaosdurable.history.http import RealNetworkRefused, refused_message
from chaosdurable.history.ledger import RealAwsRefused
from chaosdurable.history.record import RunRecord
from chaosdurable.history.world import World
from chaosdurable.options import resolve
from chaosdurable.replay.selfcheck import replay_finished, should_replay
from chaosdurable.run import Answer

_OUTCOME_CHANGING = {"callback": ("after_timeout", "failure", "miss_heartbeats")}


def _shown(payload: Any) -> str:
    """An operation's result (JSON text) as a reader wants it: the value, not its escaped JSON; a string
    result (a callback's answer is often JSON text itself) quoted once."""
    if payload is None:
        return "(no result)"
    try:
        value = unwrapped(json.loads(payload))  # the SDK's typed envelopes shown as the values they hold
    except (TypeError, ValueError):
        return repr(shorten(str(payload), 200))
    if isinstance(value, str):
        return repr(shorten(value, 200))
    return shorten(json.dumps(value), 200)


@dataclass
class Verdict:
    """The outcome of one ``check``."""

    violations: list[Violation]
    reference: RunRecord
    chaotic: RunRecord
    schedule: FaultSchedule
    fired: list[Firing]
    not_reached: list[str]
    replay: str
    checkers: list[str] = field(default_factory=list)
    command: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def tested(self) -> bool:
        """False when the run tested nothing: the fault-free run did not succeed (a missing input, a misspelt
        callback name: chaos is judged against it), or the schedule held faults and none of them fired (all
        "not reached": a typo in an operation or effect name, a callback the run never made)."""
        if self.reference.status != "SUCCEEDED":
            return False
        return not len(self.schedule) or bool(self.fired)

    @property
    def ok(self) -> bool:
        """True when no checker found a violation and something was tested (``tested``): a schedule whose
        faults all missed never says OK. ``violations`` alone says whether a checker found anything."""
        return not self.violations and self.tested

    def by_checker(self, name: str) -> list[Violation]:
        """The violations one checker reported."""
        return [v for v in self.violations if v.checker == name]

    def report(self, headline: str | None = None) -> str:
        """The whole verdict in words: schedule, what fired, what was not reached, violations, replay.

        ``headline`` replaces the first line (``chaosdurable verdict for ...: OK``): the command line
        uses it when the run tested nothing, so that no line of its output says OK.
        """
        if self.violations:
            outcome = plural(len(self.violations), "violation")
        elif self.reference.status != "SUCCEEDED":
            outcome = (f"NOTHING TESTED: the fault-free run ended {self.reference.status} (see below), and chaos is "
                       "judged against it; check the input and the callback answers")
        elif not self.tested:
            outcome = ("NOTHING TESTED: no fault of the schedule was reached (see 'not reached' below); fix the "
                       "names it targets, or drop the faults that cannot fire")
        else:
            outcome = "OK"
        lines = [headline or f"chaosdurable verdict for {self.chaotic.handler}: {outcome}"]
        lines.append("schedule:")
        lines += [f"  {line}" for line in self.schedule.describe().splitlines()]
        if self.fired:
            lines.append("fired:")
            lines += [f"  - {f.describe()}" for f in self.fired]
        if self.not_reached:
            lines.append("not reached:")
            lines += [f"  - {text}" for text in self.not_reached]
        for label, run in (("fault-free run:", self.reference), ("chaotic run:   ", self.chaotic)):
            outcome = run.result_payload or ""
            if run.status == "FAILED" and run.error:
                outcome = f"{run.error.get('ErrorType')}: {run.error.get('ErrorMessage')}"
            lines.append(f"{label} {run.status} {shorten(outcome)}".rstrip())
        notes = list(dict.fromkeys(self.reference.diagnostics + self.chaotic.diagnostics))
        lines += [shorten(note if note.startswith("note: ") else f"note: {note}", 600) for note in notes]
        divergence = self.first_divergence()
        if divergence and self.violations:
            lines.append(f"first divergent operation: {divergence}")
        for violation in self.violations:
            lines.append(violation.describe())
        lines.append("reproduce with:")
        lines += [f"  {line}" for line in self.replay.splitlines()]
        return self.in_words("\n".join(lines))

    def in_words(self, text: str) -> str:
        """``text`` with the ids of unnamed operations (fault targets) replaced by words.

        ``'1ced8f...'`` reads ``step #3 (unnamed) in child 'ship'``; named operations stay as they are.
        """
        known = {op["Id"] for op in self.reference.operations}
        ops = self.reference.operations + [op for op in self.chaotic.operations if op["Id"] not in known]
        return unnamed_in_words(text, ops)

    def first_divergence(self) -> str | None:
        """The first operation (in the fault-free run's order) whose outcome differs under faults
        (results compared with the values steps mint anew in every execution replaced). When the SDK
        stopped the chaotic run as non-deterministic, the operation it named, in its words."""
        stopped = sdk_mismatch(self.chaotic)
        if stopped:
            return stopped
        fresh = self.reference.fresh if isinstance(self.reference.fresh, FreshValues) else FreshValues()
        chaotic = {op["Id"]: op for op in self.chaotic.operations}
        for op in self.reference.operations:
            if op["Type"] == "EXECUTION":
                continue
            other = chaotic.get(op["Id"])
            label = f"{op['Type']} {op['Name']!r}" if op.get("Name") else describe_operation(
                op["Id"], self.reference.operations)
            if other is None:
                return f"{label}: {op['Status']} without faults, never reached under faults"
            if other["Type"] != op["Type"] or (other.get("Name") or None) != (op.get("Name") or None):
                # operation ids are positional: under faults this position holds another operation
                theirs = f"{other['Type']} {other['Name']!r}" if other.get("Name") else describe_operation(
                    other["Id"], self.chaotic.operations)
                return (f"{label}: {op['Status']} {_shown(op.get('Result'))} without faults; under faults this "
                        f"place holds {theirs}, {other['Status']} {_shown(other.get('Result'))}")
            if (op["Status"], fresh.normalize(self.reference, op.get("Result"))) != (
                    other["Status"], fresh.normalize(self.chaotic, other.get("Result"))):
                return (f"{label}: {op['Status']} {_shown(op.get('Result'))} without faults, "
                        f"{other['Status']} {_shown(other.get('Result'))} under faults")
        return None

    def timeline(self) -> list[str]:
        """A compact timeline of the chaotic run: events, invocation ends, and the faults that fired."""
        lines = []
        invocation = 1
        for event in self.chaotic.history:
            kind = event["EventType"]
            if kind == "InvocationCompleted":
                error = event["InvocationCompletedDetails"].get("Error")
                why = f" with {error['Payload'].get('ErrorType')}" if error else ""
                lines.append(f"-- invocation {invocation} ended{why}")
                invocation += 1
                continue
            name = event.get("Name") or ""
            lines.append(f"{event['EventId']:>4} {kind} {name}".rstrip())
        lines += [self.in_words(f"fault: {f.describe()}") for f in self.fired]
        return lines

    def replay_command(self) -> str:
        """The one-line shell command that reproduces this verdict."""
        return self.command

    def save(self, directory: str | Path = ".chaosdurable/failures", name: str | None = None) -> Path:
        """Write what reproduces this verdict to ``directory`` as JSON; ``chaosdurable replay FILE`` reruns it.

        The file is ``<name>.json`` when ``name`` is given (a later save under the same name replaces
        it: the pytest plugin names it after the test, so the last, shrunk failure is what stays),
        otherwise ``<handler>-<hash of the content>.json``.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        body = json.dumps(self.spec, sort_keys=True, indent=1)
        handler = self.spec["handler"].replace(":", ".").replace("/", ".")
        stem = name or f"{handler}-{hashlib.blake2b(body.encode(), digest_size=4).hexdigest()}"
        path = folder / f"{stem.replace('/', '.').replace(':', '.')}.json"
        path.write_text(body + "\n")
        return path

    def raise_for_violations(self) -> None:
        """Raise ``AssertionError`` with the report if anything was violated, or nothing was tested."""
        if not self.ok:
            raise AssertionError(self.report())


#: Checkers that compare two runs; their findings between two fault-free runs form the baseline.
_COMPARING = ("resumption", "determinism", "idempotency")


def _baseline(reference: RunRecord, witness: RunRecord,
              selected: Mapping[str, Checker]) -> frozenset[tuple[str, str | None]]:
    """(checker, operation) of what the comparing checkers report between two fault-free runs."""
    ledger = Ledger(fresh=reference.fresh if isinstance(reference.fresh, FreshValues) else FreshValues())
    witness.label = "chaotic"  # the checkers speak of "the chaotic run"; only (checker, op) is kept
    out: set[tuple[str, str | None]] = set()
    for name in _COMPARING:
        checker = selected.get(name)
        if checker is None:
            continue
        if name != "idempotency" and not ledger.fresh.paths:
            # Step results agree between the two runs, so nothing legitimate explains a different
            # result or control flow: that is nondeterminism outside steps, a finding to keep.
            continue
        for v in checker(reference, witness, ledger):
            if v.checker == "idempotency" and not v.message.startswith("the external world differs"):
                out.add((v.checker, v.op))  # an explicit effect whose count differs: only that one
            else:
                # results, control flow or the world differ between executions: any comparison of
                # that kind across executions says nothing about faults for this handler
                out.add((v.checker, None))
    return frozenset(out)


def _first_fault_invocation(fired: Iterable[Firing]) -> float:
    """The first invocation a fault acted in or before (1 when a firing does not say: a timer or a
    callback fault, conservatively); infinity when nothing fired."""
    first = float("inf")
    for f in fired:
        found = re.search(r"invocation (\d+)", f.where)
        first = min(first, int(found.group(1)) if found else 1)
    return first


def _diverged_before_faults(reference: RunRecord, chaotic: RunRecord, fired: Iterable[Firing]) -> bool:
    """Whether the first difference between the runs, in the reference's operation order, is the result
    of a step (same name and place) that ran, in the chaotic run, only in invocations before any fault
    acted (fresh values replaced): then the two runs differ as two fault-free executions of this
    handler do (a coin flip or a clock read in a step), whatever the witness run happened to draw.
    A difference in control flow first (another operation at that place) is not excused here."""
    before = _first_fault_invocation(fired)
    fresh = reference.fresh if isinstance(reference.fresh, FreshValues) else FreshValues()
    ran_in: dict[str, set[int | None]] = {}
    for body in chaotic.body_runs:
        if body.where.op_type == "STEP" and body.where.op_id and (body.where.arn or chaotic.arn) == chaotic.arn:
            ran_in.setdefault(body.where.op_id, set()).add(body.where.invocation)
    theirs = {op["Id"]: op for op in chaotic.operations}
    for mine in reference.operations:
        if mine.get("Type") == "EXECUTION":
            continue
        op = theirs.get(mine["Id"])
        if op is None or (op.get("Type"), op.get("Name")) != (mine.get("Type"), mine.get("Name")):
            return False  # the first difference is control flow, not a step's result
        if (mine.get("Status"), fresh.normalize(reference, mine.get("Result"))) == (
                op.get("Status"), fresh.normalize(chaotic, op.get("Result"))):
            continue
        invocations = ran_in.get(op["Id"])
        return (mine.get("Type") == "STEP" and bool(invocations)
                and all(i is not None and i < before for i in invocations or ()))
    return False


#: How to turn values json cannot write into JSON, by the type name json's error names.
_JSON_HINTS = {
    "Decimal": "convert Decimal to int, float or str (boto3's DynamoDB reads give Decimal)",
    "datetime": "convert datetime/date to text with .isoformat()",
    "date": "convert datetime/date to text with .isoformat()",
    "set": "convert sets to lists (sorted(...))",
    "bytes": "decode bytes to text (or base64)",
    "Out of range float": "replace NaN and infinity with null or a number",
}


def _payload(input: Any, payload: str | None) -> str:
    if payload is not None:
        return payload
    try:
        return json.dumps(input, allow_nan=False)
    except (TypeError, ValueError) as exc:
        hints = [hint for word, hint in _JSON_HINTS.items() if word in str(exc)]
        raise PayloadNotJsonError(f"input {input!r} is not JSON-serializable ({exc}); the execution input is JSON, "
                                  f"as Lambda delivers it: {hints[0] if hints else 'pass JSON values only'} "
                                  "(or pass payload= the JSON text itself)") from None


def _not_reached(nemesis_not_reached: list[Any], chaotic: RunRecord, fired: Iterable[Firing] = ()) -> list[str]:
    """Why each fault never fired: its target never happened, or never at the coordinates it names, or
    every attempt at it was failed by another fault of the schedule (``fired``)."""
    import fnmatch

    failed = [f.fault for f in fired if f.fault.kind == "transient_failure"]
    seen = sorted({str(op.get("Name")) for op in chaotic.operations if op.get("Name") and op["Type"] != "EXECUTION"})
    effects = sorted({str(e.name) for e in chaotic.effects})
    out = []
    for fault in nemesis_not_reached:
        if isinstance(getattr(fault, "event", None), int):  # an event fault (chaosdurable.faults.events)
            delivered = [e["note"].split(": ", 1)[-1] for e in chaotic.callbacks if " of stream " in str(e.get("note"))]
            why = ("that event was never delivered, or no callback was left to take its copy"
                   if fault.kind == "event_redelivery"
                   else "that event was never delivered with the next one still to come")
            out.append(f"{fault.describe()} -- not reached: {why} (deliveries: {delivered or 'none'})")
            continue
        target = getattr(fault, "op", None) or getattr(fault, "effect", None) or getattr(fault, "invocation", None)
        pattern = str(getattr(fault, "effect", None) or "")
        matching = [e for e in chaotic.effects if pattern and fnmatch.fnmatchcase(e.name, pattern)]
        if matching:  # the effect happened, but never where the fault points
            places = sorted({e.where.label() for e in matching})
            out.append(f"{fault.describe()} -- not reached: effect {pattern!r} happened, but never at the "
                       f"coordinates this fault names (it happened in: {'; '.join(places[:6])})")
            continue
        failing = [f for f in failed if pattern and (fnmatch.fnmatchcase(str(getattr(f, "effect", "")), pattern)
                                                     or fnmatch.fnmatchcase(pattern, str(getattr(f, "effect", ""))))]
        if failing:  # every attempt at the effect was failed by a TransientFailure: a failed call did not happen
            out.append(f"{fault.describe()} -- not reached: every attempt at effect {pattern!r} was failed by "
                       f"another fault of this schedule ({failing[0].describe()}), and a call that failed did not "
                       "happen, so there was nothing to act after")
            continue
        named = [op for op in chaotic.operations if target is not None and target in (op.get("Name"), op["Id"])]
        if named:
            out.append(f"{fault.describe()} -- not reached: operation {target!r} happened, but never at the "
                       f"action, attempt or invocation this fault names (invocations: {len(chaotic.invocations)})")
            continue
        if isinstance(target, int):
            out.append(f"{fault.describe()} -- not reached: invocation {target} never happened "
                       f"(only {len(chaotic.invocations)} ran)")
            continue
        what = repr(target) if target is not None else "its target"
        out.append(f"{fault.describe()} -- not reached: {what} never happened "
                   f"(operations seen: {seen or 'none'}; effects seen: {effects or 'none'}; "
                   f"invocations: {len(chaotic.invocations)})")
    return out


def encode_callbacks(callbacks: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Callback answers as JSON: a plain value stays itself, an ``Answer`` becomes {"__answer__": fields}."""
    from chaosdurable.events import encode_value

    if not callbacks:
        return None
    return {name: encode_value(value) for name, value in callbacks.items()}


def decode_callbacks(encoded: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The inverse of ``encode_callbacks``."""
    from chaosdurable.events import decode_value

    if not encoded:
        return None
    return {name: decode_value(value) for name, value in encoded.items()}


def _module_attr(fn: Any, import_path: str | None = None) -> tuple[str, str] | None:
    """``(module, attribute path)`` by which ``fn`` is imported, or None when nothing at module level holds it.

    In order: ``import_path`` (``"module:attr"``) when given; ``__module__`` + ``__qualname__`` when that
    resolves to ``fn``; else the module-level attribute that holds ``fn``, found by identity
    (``h = make_handler("Hello")`` gives ``h``, not ``make_handler.<locals>._h``).
    """
    import sys

    if import_path is not None and ":" in import_path:
        given, _, attr = import_path.partition(":")
        return given, attr
    module_name = getattr(fn, "__module__", None)
    qualname = str(getattr(fn, "__qualname__", "") or "")
    if not isinstance(module_name, str) or not module_name:
        return None
    module = sys.modules.get(module_name)
    if "<locals>" not in qualname and qualname:
        target: Any = module
        for part in qualname.split("."):
            target = getattr(target, part, None)
        # a module reloaded since (a ColdStart) holds a new object of the same name: the same import
        if target is fn or module is None or (callable(target) and getattr(target, "__qualname__", None) == qualname):
            return module_name, qualname
    if module is not None:
        for name, value in list(vars(module).items()):
            if value is fn and name.isidentifier():
                return module_name, name
    return None


def _confirmed(violations: list[Violation], chaotic: RunRecord, schedule: FaultSchedule, chosen: Backend,
               work: Any, text: str, bounds: Any, guards: Any, world: Any, setup: Any) -> list[Violation]:
    """``checks.confirm`` with two more runs of the workload, in the same kind of world."""
    from chaosdurable.checks.confirm import confirm

    with contextlib.ExitStack() as stack:
        if isinstance(world, World) or (world is not None and not isinstance(world, bool)):
            active: Any = world
        elif world if world is not None else setup is not None:
            active = stack.enter_context(World(setup))
        else:
            active = None

        def run(backend: Any, replayed: FaultSchedule, label: str) -> RunRecord:
            return backend.run(work, text, replayed, bounds, guards, active, label=label)[0]

        return confirm(violations, chaotic, run, schedule, chosen)


def _http_routes(mock: Any) -> list[dict[str, Any]] | None:
    """The HTTP mock's routes as data, for a saved failure's replay (None: no mock, or one with code in it)."""
    if mock is None:
        return None
    from chaosdurable.history.http_registry import routes

    return routes(mock)


def _import_lines(fn: Any, import_path: str | None = None) -> tuple[list[str], str]:
    """The import line(s) for ``fn`` and the Python expression that names it after them."""
    found = _module_attr(fn, import_path)
    if found is None:
        qualname = str(getattr(fn, "__qualname__", "handler"))
        name = qualname.split(".")[-1] if qualname.split(".")[-1].isidentifier() else "handler"
        return [f"# {getattr(fn, '__module__', '?')}.{qualname} is built inside a function and no module-level "
                f"attribute holds it: assign it to one (or bind {name} here) and import that",
                f"{name} = None  # replace with your {qualname.split('.')[0]}(...) call"], name
    module, attr = found
    return [f"from {module} import {attr.split('.')[0]}"], attr


def _replay_snippet(handler: Callable[..., Any], payload: str, schedule: FaultSchedule, seed: int,
                    backend: Backend, setup: Callable[..., Any] | None = None,
                    targets: Mapping[str, Callable[..., Any]] | None = None,
                    callbacks: Mapping[str, Any] | None = None, import_path: str | None = None,
                    http: Any = None, allow_hosts: tuple[str, ...] = ()) -> str:
    """Python that reruns this check: the handler, setup and targets imported (by the module-level
    attribute that holds each), callbacks spelled out, the HTTP mock rebuilt from its routes when they
    are all static (``history.http_registry``), else left for the reader to build."""
    lines: list[str] = []
    fns = [handler, *([setup] if setup is not None else []), *(targets or {}).values()]
    if any(getattr(fn, "__module__", None) == "__main__" for fn in fns):
        lines.append("# defined in the script that ran check(): import it from that script's module instead")

    def named(fn: Any, path: str | None = None) -> str:
        imports, expression = _import_lines(fn, path)
        lines.extend(line for line in imports if line not in lines)
        return expression

    name = named(handler, import_path)
    setup_name = named(setup) if setup is not None else None
    target_names = {k: named(v) for k, v in (targets or {}).items()}
    lines.append("from chaosdurable import FaultSchedule, check")
    shown_callbacks = _callbacks_source(callbacks, named, lines) if callbacks else None
    args = [f"payload={payload!r}", f"schedule=FaultSchedule.from_json({schedule.to_json()!r})",
            f"seed={seed}"]
    if backend.name != "inprocess":
        args.append(f"backend=from_spec({backend.spec()!r})")
        lines.append("from chaosdurable.backends import from_spec")
    if setup_name is not None:
        args.append(f"setup={setup_name}")
    if targets:
        args.append("targets={" + ", ".join(f"{k!r}: {v}" for k, v in target_names.items()) + "}")
    if shown_callbacks:
        args.append(f"callbacks={shown_callbacks}")
    if http is not None:
        from chaosdurable.history.http_registry import routes, source

        found = routes(http)
        if found is None:  # a callback route or a matcher: code, not data
            lines.append("http_mock = ...  # the responses.RequestsMock this run answered HTTP with (http=): build it "
                         "here (it has a callback or matcher route, which cannot be written down)")
        else:
            lines.extend(line for line in source(found) if line not in lines)
        args.append("http=http_mock")
    if allow_hosts:
        args.append(f"allow_hosts={list(allow_hosts)!r}")
    if import_path is not None and backend.name == "subprocess":
        args.append(f"import_path={import_path!r}")
    if backend.name == "inprocess":  # options that differ from the defaults
        args += [f"{key}={value!r}" for key, value in backend.spec().items() if key != "name"]
    lines.append(f"verdict = check({name},\n                " + ",\n                ".join(args) + ")")
    lines.append("print(verdict.report())")
    return "\n".join(lines)


def _callbacks_source(callbacks: Mapping[str, Any], named: Callable[[Any], str], lines: list[str]) -> str:
    """``callbacks=`` as Python, adding the import lines it needs (functions by the attribute that holds them)."""
    from chaosdurable.events import EventStream, InOrder

    def has(kind: type, value: Any) -> bool:
        inner = value.answers if isinstance(value, InOrder) else value.events if isinstance(value, EventStream) else ()
        return isinstance(value, kind) or any(isinstance(v, kind) for v in inner)

    for kind, line in ((Answer, "from chaosdurable.run import Answer"),
                       (InOrder, "from chaosdurable.events import InOrder"),
                       (EventStream, "from chaosdurable.events import EventStream")):
        if any(has(kind, v) for v in callbacks.values()) and line not in lines:
            lines.append(line)
    parts = []
    for key, value in callbacks.items():
        shown = repr(value)
        if callable(value) and not isinstance(value, Answer):
            if _module_attr(value) is not None:
                shown = named(value)
            else:
                shown = "answer_callbacks"
                lines.append(f"# the function answering callbacks ({getattr(value, '__qualname__', value)}) is not "
                             "held by a module-level attribute: define it at module level and import it")
                lines.append("answer_callbacks = None  # replace with that function")
        parts.append(f"{key!r}: {shown}")
    return "{" + ", ".join(parts) + "}"


def _fingerprint(text: str) -> str:
    """A payload's stand-in in printed reproductions (the saved failure holds the payload itself)."""
    return f"[redacted payload sha256:{hashlib.sha256(text.encode()).hexdigest()[:12]}, {len(text)} chars]"


def _ref(fn: Callable[..., Any]) -> str:
    """``module:attribute`` of a setup or target function (the module-level attribute that holds it)."""
    found = _module_attr(fn)
    if found is not None:
        return f"{found[0]}:{found[1]}"
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}"


def _handler_ref(handler: Callable[..., Any], import_path: str | None) -> str:
    """``module:attribute`` of the handler: ``import_path``, else found as subprocess mode finds it."""
    if import_path is not None:
        return import_path
    from chaosdurable.engine.subprocess_invoker import handler_ref

    try:
        return handler_ref(handler)
    except NotDurableHandlerError:
        return _ref(handler)


def _replay_command(handler: Callable[..., Any], payload: str, schedule: FaultSchedule, mode: str,
                    setup: Callable[..., Any] | None, targets: Mapping[str, Callable[..., Any]] | None = None,
                    callbacks: Mapping[str, Any] | None = None, import_path: str | None = None,
                    process_per: str = "sandbox", http: Any = None, allow_hosts: tuple[str, ...] = (),
                    backend: Any = None) -> str:
    parts = ["chaosdurable", "check", _handler_ref(handler, import_path), "--input", shlex.quote(payload),
             "--schedule", shlex.quote(schedule.to_json())]
    if mode != "inprocess":
        parts += ["--mode", mode]
    options = backend.spec() if backend is not None else {}
    parts += [flag for key, flag in (("faithful", "--faithful"), ("threaded_branches", "--threaded-branches"))
              if options.get(key)]
    if options.get("virtual_clock") is False:
        parts.append("--real-clock")
    if process_per != "sandbox":
        parts += ["--process-per", process_per]
    if setup is not None:
        parts += ["--setup", _ref(setup)]
    for name, target in (targets or {}).items():
        parts += ["--target", shlex.quote(f"{name}={_ref(target)}")]
    if callbacks:
        parts += ["--callbacks", shlex.quote(json.dumps(encode_callbacks(callbacks), sort_keys=True))]
    for host in allow_hosts:
        parts += ["--allow-host", shlex.quote(host)]
    if http is not None:  # an object: the reader names where it is built
        parts += ["--http", "MODULE:ATTR"]
    return " ".join(parts)


def fresh_process_note(run: RunRecord, backend: str) -> str | None:
    """In subprocess mode, a replay that issued operations under other names after a new process started:
    what differs between processes is the usual cause (set order under ``PYTHONHASHSEED``)."""
    if backend != "subprocess" or "name checkpoint=" not in str((run.error or {}).get("ErrorMessage", "")):
        return None
    return ("note: in subprocess mode a crash, a timeout or a cold start replays in a new process with its own "
            "PYTHONHASHSEED and fresh module state. Operations named in another order there usually come from "
            "iterating a set (or anything ordered by hash()) of strings outside steps: sort it (sorted(...)), or "
            "take the order from the input or a step result")


def _worth_running_straight(reference: RunRecord, backend: str) -> bool:
    """Whether the ``uninterrupted`` oracle run can say something: an engine backend, a finished fault-free
    run that suspended at a wait, no final-replay finding already, no clock/random/uuid read outside steps."""
    return (backend in ("inprocess", "subprocess") and not reference.final_replay and should_replay(reference)
            and len(reference.invocations) > 1 and any(op.get("Type") == "WAIT" for op in reference.operations))


def _straight_through(bounds: Limits) -> Limits:
    """``bounds`` with the service completing every wait at once (``Knobs.complete_waits_inline``)."""
    knobs = dataclasses.replace(bounds.knobs or Knobs(), complete_waits_inline=True)
    return dataclasses.replace(bounds, knobs=knobs)


def check(
    handler: Callable[..., Any] | Workload,
    input: Any = None,
    schedule: FaultSchedule | Iterable[Any] | Mapping[str, Any] | None = None,
    *,
    payload: str | None = None,
    backend: Backend | str | None = None,
    limits: Limits | None = None,
    guards: Guards | None = None,
    world: bool | World | Any = None,
    checkers: Iterable[str] | Mapping[str, Checker] | None = None,
    reference: RunRecord | None = None,
    save_histories: str | Path | None = None,
    **options: Any,
) -> Verdict:
    """Run ``handler`` fault-free and under ``schedule`` and judge the pair.

    What runs, where, how far and what it may reach are four values (``chaosdurable.backends``):
    ``handler`` may be a ``Workload``; ``backend`` is ``InProcess()`` (default), ``Subprocess()``
    or ``Aws(...)`` (or its name); ``limits`` a ``Limits``; ``guards`` a ``Guards``. Every field
    of those values can also be given as a keyword shorthand, as below (``chaosdurable.options``).

    Args:
        handler: a ``@durable_execution`` handler, or a ``Workload``.
        input: the execution input (any JSON value); or ``payload`` as raw JSON text.
        schedule: the faults (default: none, which still runs the tripwire and the
            effects-outside-steps checker): a ``FaultSchedule``, or a list of faults, or a
            JSON-shaped dict ``{"faults": [...]}`` (``FaultSchedule.coerce``).
        setup: provisions the moto world (create tables, queues...) before each run; giving
            it (or ``world=True``) runs both runs inside ``moto.mock_aws``. ``world`` may also be
            an entered ``World`` to reuse across many checks (it is reset before each run), or,
            on a deployed backend (``Aws``), the deployment's own world
            (``chaosdurable.backends.aws_world.EndpointWorld``): there ``setup`` is run in that
            world by the backend, never inside this process's moto.
        callbacks: how the outside world answers callbacks, by callback name
            (a JSON value, or ``chaosdurable.run.Answer``); default: success ``null`` after 1 s.
        targets: chained-invoke targets by function name.
        checkers: names from ``chaosdurable.checks.ALL_CHECKERS`` (default: all), or a mapping
            of your own checkers.
        save_histories: a folder to write both runs' histories to, as replayable files for
            ``chaosdurable replay-history`` (``chaosdurable.replay.save``): the corpus that checks a
            deploy against in-flight executions.
        reference: a fault-free ``RunRecord`` of the same handler and input from an earlier
            ``check`` (``verdict.reference``), to skip running it again. The fault-free run is
            deterministic, so reusing it changes nothing but the time taken.
        tripwire: watch clock, randomness and uuid reads outside steps (in the fault-free run,
            where every such read site is reached at least once without faults); "strict" also
            flags environment reads (a deployment's configuration is the same in every replay, so
            they are not flagged by default); False turns it off.
        tripwire_allow: calls as reports name them (``"time.time()"``) or ``fnmatch`` patterns over
            the source (``"app/config.py:*"``) that are never flagged.
        allow_real_aws: let AWS calls through when no moto world is active. Off by default:
            an AWS call from the handler then fails with ``RealAwsRefused`` naming the call.
        allow_hosts: host patterns (``fnmatch`` over ``host`` and ``host:port``, e.g.
            ``["127.0.0.1"]``) that HTTP requests may reach. Every other request, loopback
            included, fails inside the handler and ``check`` raises ``RealNetworkRefused``.
            Allowed requests are still recorded as effects (``chaosdurable.history.http``).
        http: a ``responses.RequestsMock`` that answers HTTP requests to hosts not allowed:
            ``requests`` through ``responses`` itself, ``urllib``/``http.client`` from the same
            registry. Started for each run unless already started; its ``calls`` accumulate.
        threaded_branches: run map/parallel branches on threads of their own (real
            interleavings; the history then depends on thread timing). Default: one after
            another, so the same seed and schedule give a byte-identical history.
        virtual_clock: on by default: the handler's own wall-clock reads (``time.time``,
            ``datetime.now``...) read the virtual clock, frozen at each invocation's virtual start (see
            ``chaosdurable.engine.user_clock``), so a verdict never depends on when or how fast it ran: a
            replay a day later reads a day later, and the second fault-free run (the witness) starts
            ``run.WITNESS_SHIFT_MS`` later, so timestamps steps mint are told apart as fresh values. In
            subprocess mode too. ``virtual_clock=False`` lets the handler read the real clock.
        import_path: ``"package.module:attribute"`` by which subprocess mode imports the handler in
            each fresh process (``DurableRunner(import_path=...)``); needed only for a handler that
            no module-level attribute holds.
    """
    schedule = FaultSchedule.coerce(schedule, "check()")
    text = _payload(input, payload)
    if checkers is None:
        selected: Mapping[str, Checker] = ALL_CHECKERS
    elif isinstance(checkers, Mapping):
        selected = checkers
    else:
        names = list(checkers)
        unknown = [n for n in names if n not in ALL_CHECKERS]
        if unknown:
            import difflib

            close = [m for n in unknown for m in difflib.get_close_matches(n, list(ALL_CHECKERS), n=1)]
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown checker(s) {unknown}; {hint}available: {sorted(ALL_CHECKERS)}")
        selected = {n: ALL_CHECKERS[n] for n in names}
    values = resolve(handler, backend, limits, guards, options)
    work, chosen, bounds = values.workload, values.backend, values.limits
    handler, setup, targets, callbacks = work.handler, work.setup, work.targets, work.callbacks
    import_path, seed, mode = work.import_path, bounds.seed, values.mode
    threaded_branches = bool(getattr(chosen, "threaded_branches", False))
    virtual_clock = bool(getattr(chosen, "virtual_clock", False))  # an ``Aws`` backend reads the real clock
    refuse_unsupported(chosen, schedule)
    quiet = dataclasses.replace(values.guards, tripwire=False)
    with contextlib.ExitStack() as stack:
        if isinstance(world, World) or (world is not None and not isinstance(world, bool)):
            active: Any = world  # an entered World, or a deployment's own world (reset/snapshot/provision)
        elif (world if world is not None else setup is not None) and chosen.name in ("inprocess", "subprocess"):
            active = stack.enter_context(World(setup))
        else:
            active = None  # a deployed backend provisions its own world with setup= (this process's moto is not it)
        if reference is None:
            reference, _ = chosen.run(work, text, FaultSchedule(), bounds, values.guards, active, label="reference")
            if "final_replay" in selected and chosen.name in ("inprocess", "subprocess"):
                # right after the run, in the same sandbox (in-process), as the service would replay it
                reference.final_replay = replay_finished(
                    reference, handler, targets=targets,
                    fence={"allow_real_aws": values.guards.allow_real_aws, "allow_hosts": values.guards.allow_hosts,
                           "http": values.guards.http})
            # A second fault-free run tells the values steps mint anew in every execution (ids,
            # timestamps) from differences that faults cause.
            witness, _ = chosen.run(work, text, FaultSchedule(), bounds, quiet, active, label="witness")
            reference.fresh = FreshValues.between(reference, witness)
            reference.baseline = _baseline(reference, witness, selected)
            if "uninterrupted" in selected and _worth_running_straight(reference, chosen.name):
                straight, _ = chosen.run(work, text, FaultSchedule(), _straight_through(bounds), quiet, active,
                                         label="uninterrupted")
                reference.uninterrupted = compare_uninterrupted(reference, witness, straight)
        chaotic, nemesis = chosen.run(work, text, schedule, bounds, quiet, active, label="chaotic")
    refused_http = sorted({r for r in reference.refused_aws + chaotic.refused_aws if r.startswith("http:")})
    if refused_http:
        raise RealNetworkRefused(refused_message(refused_http, values.guards.http is not None))
    refused = sorted({r for r in set(reference.refused_aws) | set(chaotic.refused_aws) if not r.startswith("http:")})
    if refused:
        raise RealAwsRefused(
            f"the handler called AWS ({', '.join(refused)}) while no moto world was active, and chaosdurable "
            "refused the call (the handler may have caught that error, so the run could look fine, but it did "
            "not talk to the AWS it expects). Pass setup= (a function that creates your tables, queues...) or "
            "world=True to run inside moto, or allow_real_aws=True to let the calls through.")
    for run in (reference, chaotic):
        if (note := fresh_process_note(run, chosen.name)) and note not in run.diagnostics:
            run.diagnostics.append(note)
    nemesis.excuse_step_failures(reference.operations, chaotic.operations)
    nemesis.excuse_early_completion(reference.operations, chaotic.operations)
    fired = list(nemesis.fired)
    may_change = any(
        f.changes_outcome or getattr(f.fault, "changes_outcome_now", False) or f.fault.changes_outcome for f in fired)
    changers = [f for f in fired if f.changes_outcome or getattr(f.fault, "changes_outcome_now", False)
                or f.fault.changes_outcome]
    ledger = Ledger(effects=tuple(chaotic.effects), fired=tuple(f.describe() for f in fired),
                    outcome_may_change=may_change, fault_kinds=tuple(f.fault.kind for f in fired),
                    repeats_still_count=bool(changers) and all(f.handled_failure for f in changers),
                    changed_by=tuple(f.fault.kind for f in changers),
                    fresh=reference.fresh if isinstance(reference.fresh, FreshValues) else FreshValues())
    found: list[Violation] = []
    for checker in selected.values():
        found += checker(reference, chaotic, ledger)
    # What two fault-free runs already disagree on is the handler's own nondeterminism across
    # executions (an A/B draw, a random wait length minted in a step), not something faults did.
    baseline = reference.baseline
    if _diverged_before_faults(reference, chaotic, fired):
        # the chaotic run is itself a fault-free execution up to its first fault, and there it already
        # disagrees with the reference on a step result (a coin flip or a clock read in a step that the
        # witness happened to match): comparisons across executions say nothing about faults here
        baseline = baseline | {(name, None) for name in _COMPARING}
    def explained(v: Violation) -> bool:
        if v.message.startswith("the SDK detected"):
            return False  # found inside one execution, by the SDK's own replay check: never a baseline matter
        if (v.checker, v.op) in baseline:
            return True
        world = v.checker != "idempotency" or v.message.startswith("the external world differs")
        return world and (v.checker, None) in baseline

    violations = [v for v in found if not explained(v)]
    left_out = len(found) - len(violations)
    if any(v.checker == "tripwire" for v in violations):  # suspicions: a shifted, reseeded replay decides
        # the tripwire on in those runs records which step bodies read the clock (``in_step_reads``)
        watched = dataclasses.replace(quiet, tripwire=True)
        violations = _confirmed(violations, chaotic, schedule, chosen, work, text, bounds, watched, world, setup)
    if left_out:
        chaotic.diagnostics.append(
            f"{plural(left_out, 'finding')} left out: two fault-free runs already differ there "
            f"({', '.join(sorted({f'{c} at {o!r}' if o else c for c, o in baseline}))}), so faults did not "
            "cause them; values a step mints anew each execution are fine, control flow outside steps on them "
            "is not compared across executions")
    # a backend that keeps payloads out of what it shows (Aws(keep_payloads=False)) gets a fingerprint in
    # the printed reproduction too; the saved failure (spec) keeps the input, since replay needs it
    shown = text if getattr(chosen, "keep_payloads", True) else _fingerprint(text)
    verdict = Verdict(
        violations=violations,
        reference=reference,
        chaotic=chaotic,
        schedule=schedule,
        fired=fired,
        not_reached=_not_reached(nemesis.not_reached(), chaotic, fired),
        replay=_replay_snippet(handler, shown, schedule, seed, chosen, setup, targets, callbacks, import_path,
                               values.guards.http, values.guards.allow_hosts),
        checkers=list(selected),
        command=_replay_command(handler, shown, schedule, mode, setup, targets, callbacks, import_path,
                                getattr(chosen, "process_per", "sandbox"), values.guards.http,
                                values.guards.allow_hosts, chosen),
        spec={"handler": _handler_ref(handler, import_path), "payload": text,
              "schedule": json.loads(schedule.to_json()), "mode": mode, "backend": chosen.spec(),
              "seed": seed, "setup": _ref(setup) if setup is not None else None,
              "targets": {name: _ref(fn) for name, fn in (targets or {}).items()} or None,
              "callbacks": encode_callbacks(callbacks), "threaded_branches": threaded_branches,
              "virtual_clock": virtual_clock,
              "http_mock": values.guards.http is not None, "allow_hosts": list(values.guards.allow_hosts),
              "http_routes": _http_routes(values.guards.http),
              "violations": [v.describe() for v in violations]},
    )
    if any(d.startswith(WARM_MARK) for v in violations for d in v.detail):
        # the fault-free run started with module state earlier executions in this process left: a replay in a
        # new process runs the handler once, fault-free, first (``chaosdurable replay``), as the probe did
        verdict.spec["warm_up"] = True
    if save_histories is not None:
        from chaosdurable.replay import save

        save(verdict, save_histories, handler=verdict.spec["handler"])
    return verdict
