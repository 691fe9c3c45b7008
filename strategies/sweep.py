"""WORKLOAD: ``single_fault_sweep``, the one-fault schedules every property tries before it searches.

Random search draws each (target, fault kind) pair with a small probability; a bug that needs one
particular fault on one particular effect (an outage longer than one step's retry budget on the one
POST that matters, a crash right after one write) can go undrawn in 100 examples (trials 6, 7 and 8
each had one such miss). The sweep lists, for the handler's probed operation space, one schedule per
pair that decides most durability bugs on its own, in this order (each group in the space's order):

1. ``TransientFailure(effect=e, times=3)``: an outage of each mutating effect that outlasts a short
   retry budget (the step's retries run out: the unhandled-failure and compensation paths);
2. ``CrashAfterEffect(effect=e)``: a crash right after each mutating effect, before its checkpoint
   (an at-least-once step runs it again);
3. ``CrashAtCheckpoint(op=s, action="SUCCEED")``: a crash between each step and its result's
   checkpoint (lost before it is persisted);
4. ``CallbackFault(op=c, behaviour=b)`` for each named callback: answered with a failure, timed out,
   answered twice;
5. ``DuplicateInvocation(invocation=1, concurrent=True)`` and ``ColdStart(invocation=2)``.

Only the kinds asked for (``kinds``) and, unless ``assumed``, faults verified on AWS are listed; at most
``limit`` schedules, taken in that order. The list is a pure function of its arguments, so a failure
found by the sweep is found again on every run (the pytest plugin runs it before Hypothesis' search:
``chaosdurable.given(sweep=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from chaosdurable.faults.schedule import (
    CallbackBehaviour,
    CallbackFault,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    Fault,
    FaultSchedule,
    TransientFailure,
    provenance,
)

from .schedules import DEFAULT_KINDS, OperationSpace

#: at most this many sweep schedules per property and input (each one costs an execution)
SWEEP_LIMIT = 24

#: callback behaviours the sweep tries, in order
_CALLBACK_BEHAVIOURS: tuple[CallbackBehaviour, ...] = ("failure", "after_timeout", "duplicate")


def single_fault_sweep(space: OperationSpace, kinds: Sequence[str] | None = None, assumed: bool = False,
                       limit: int = SWEEP_LIMIT) -> list[FaultSchedule]:
    """One-fault schedules over ``space`` (see the module docstring), at most ``limit``, in order."""
    wanted = set(kinds if kinds is not None else DEFAULT_KINDS)
    candidates: list[Fault] = []
    if "transient_failure" in wanted:
        candidates += [TransientFailure(effect=e, times=3) for e in space.effects]
    if "crash_after_effect" in wanted:
        candidates += [CrashAfterEffect(effect=e) for e in space.effects]
    if "crash_at_checkpoint" in wanted:
        candidates += [CrashAtCheckpoint(op=s, action="SUCCEED") for s in space.steps]
    if "callback" in wanted:
        candidates += [CallbackFault(op=c, behaviour=b) for c in space.callbacks for b in _CALLBACK_BEHAVIOURS]
    if "duplicate_invocation" in wanted:
        candidates.append(DuplicateInvocation(invocation=1, concurrent=True))
    if "cold_start" in wanted and space.invocations > 1:
        candidates.append(ColdStart(invocation=2))
    out: list[FaultSchedule] = []
    for fault in candidates:
        if assumed or provenance(fault).label != "assumed":
            schedule = FaultSchedule((fault,))
            if schedule not in out:
                out.append(schedule)
    return out[:max(0, limit)]
