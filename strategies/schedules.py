"""WORKLOAD: ``fault_schedules`` draws fault schedules over a handler's real operation space.

The space is discovered by a fault-free probe run (operation names and types, effects,
callbacks, timers, invocations), then widened to the coordinates faults open up (retry
attempts, a re-started step, one more invocation). Draws are weighted toward the rare but
deadly cases, which Hypothesis also shrinks toward: a crash right after an effect, a crash
between a step and its checkpoint, a duplicate invocation, a late or failed callback.
Shrinking moves toward fewer and simpler faults (earlier kinds, earlier operations,
``None`` coordinates).

Faults whose provenance is ``assumed`` (``chaosdurable.faults.provenance``: not verified on AWS,
such as redelivering an invocation after the execution ended) are drawn only with ``assumed=True``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from chaosdurable.faults.schedule import (
    PROVENANCE,
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    Fault,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    TransientFailure,
    provenance,
)

from .events import for_space as event_faults_for
from .events import stream_space

#: fault kinds in the order draws favour (and shrinking moves toward); repeats weight a kind up
DEFAULT_KINDS: tuple[str, ...] = (
    "crash_after_effect", "crash_at_checkpoint", "duplicate_invocation", "callback",
    "crash_after_effect", "crash_at_checkpoint", "callback", "checkpoint_error", "invocation_timeout",
    "transient_failure", "transient_failure", "late_timer", "cold_start",
    "event_redelivery", "event_swap", "event_redelivery",  # only with an EventStream (strategies/events.py)
)


@dataclass(frozen=True)
class OperationSpace:
    """What a fault-free run of a handler touched: the coordinates faults can target."""

    steps: tuple[str, ...]
    operations: tuple[str, ...]
    effects: tuple[str, ...]
    callbacks: tuple[str, ...]
    timers: tuple[str, ...]
    invocations: int
    #: how the fault-free run ended: "SUCCEEDED", "FAILED", ... or "STUCK"
    outcome: str = "SUCCEEDED"
    #: what went wrong when it did not succeed (the error, or why it got stuck)
    problem: str | None = None
    #: reads made inside steps (``aws:dynamodb.GetItem``, ``aws:s3.GetObject``, ``http:GET ...``): only a
    #: ``TransientFailure`` targets them (a throttled or failing read; the step's retry or fallback path)
    reads: tuple[str, ...] = ()
    #: (callbacks= key, events delivered) of each EventStream (``strategies.events.stream_space``)
    streams: tuple[tuple[str, int], ...] = ()

    @classmethod
    def probe(cls, handler: Callable[..., Any], input: Any = None, *,
              setup: Callable[[], None] | None = None, backend: Any = None, **run_options: Any) -> OperationSpace:
        """Run ``handler`` once, fault-free (inside moto when ``setup`` is given), on ``backend`` (a
        ``chaosdurable.backends`` value or name; default in-process), and collect its coordinates.
        ``run_options`` are ``check()``'s keyword shorthands (callbacks, targets, seed...)."""
        from chaosdurable.backends import Guards
        from chaosdurable.engine.runner import callback_label
        from chaosdurable.history.world import World
        from chaosdurable.options import resolve

        values = resolve(handler, backend, None, Guards(tripwire=False), dict(run_options, setup=setup),
                         caller="OperationSpace.probe")
        run = values.backend.run
        if setup is not None:
            with World(setup) as world:
                record, _ = run(values.workload, json.dumps(input), FaultSchedule(), values.limits, values.guards,
                                world, label="probe")
        else:
            record, _ = run(values.workload, json.dumps(input), FaultSchedule(), values.limits, values.guards,
                            None, label="probe")
        steps, ops, callbacks, timers = [], [], [], []
        for op in record.operations:
            if op["Type"] == "EXECUTION":
                continue
            # an unnamed operation (a bare lambda step, a wait, a parallel branch) is targeted by its
            # operation id, stable across runs (the SDK derives it from the parent and the position)
            name = op.get("Name") or op["Id"]
            ops.append(name)
            if op["Type"] == "STEP":
                steps.append(name)
                if op.get("Attempt", 0) > 1 or op.get("SubType") == "WaitForCondition":
                    timers.append(name)
            elif op["Type"] == "CALLBACK" and op.get("Name"):  # callback faults match callbacks by name
                callbacks.append(callback_label(name) or name)  # as the handler wrote it: "x", not "x create ..."
            elif op["Type"] == "WAIT":
                timers.append(name)
        effects = sorted({target_name(e.name) for e in record.effects if e.mutating})
        # reads outside steps are left out (a fault names the read, so one also made outside a step is too):
        # their failure fails the execution by design, nothing retries them
        outside = {target_name(e.name) for e in record.effects if not e.where.in_step}
        reads = sorted({target_name(e.name) for e in record.effects if not e.mutating and e.where.in_step}
                       - outside - set(effects))
        error = record.error or {}
        problem = record.stuck or (f"{error.get('ErrorType')}: {error.get('ErrorMessage')}" if error else None)
        problem = "; ".join([problem, *_answer_notes(record)]) if problem else problem
        return cls(tuple(dict.fromkeys(steps)), tuple(dict.fromkeys(ops)), tuple(effects),
                   tuple(dict.fromkeys(callbacks)), tuple(dict.fromkeys(timers)), max(1, len(record.invocations)),
                   outcome="STUCK" if record.stuck else record.status, problem=problem, reads=tuple(reads),
                   streams=stream_space(record.callbacks))


