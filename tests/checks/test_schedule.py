"""FaultSchedule as data: JSON round trip, plain words, clear errors for bad input; faults
that are never reached; checkers refusing runs of different handlers."""

from __future__ import annotations

import json
import re

import pytest

from chaosdurable import (
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    EventRedelivery,
    EventSwap,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    ScheduleError,
    TransientFailure,
    check,
)
from chaosdurable.checks import ALL_CHECKERS, CheckerInputError, Ledger
from chaosdurable.faults.schedule import FAULT_TYPES, Fault
from tests.checks import handlers

# One non-default instance of every kind, with its expected words.
EXAMPLES: list[tuple[Fault, str]] = [
    (CrashAtCheckpoint(op="order/charge", action="SUCCEED", attempt=2, invocation=3, phase="after_persist"),
     "crash in invocation 3 on operation 'order/charge' at its SUCCEED checkpoint (attempt 2), "
     "after it is persisted but before the response reaches the SDK"),
    (CrashAfterEffect(effect="aws:sqs.SendMessage", op="enqueue", attempt=1, invocation=1),
     "crash right after effect 'aws:sqs.SendMessage' ran in invocation 1 on operation 'enqueue' (attempt 1), "
     "before anything after it is checkpointed"),
    (CheckpointApiError(error="throttle", op="charge", action="START"),
     "the checkpoint API throttles (429) on operation 'charge' at its START checkpoint"),
    (DuplicateInvocation(invocation=2, concurrent=False),
     "deliver invocation 2 again after it ended (with its old token)"),
    (InvocationTimeout(op="ship", action="SUCCEED"),
     "time out the invocation on operation 'ship' at its SUCCEED checkpoint; it lives on as a zombie"),
    (CallbackFault(behaviour="delay", op="approval", seconds=90),
     "answer callback 'approval' 90s late"),
    (LateTimer(op="cool-off", seconds=45.5),
     "fire the timer of 'cool-off' 45.5s late"),
    (ColdStart(invocation=3),
     "run invocation 3 on a cold start (a new sandbox: module state reset, empty temp dir)"),
    (TransientFailure(effect="reserve", op="reserve", attempt=2),
     "make effect 'reserve' fail on operation 'reserve' (attempt 2)"),
    (EventRedelivery(event=2, stream="webhook", lag=1),
     "deliver event #2 of stream 'webhook' twice (the copy to the next pending callback, after 1 other event)"),
    (EventSwap(event=0, stream="webhook"),
     "deliver event #1 of stream 'webhook' before event #0 (out of order)"),
]


def test_examples_cover_every_kind() -> None:
    assert {fault.kind for fault, _ in EXAMPLES} == set(FAULT_TYPES)


@pytest.mark.parametrize(("fault", "words"), EXAMPLES, ids=[f.kind for f, _ in EXAMPLES])
def test_json_round_trip_for_every_kind(fault: Fault, words: str) -> None:
    schedule = FaultSchedule((fault,))
    text = schedule.to_json()
    data = json.loads(text)
    assert data["faults"][0]["kind"] == fault.kind
    again = FaultSchedule.from_json(text)
    assert again == schedule
    assert again.to_json() == text
    assert FaultSchedule.from_json(json.dumps(data["faults"])) == schedule  # a bare list is accepted too


def test_defaults_are_left_out_of_json_and_come_back() -> None:
    schedule = FaultSchedule((ColdStart(), LateTimer(), CallbackFault(), TransientFailure(effect="x")))
    assert json.loads(schedule.to_json())["faults"] == [
        {"kind": "cold_start"}, {"kind": "late_timer"}, {"kind": "callback"},
        {"kind": "transient_failure", "effect": "x"}]
    assert FaultSchedule.from_json(schedule.to_json()) == schedule


def test_whole_schedule_round_trip() -> None:
    schedule = FaultSchedule(tuple(fault for fault, _ in EXAMPLES))
    assert FaultSchedule.from_json(schedule.to_json()) == schedule
    assert len(schedule) == len(EXAMPLES)


