"""Every fault kind fires and has an observable consequence in the chaotic run; and a check
is deterministic: the same check twice gives the same history and the same violations."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from chaosdurable import (
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    EventRedelivery,
    EventStream,
    EventSwap,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    TransientFailure,
    Verdict,
    check,
)
from chaosdurable.engine.history import to_json
from chaosdurable.faults.schedule import FAULT_TYPES
from chaosdurable.history.record import RunRecord
from tests.checks import cold_handlers, event_handlers, handlers

ORDER = {"id": "ord-1"}
COVERED: set[str] = set()


def _fired(v: Verdict, kind: str) -> None:
    COVERED.add(kind)
    assert [f.fault.kind for f in v.fired] == [kind], v.report()
    assert v.not_reached == []


def _events(run: RunRecord, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [e for e in run.history if e["EventType"] == kind and (name is None or e.get("Name") == name)]


def _invocation_errors(run: RunRecord) -> list[dict[str, Any]]:
    return [e["InvocationCompletedDetails"]["Error"]["Payload"] for e in _events(run, "InvocationCompleted")
            if "Error" in e["InvocationCompletedDetails"]]


def _bodies(run: RunRecord, op: str) -> list[tuple[int | None, int, int | None]]:
    return [(b.where.invocation, b.where.copy, b.where.attempt) for b in run.body_runs if b.where.op_name == op]


def _elapsed(run: RunRecord, event: dict[str, Any]) -> float:
    start: datetime.datetime = run.history[0]["EventTimestamp"]
    return (event["EventTimestamp"] - start).total_seconds()


# ---------------------------------------------------------------- crash_at_checkpoint
def test_crash_before_persist_loses_the_step_and_reruns_it() -> None:
    v = check(handlers.two_steps, None, FaultSchedule((CrashAtCheckpoint(op="second", action="SUCCEED"),)))
    _fired(v, "crash_at_checkpoint")
    assert "at SUCCEED of 'second'" in v.fired[0].where
    assert _invocation_errors(v.chaotic) == [{
        "ErrorType": "Runtime.ExitError", "ErrorMessage": "Runtime exited with error: signal: killed (injected crash)"}]
    assert v.chaotic.invocations[0]["dead"] == "crashed"
    assert _bodies(v.chaotic, "second") == [(1, 0, 1), (2, 0, 1)]  # nothing was persisted: the body runs again
    assert len(_events(v.chaotic, "StepSucceeded", "second")) == 1
    assert v.ok, v.report()


def test_crash_after_persist_keeps_the_step_and_replays_it() -> None:
    v = check(handlers.two_steps, None,
              FaultSchedule((CrashAtCheckpoint(op="first", action="SUCCEED", phase="after_persist"),)))
    _fired(v, "crash_at_checkpoint")
    kinds = [e["EventType"] for e in v.chaotic.history]
    crashed_at = kinds.index("InvocationCompleted")
    assert kinds[crashed_at - 1] == "StepSucceeded"  # persisted before the process died
    assert _invocation_errors(v.chaotic)[0]["ErrorType"] == "Runtime.ExitError"
    assert _bodies(v.chaotic, "first") == [(1, 0, 1)]  # replayed from the checkpoint, not re-run
    assert v.ok, v.report()


# ---------------------------------------------------------------- crash_after_effect
def test_crash_after_effect_kills_the_invocation_inside_the_step() -> None:
    v = check(handlers.charges_at_least_once, None, FaultSchedule((CrashAfterEffect(effect="charge"),)))
    _fired(v, "crash_after_effect")
    assert "at effect 'charge' (step 'charge' attempt 1, invocation 1" in v.fired[0].where
    assert _invocation_errors(v.chaotic)[0]["ErrorType"] == "Runtime.ExitError"
    assert _bodies(v.chaotic, "charge") == [(1, 0, 1), (2, 0, 1)]
    assert [e.where.invocation for e in v.chaotic.effects if e.name == "charge"] == [1, 2]
    # the first attempt's SUCCEED never reached the service
    assert not any(u.get("Action") == "SUCCEED" for cp in v.chaotic.checkpoints if cp["invocation"] == 1
                   for u in cp["updates"])


# ----------------------------------------------------------------- checkpoint_error
@pytest.mark.parametrize(("error", "message"), [
    ("throttle", "Rate exceeded (injected)"),
    ("server_error", "Internal error (injected)"),
    ("stale_token", "Invalid checkpoint token"),
])
def test_checkpoint_error_fails_the_invocation_and_it_is_retried(error: str, message: str) -> None:
    v = check(handlers.two_steps, None, FaultSchedule((CheckpointApiError(error=error, op="second"),)))  # type: ignore[arg-type]
    _fired(v, "checkpoint_error")
    rejected = [cp for cp in v.chaotic.checkpoints if not cp["accepted"]]
    assert [cp["error"] for cp in rejected] == [message]
    assert _invocation_errors(v.chaotic) == [{"ErrorType": "CheckpointError", "ErrorMessage": message}]
    assert _bodies(v.chaotic, "second") == [(1, 0, 1), (2, 0, 1)]
    assert v.chaotic.status == "SUCCEEDED" and v.ok, v.report()


def test_checkpoint_client_error_fails_the_execution_legitimately() -> None:
    v = check(handlers.two_steps, None, FaultSchedule((CheckpointApiError(error="client_error", op="second"),)))
    _fired(v, "checkpoint_error")
    assert v.chaotic.status == "FAILED"
    assert v.chaotic.error is not None and v.chaotic.error["ErrorMessage"] == "Invalid request (injected 4xx)"
    assert v.by_checker("resumption") == []  # a 4xx declares that the outcome may change


def test_checkpoint_without_token_ends_the_invocation() -> None:
    v = check(handlers.two_steps, None, FaultSchedule((CheckpointApiError(error="no_token", op="first"),)))
    _fired(v, "checkpoint_error")
    assert _events(v.chaotic, "StepSucceeded", "first")  # accepted and persisted
    assert len(v.chaotic.invocations) == 2 and len(v.reference.invocations) == 1
    assert _bodies(v.chaotic, "second") == [(2, 0, 1)]  # the rest of the work moved to a new invocation
    assert v.ok, v.report()


# -------------------------------------------------------------- duplicate_invocation
@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent", "redelivered-later"])
def test_duplicate_invocation_runs_the_step_body_twice(concurrent: bool) -> None:
    v = check(handlers.charges_at_least_once, None,
              FaultSchedule((DuplicateInvocation(invocation=1, concurrent=concurrent),)))
    _fired(v, "duplicate_invocation")
    first = v.chaotic.invocations[0]
    assert (first["copies"], first["concurrent"]) == (2, concurrent)
    assert sorted(_bodies(v.chaotic, "charge")) == [(1, 0, 1), (1, 1, 1)]
    copy_checkpoints = [cp for cp in v.chaotic.checkpoints if cp["copy"] == 1]
    assert copy_checkpoints and all(not cp["accepted"] for cp in copy_checkpoints)
    assert copy_checkpoints[0]["error"] == "Invalid checkpoint token"
    assert len(_events(v.chaotic, "StepSucceeded", "charge")) == 1
    # the duplicated charge is a real consequence: the idempotency checker sees it
    assert [x.op for x in v.by_checker("idempotency")] == ["charge"]


# ---------------------------------------------------------------- invocation_timeout
def test_invocation_timeout_starts_a_new_invocation() -> None:
    v = check(handlers.two_steps, None, FaultSchedule((InvocationTimeout(op="first", action="SUCCEED"),)))
    _fired(v, "invocation_timeout")
    assert _invocation_errors(v.chaotic) == [{
        "ErrorType": "Sandbox.Timedout", "ErrorMessage": "Task timed out (injected invocation timeout)"}]
    assert v.chaotic.invocations[0]["dead"] == "timed_out"
    assert _bodies(v.chaotic, "first") == [(1, 0, 1), (2, 0, 1)]
    assert v.chaotic.status == "SUCCEEDED" and v.ok, v.report()


# ------------------------------------------------------------------------ callback
def _callback_events(run: RunRecord) -> list[tuple[str, float]]:
    return [(e["EventType"], _elapsed(run, e)) for e in run.history if e["EventType"].startswith("Callback")]


def test_callback_duplicate_answer_is_rejected() -> None:
    v = check(handlers.approval_then_wait, None, FaultSchedule((CallbackFault(behaviour="duplicate", op="approval"),)))
    _fired(v, "callback")
    first, second = v.chaotic.callbacks
    assert first["callback_id"] == second["callback_id"]
    assert first["accepted"] is True and second["accepted"] is False
    assert "already closed (callback SUCCEEDED)" in second["error"]
    assert "a callback completes exactly once" in second["error"]
    assert [k for k, _ in _callback_events(v.chaotic)] == ["CallbackStarted", "CallbackSucceeded"]
    assert v.ok, v.report()


@pytest.mark.parametrize(("behaviour", "events", "result"), [
    ("delay", [("CallbackStarted", 0), ("CallbackSucceeded", 46)], {"answer": "null"}),
    ("after_timeout", [("CallbackStarted", 0), ("CallbackTimedOut", 600)], {"failed": "CallbackTimeoutError"}),
    ("failure", [("CallbackStarted", 0), ("CallbackFailed", 1)], {"failed": "CallbackExternalError"}),
    ("miss_heartbeats", [("CallbackStarted", 0), ("CallbackTimedOut", 30)], {"failed": "CallbackTimeoutError"}),
    ("after_end", [("CallbackStarted", 0), ("CallbackSucceeded", 1)], {"answer": "null"}),
])
def test_callback_misbehaviours(behaviour: str, events: list[tuple[str, float]], result: Any) -> None:
    v = check(handlers.approval_then_wait, None,
              FaultSchedule((CallbackFault(behaviour=behaviour, op="approval", seconds=45),)))  # type: ignore[arg-type]
    _fired(v, "callback")
    assert _callback_events(v.chaotic) == events
    assert v.chaotic.result == result
    assert v.reference.result == {"answer": "null"}
    if behaviour == "after_end":
        late = v.chaotic.callbacks[-1]
        assert (late["note"], late["accepted"]) == ("after the execution ended", False)
        assert "execution SUCCEEDED" in late["error"]
    assert v.by_checker("resumption") == []


# ---------------------------------------------------------------------- late_timer
def test_late_timer_delays_the_wait_by_the_requested_seconds() -> None:
    v = check(handlers.waits, None, FaultSchedule((LateTimer(op="pause", seconds=30),)))
    _fired(v, "late_timer")
    (ref,) = _events(v.reference, "WaitSucceeded", "pause")
    (got,) = _events(v.chaotic, "WaitSucceeded", "pause")
    assert _elapsed(v.reference, ref) == 10
    assert _elapsed(v.chaotic, got) == 10 + 30
    assert v.chaotic.virtual_ms - v.reference.virtual_ms == 30_000
    assert v.ok, v.report()


def test_late_timer_delays_a_step_retry() -> None:
    schedule = FaultSchedule((TransientFailure(effect="reserve"), LateTimer(op="reserve", seconds=7)))
    v = check(handlers.reserve_with_retries, None, schedule)
    assert sorted(f.fault.kind for f in v.fired) == ["late_timer", "transient_failure"]
    starts = [_elapsed(v.chaotic, e) for e in _events(v.chaotic, "StepStarted", "reserve")]
    assert starts == [0, 2 + 7]


# ---------------------------------------------------------------------- cold_start
def test_cold_start_resets_module_state() -> None:
    v = check(cold_handlers.counts_invocations, None, FaultSchedule((ColdStart(invocation=2),)))
    _fired(v, "cold_start")
    assert v.fired[0].where == "before invocation 2"
    assert v.reference.result >= 2  # warm: the counter carried over from invocation 1
    assert v.chaotic.result == 1  # cold: invocation 2 started from a freshly loaded module
    assert cold_handlers.INVOCATIONS["n"] == 1


# --------------------------------------------------------------- transient_failure
def test_transient_failure_makes_the_step_retry() -> None:
    v = check(handlers.reserve_with_retries, None, FaultSchedule((TransientFailure(effect="reserve"),)))
    _fired(v, "transient_failure")
    (failed,) = _events(v.chaotic, "StepFailed", "reserve")
    details = failed["StepFailedDetails"]
    assert details["Error"]["Payload"]["ErrorType"].endswith("TransientDependencyError")
    assert "injected failure of 'reserve'" in details["Error"]["Payload"]["ErrorMessage"]
    assert details["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 2}
    assert _bodies(v.chaotic, "reserve") == [(1, 0, 1), (2, 0, 2)]
    assert [e.where.attempt for e in v.chaotic.effects if e.name == "reserve"] == [2]  # attempt 1 did not happen
    assert v.chaotic.result == v.reference.result == "reserved"
    assert v.ok, v.report()


# ------------------------------------------------------------- event_redelivery, event_swap
WEBHOOKS = EventStream([{"id": "evt-1", "amount": 5}, {"id": "evt-2", "amount": 7}, {"id": "evt-3", "amount": 9}])


def test_event_redelivery_lands_the_copy_on_the_next_pending_callback() -> None:
    v = check(event_handlers.charge_each_event_once, {"expected": 3}, FaultSchedule((EventRedelivery(event=1),)),
              callbacks={"webhook": WEBHOOKS})
    _fired(v, "event_redelivery")
    notes = [entry["note"] for entry in v.chaotic.callbacks]
    assert notes == ["callback 'webhook': event #0 of stream 'webhook'",
                     "callback 'webhook': event #1 of stream 'webhook'",
                     "callback 'webhook': event #1 of stream 'webhook' (redelivered)",
                     "callback 'webhook': event #2 of stream 'webhook'"]
    assert len({entry["callback_id"] for entry in v.chaotic.callbacks}) == 4  # four callbacks, all accepted
    assert all(entry["accepted"] for entry in v.chaotic.callbacks)
    assert v.chaotic.result == v.reference.result
    assert v.ok, v.report()


def test_event_swap_delivers_two_adjacent_events_out_of_order() -> None:
    v = check(event_handlers.charge_each_event_once, {"expected": 3}, FaultSchedule((EventSwap(event=1),)),
              callbacks={"webhook": WEBHOOKS})
    _fired(v, "event_swap")
    assert [entry["note"].split(": ")[1] for entry in v.chaotic.callbacks] == [
        "event #0 of stream 'webhook'", "event #2 of stream 'webhook'", "event #1 of stream 'webhook'"]
    assert v.ok, v.report()


def test_every_fault_kind_has_a_test() -> None:
    """Each kind in schedule.py is asserted fired by a test of this file (``_fired(v, kind)``). Read from
    the source, so it holds however pytest-xdist spreads the tests over workers."""
    import inspect
    import re
    import sys

    source = inspect.getsource(sys.modules[__name__])
    asserted = set(re.findall(r'_fired\(v, "([a-z_]+)"\)', source))
    assert set(FAULT_TYPES) <= asserted, f"fault kinds without a test here: {sorted(set(FAULT_TYPES) - asserted)}"


# ------------------------------------------------------------------- determinism
def test_the_same_check_twice_gives_the_same_history_and_violations() -> None:
    schedule = FaultSchedule((
        CrashAfterEffect(effect="email"),
        DuplicateInvocation(invocation=2, concurrent=False),
        LateTimer(op="pause", seconds=12),
        CrashAtCheckpoint(op="finish", action="SUCCEED"),
    ))
    runs = [check(handlers.emails_outside_step, {"n": 1}, schedule) for _ in range(2)]
    assert runs[0].fired and runs[0].violations
    assert to_json(runs[0].chaotic.history) == to_json(runs[1].chaotic.history)
    assert to_json(runs[0].reference.history) == to_json(runs[1].reference.history)
    assert [x.describe() for x in runs[0].violations] == [x.describe() for x in runs[1].violations]
    assert [f.describe() for f in runs[0].fired] == [f.describe() for f in runs[1].fired]
    assert runs[0].report() == runs[1].report()