_ID_SEGMENT = re.compile(r"[^/]*\d[^/]*")
_VERSION_SEGMENT = re.compile(r"v\d+(\.\d+)*")


def target_name(effect: str) -> str:
    """The name a fault targets an effect by: an HTTP effect's path segments that hold a digit (an id, a date,
    a minted uuid: ``/permits/PRM-0042``), except API versions (``/v1``), become ``*``, so a fault drawn from
    the probe still matches when the id is minted anew in each run (trial8 c05); any other effect as it is.
    Faults match effect names with ``fnmatch``."""
    if not effect.startswith("http:") or " " not in effect:
        return effect
    method, _, url = effect.partition(" ")
    host, slash, path = url.partition("/")
    if not slash:
        return effect
    parts = ["*" if _ID_SEGMENT.fullmatch(p) and not _VERSION_SEGMENT.fullmatch(p) else p for p in path.split("/")]
    return f"{method} {host}/{'/'.join(parts)}"


def _answer_notes(record: Any) -> list[str]:
    """The run's notes on callbacks that got no answer (``chaosdurable.run``): the fix for a failing probe."""
    return [d for d in record.diagnostics if "got no configured answer" in d or "got no answer" in d
            or "waited for an event" in d]


def _maybe(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    """None first (it shrinks there), then the values in order."""
    return st.one_of(st.none(), st.sampled_from(list(values))) if values else st.none()


def _variants(kind: str, values: Sequence[str], assumed: bool) -> list[str]:
    """``values`` (variants of ``kind``) less the assumed ones, unless ``assumed``."""
    return [v for v in values if assumed or provenance(kind, v).label != "assumed"]


def _fault(kind: str, space: OperationSpace, assumed: bool = False) -> st.SearchStrategy[Fault] | None:
    invocations = list(range(1, space.invocations + 2))
    steps = space.steps or space.operations
    if not assumed and all(p.label == "assumed" for p in PROVENANCE[kind].values()):
        return None  # the kind as a whole is assumed
    if kind == "crash_after_effect" and space.effects:
        return st.builds(CrashAfterEffect, effect=st.sampled_from(space.effects), attempt=_maybe([1, 2]))
    if kind == "crash_at_checkpoint" and space.operations:
        return st.builds(CrashAtCheckpoint, op=st.sampled_from(space.operations),
                         action=_maybe(["SUCCEED", "START", "RETRY", "FAIL"]),
                         phase=st.sampled_from(["before_persist", "after_persist"]))
    if kind == "duplicate_invocation":
        deliveries = {"concurrent": True, "after_end": False}
        return st.builds(DuplicateInvocation, invocation=st.sampled_from(invocations),
                         concurrent=st.sampled_from([deliveries[v] for v in _variants(kind, list(deliveries),
                                                                                      assumed)]))
    if kind == "callback" and space.callbacks:
        behaviours = _variants(kind, ["delay", "duplicate", "after_end", "failure", "after_timeout",
                                      "miss_heartbeats"], assumed)
        seconds = st.sampled_from([60.0, 7200.0, 172800.0, 1.0])
        fed = _stream_fed(space)
        if not fed:
            return st.builds(CallbackFault, op=st.sampled_from(space.callbacks),
                             behaviour=st.sampled_from(behaviours), seconds=seconds)
        # a callback an EventStream answers gets the stream's events, each a success: a failure answer is
        # not something that source sends (its events can come late, twice or out of order, or never)
        events_only = [b for b in behaviours if b != "failure"]
        return st.sampled_from(space.callbacks).flatmap(lambda op: st.builds(
            CallbackFault, op=st.just(op), behaviour=st.sampled_from(events_only if op in fed else behaviours),
            seconds=seconds))
    if kind == "checkpoint_error" and space.operations:
        return st.builds(CheckpointApiError, op=st.sampled_from(space.operations),
                         error=st.sampled_from(_variants(kind, ["server_error", "throttle", "stale_token", "no_token",
                                                                "client_error"], assumed)),
                         action=_maybe(["SUCCEED", "START"]))
    if kind == "invocation_timeout" and steps:
        return st.builds(InvocationTimeout, op=st.sampled_from(steps), action=_maybe(["SUCCEED", "START"]))
    if kind == "transient_failure" and (space.effects or space.reads):
        # times=3: an outage that outlasts a short retry budget (the step's retries run out); shrinks to 1
        return st.builds(TransientFailure, effect=st.sampled_from(space.effects + space.reads),
                         attempt=st.sampled_from([1, 2]), times=st.sampled_from([1, 3]))
    if kind == "late_timer" and space.timers:
        return st.builds(LateTimer, op=st.sampled_from(space.timers), seconds=st.sampled_from([30.0, 1.0, 86400.0]))
    if kind == "cold_start":  # every handler: 1 = the execution starts on a new sandbox, not the warm one
        # the previous runs in this process left behind; later ones = a re-invocation (a fault's, if the
        # fault-free run has only one) lands on a new sandbox
        return st.builds(ColdStart, invocation=st.sampled_from(invocations))
    return event_faults_for(kind, space)


def _stream_fed(space: OperationSpace) -> frozenset[str]:
    """The callbacks (as ``space.callbacks`` names them) that an ``EventStream`` answers."""
    from chaosdurable.engine.runner import callback_label

    keys = {key for key, _ in space.streams}
    return frozenset(name for name in space.callbacks if name in keys or callback_label(name) in keys)


def fault_schedules(
    handler: Callable[..., Any] | None = None,
    input: Any = None,
    *,
    space: OperationSpace | None = None,
    kinds: Sequence[str] | None = None,
    max_faults: int = 3,
    min_faults: int = 1,
    operations: Sequence[str] | None = None,
    assumed: bool = False,
) -> st.SearchStrategy[FaultSchedule]:
    """Schedules of ``min_faults``..``max_faults`` faults over the handler's operation space.

    Args:
        handler, input: probed once (fault-free) to find the coordinates; or pass ``space``.
        kinds: fault kinds to draw (names from ``FaultSchedule``; default: all, weighted).
        max_faults, min_faults: how many faults a schedule holds.
        operations: restrict operation-targeted faults to these operation names.
        assumed: also draw faults whose provenance is ``assumed`` (not verified on AWS: an invocation
            redelivered with its old token after the execution ended). Off by default: such a fault
            can flag a correct handler for something the real service may never do.
    """
    if space is None:
        if handler is None:
            raise ValueError("fault_schedules needs a handler (and its input) to probe, or an OperationSpace")
        space = OperationSpace.probe(handler, input)
    if operations is not None:
        keep = set(operations)
        unknown = keep - set(space.operations)
        if unknown:
            raise ValueError(f"operations {sorted(unknown)} never happen in a fault-free run; "
                             f"the handler's operations are {list(space.operations)}")
        space = OperationSpace(tuple(s for s in space.steps if s in keep), tuple(o for o in space.operations
                               if o in keep), space.effects, tuple(c for c in space.callbacks if c in keep
                               or any(k.startswith(c + " ") for k in keep)),
                               tuple(t for t in space.timers if t in keep), space.invocations,
                               reads=space.reads, streams=space.streams)
    wanted = list(kinds) if kinds is not None else list(DEFAULT_KINDS)
    unknown_kinds = set(wanted) - set(DEFAULT_KINDS)
    if unknown_kinds:
        raise ValueError(f"unknown fault kinds {sorted(unknown_kinds)}; known: {sorted(set(DEFAULT_KINDS))}")
    options = [s for s in (_fault(k, space, assumed) for k in wanted) if s is not None]
    if not options:
        return st.just(FaultSchedule())
    one_fault = st.one_of(*options)
    return st.lists(one_fault, min_size=min(min_faults, max_faults), max_size=max_faults).map(
        lambda faults: FaultSchedule(tuple(faults)))