@pytest.mark.parametrize(("fault", "words"), EXAMPLES, ids=[f.kind for f, _ in EXAMPLES])
def test_describe_reads_as_words(fault: Fault, words: str) -> None:
    assert fault.describe() == words
    assert FaultSchedule((fault,)).describe() == f"1. {words}"


def test_describe_numbers_the_faults_and_says_no_faults() -> None:
    assert FaultSchedule().describe() == "no faults"
    text = FaultSchedule((ColdStart(), CallbackFault(behaviour="duplicate"))).describe()
    assert text == ("1. run invocation 2 on a cold start (a new sandbox: module state reset, empty temp dir)\n"
                    "2. answer the first callback twice")
    for line in FaultSchedule(tuple(f for f, _ in EXAMPLES)).describe().splitlines():
        assert "{" not in line and "None" not in line and "kind" not in line


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("text", "needles"), [
    ('{"faults": [', ["a fault schedule must be JSON"]),
    ("crash at charge", ["a fault schedule must be JSON"]),
    ('{"faults": [{"kind": "explode", "op": "charge"}]}',
     ["unknown fault kind 'explode'", "known kinds", "crash_at_checkpoint"]),
    ('{"faults": [{"kind": "crash_at_checkpoint", "opp": "charge"}]}',
     ["fault 'crash_at_checkpoint' has no field(s) ['opp']", "it takes", "'op'"]),
    ('{"faults": [{"op": "charge"}]}', ["a fault must be an object with a 'kind' field"]),
    ('{"faults": ["crash"]}', ["a fault must be an object with a 'kind' field", "'crash'"]),
    ('{"faults": {"kind": "cold_start"}}', ['a fault schedule is {"faults": [']),
    ('{"fault": []}', ['a fault schedule is {"faults": [']),
    ('"cold_start"', ['a fault schedule is {"faults": [']),
    ("42", ['a fault schedule is {"faults": [']),
])
def test_malformed_schedule_raises_schedule_error(text: str, needles: list[str]) -> None:
    with pytest.raises(ScheduleError) as info:
        FaultSchedule.from_json(text)
    for needle in needles:
        assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


BAD_VALUES = [
    '{"faults": [{"kind": "checkpoint_error", "error": "teapot"}]}',
    '{"faults": [{"kind": "callback", "behaviour": "twice"}]}',
    '{"faults": [{"kind": "crash_at_checkpoint", "phase": "later"}]}',
    '{"faults": [{"kind": "crash_at_checkpoint", "action": "succeed"}]}',
    '{"faults": [{"kind": "late_timer", "seconds": "soon"}]}',
    '{"faults": [{"kind": "cold_start", "invocation": "2"}]}',
]


@pytest.mark.parametrize("text", BAD_VALUES, ids=["error", "behaviour", "phase", "action", "seconds", "invocation"])
def test_bad_field_value_raises_schedule_error(text: str) -> None:
    with pytest.raises(ScheduleError, match="fault '"):
        FaultSchedule.from_json(text)


def test_unknown_top_level_key_raises_schedule_error() -> None:
    with pytest.raises(ScheduleError, match="seed"):
        FaultSchedule.from_json('{"faults": [{"kind": "cold_start"}], "seed": 3}')


# ----------------------------------------------------------------- not reached
def test_fault_on_an_operation_that_never_happens_is_reported_not_reached() -> None:
    v = check(handlers.two_steps, None, FaultSchedule((CrashAtCheckpoint(op="refund"),)))
    assert v.fired == []
    (text,) = v.not_reached
    assert "crash on operation 'refund', before it is persisted" in text
    assert "not reached: 'refund' never happened" in text
    assert "operations seen: ['first', 'second']" in text
    assert "not reached:" in v.report()
    # nothing was tested: no violation, but never OK either
    assert not v.violations and not v.tested and not v.ok
    assert v.report().splitlines()[0].endswith("NOTHING TESTED: no fault of the schedule was reached (see 'not "
                                              "reached' below); fix the names it targets, or drop the faults that "
                                              "cannot fire")
    with pytest.raises(AssertionError, match="NOTHING TESTED"):
        v.raise_for_violations()


def test_fault_on_an_effect_that_never_happens_is_reported_not_reached() -> None:
    schedule = FaultSchedule((TransientFailure(effect="sms"), CrashAtCheckpoint(op="second", action="SUCCEED")))
    v = check(handlers.charges_at_least_once, None, schedule)
    assert v.fired == []
    assert len(v.not_reached) == 2
    sms = next(t for t in v.not_reached if "'sms'" in t)
    assert "not reached: 'sms' never happened" in sms
    assert "effects seen: ['charge']" in sms
    assert "operations seen: ['charge']" in sms


def test_an_effect_that_happened_elsewhere_is_not_called_missing() -> None:
    schedule = FaultSchedule((TransientFailure(effect="charge", attempt=3),))
    v = check(handlers.charges_at_least_once, None, schedule)
    (text,) = v.not_reached
    assert "effect 'charge' happened, but never at the coordinates this fault names" in text
    assert "step 'charge' attempt 1" in text and "never happened" not in text


def test_partly_reached_schedule_reports_only_the_missing_fault() -> None:
    schedule = FaultSchedule((CrashAtCheckpoint(op="second", action="SUCCEED"), ColdStart(invocation=9)))
    v = check(handlers.two_steps, None, schedule)
    assert [f.fault.kind for f in v.fired] == ["crash_at_checkpoint"]
    (text,) = v.not_reached
    assert text.startswith("run invocation 9 on a cold start") and "invocation 9 never happened (only 2 ran)" in text


# ------------------------------------------------------- different handlers
@pytest.fixture(scope="module")
def two_handlers() -> tuple[object, object]:
    a = check(handlers.two_steps, None, checkers=[])
    b = check(handlers.waits, None, checkers=[])
    return a.reference, b.chaotic


@pytest.mark.parametrize("name", sorted(ALL_CHECKERS))
def test_checker_refuses_runs_of_different_handlers(name: str, two_handlers: tuple[object, object]) -> None:
    reference, chaotic = two_handlers
    with pytest.raises(CheckerInputError) as info:
        ALL_CHECKERS[name](reference, chaotic, Ledger())  # type: ignore[arg-type]
    text = str(info.value)
    assert "different handlers" in text
    assert "tests.checks.handlers.two_steps" in text and "tests.checks.handlers.waits" in text


def test_checker_accepts_runs_of_the_same_handler(two_handlers: tuple[object, object]) -> None:
    reference, _ = two_handlers
    for checker in ALL_CHECKERS.values():
        assert checker(reference, reference, Ledger()) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("text, complaint", [
    ('{"faults": [{"kind": "late_timer", "seconds": NaN}]}', "a number of seconds from 0 to"),
    ('{"faults": [{"kind": "late_timer", "seconds": Infinity}]}', "a number of seconds from 0 to"),
    ('{"faults": [{"kind": "crash_after_effect"}]}', "field 'effect' must be an effect name"),
    ('{"faults": [{"kind": "transient_failure", "effect": ""}]}', "field 'effect' must be an effect name"),
    ('{"faults": [{"kind": "duplicate_invocation", "invocation": null}]}', "must be a whole number >= 1, got None"),
    ('{"faults": [{"kind": "cold_start", "invocation": null}]}', "must be a whole number >= 1, got None"),
])
def test_schedules_that_could_only_misfire_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(complaint)):
        FaultSchedule.from_json(text)


def test_an_effect_every_attempt_of_which_failed_is_not_called_missing() -> None:
    schedule = FaultSchedule((TransientFailure(effect="charge", times=20), CrashAfterEffect(effect="charge")))
    v = check(handlers.charges_at_least_once, None, schedule, checkers=["resumption"])
    assert [f.fault.kind for f in v.fired] == ["transient_failure"]
    (text,) = v.not_reached
    assert "not reached: every attempt at effect 'charge' was failed by another fault of this schedule" in text, text
    assert "never happened" not in text


def test_a_run_whose_fault_free_run_failed_tested_nothing() -> None:
    from tests.search.handlers import always_fails

    v = check(always_fails, {})  # the input lacks what the handler reads: it fails without any fault
    assert v.reference.status == "FAILED" and not v.violations
    assert not v.tested and not v.ok
    assert "NOTHING TESTED: the fault-free run ended FAILED" in v.report().splitlines()[0], v.report()
