"""Callbacks answered by at-least-once event sources, in turn, or by a function (issue 9 §3, §3b).

A webhook consumer that re-arms a callback per event must survive an event delivered twice (the
copy lands on its *next* callback) and two events out of order; a consumer that charges every
delivery is caught, its twin that dedupes by event id passes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from chaosdurable import (
    Answer,
    CallbackRequest,
    EventRedelivery,
    EventStream,
    EventSwap,
    FaultSchedule,
    InOrder,
    ScheduleError,
    check,
)
from chaosdurable.cli import main
from chaosdurable.events import CallbackAnswers
from chaosdurable.faults.events import EVENT_KINDS
from chaosdurable.strategies.events import event_faults
from chaosdurable.strategies.schedules import OperationSpace, fault_schedules
from chaosdurable.verdict import decode_callbacks, encode_callbacks
from tests.checks import event_handlers as h

PAYMENTS = EventStream([{"id": "evt-1", "amount": 5}, {"id": "evt-2", "amount": 7}, {"id": "evt-3", "amount": 9}])
CALLBACKS = {"webhook": PAYMENTS}
INPUT = {"expected": 3}
FAST = settings(max_examples=40, database=None, deadline=None, suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------------------ redelivery
def test_a_redelivered_webhook_charged_twice_is_caught() -> None:
    v = check(h.charge_every_delivery, INPUT, [EventRedelivery(event=0)], callbacks=CALLBACKS)
    assert not v.ok
    (double,) = v.by_checker("idempotency")
    assert "effect 'charge' (key 'evt-1') happened 2 times under faults but 1 time without them" in double.message
    assert "dedupe events by their id" in double.describe()
    (end,) = v.by_checker("event_delivery")
    assert "returned a different result when the event source delivered an event again" in end.message
    assert v.chaotic.result == {"charged": ["evt-1", "evt-1", "evt-2"], "total": 17}
    assert v.by_checker("determinism") == v.by_checker("resumption") == []  # the flow legitimately differs


@pytest.mark.parametrize("fault", [EventRedelivery(event=0), EventRedelivery(event=1, lag=1),
                                   EventRedelivery(event=2), EventRedelivery(event=0, stream="webhook", lag=2),
                                   EventSwap(event=0), EventSwap(event=1)])
def test_the_twin_that_dedupes_by_event_id_passes(fault: Any) -> None:
    v = check(h.charge_each_event_once, INPUT, [fault], callbacks=CALLBACKS)
    assert not v.violations and v.ok == bool(v.fired), v.report()  # a copy no callback takes tested nothing
    assert v.chaotic.result == v.reference.result == {"charged": ["evt-1", "evt-2", "evt-3"], "total": 21}
    # a copy due after the last event finds no callback (the twin stopped at three distinct events): not reached
    assert len(v.fired) + len(v.not_reached) == 1
    assert bool(v.fired) == (fault in (EventRedelivery(event=0), EventSwap(event=0), EventSwap(event=1)))


def test_a_lagging_copy_arrives_after_other_events() -> None:
    v = check(h.charge_each_event_once, INPUT, [EventRedelivery(event=0, lag=1)], callbacks=CALLBACKS)
    assert [e["note"].split(": ", 1)[1] for e in v.chaotic.callbacks] == [
        "event #0 of stream 'webhook'", "event #1 of stream 'webhook'",
        "event #0 of stream 'webhook' (redelivered)", "event #2 of stream 'webhook'"]


def test_a_copy_with_no_callback_left_to_land_on_is_dropped() -> None:
    v = check(h.charge_every_delivery, INPUT, [EventRedelivery(event=2)], callbacks=CALLBACKS)
    # the handler stopped after three callbacks: nobody got the copy
    assert not v.violations and not v.tested, v.report()
    assert len(v.chaotic.callbacks) == 3 and not any("redelivered" in e["note"] for e in v.chaotic.callbacks)
    assert v.fired == []  # a copy that never lands changed nothing: the fault is not reached, and says why
    (why,) = v.not_reached
    assert "not reached: that event was never delivered, or no callback was left to take its copy" in why


def test_an_event_never_delivered_leaves_its_fault_not_reached() -> None:
    v = check(h.charge_each_event_once, INPUT, [EventRedelivery(event=7), EventSwap(event=2),
                                                EventRedelivery(event=0, stream="other")], callbacks=CALLBACKS)
    assert v.fired == [] and len(v.not_reached) == 3, v.report()


# ----------------------------------------------------------------------------------- swap
def test_swapped_updates_applied_in_arrival_order_are_caught_and_the_versioned_twin_passes() -> None:
    updates = {"updates": EventStream([{"version": 1, "status": "pending"}, {"version": 2, "status": "paid"}])}
    bad = check(h.apply_in_arrival_order, {"expected": 2}, [EventSwap(event=0)], callbacks=updates)
    (violation,) = bad.violations
    assert violation.checker == "event_delivery" and bad.chaotic.result == {"status": "pending"}
    assert "deliver event #1 before event #0 (out of order)" in bad.report()
    good = check(h.apply_newest_version, {"expected": 2}, [EventSwap(event=0)], callbacks=updates)
    assert good.ok and good.chaotic.result == {"status": "paid"}, good.report()


# ---------------------------------------------------------------------- generic strategies
def test_the_probe_finds_the_stream_and_the_generic_schedules_draw_its_faults() -> None:
    space = OperationSpace.probe(h.charge_every_delivery, INPUT, callbacks=CALLBACKS)
    assert space.streams == (("webhook", 3),)
    assert space.callbacks == ("webhook",)  # as the handler names it, not "webhook create callback id"
    for kind in EVENT_KINDS:  # drawn by the default kinds, over the events the probe delivered
        drawn = find(fault_schedules(space=space), lambda s, k=kind: any(f.kind == k for f in s),
                     settings=settings(FAST, max_examples=500))
        assert drawn.faults[0].stream == "webhook" and drawn.faults[0].event in (0, 1, 2)
    no_stream = OperationSpace.probe(h.approvals_in_a_loop, {"approvers": ["ann"]},
                                     callbacks={"approval": {"ok": True}})
    assert no_stream.streams == ()
    with pytest.raises(NoSuchExample):
        find(fault_schedules(space=no_stream), lambda s: any(f.kind in EVENT_KINDS for f in s), settings=FAST)


def test_the_generic_schedules_find_the_double_charge_and_shrink_it_to_one_redelivery() -> None:
    space = OperationSpace.probe(h.charge_every_delivery, INPUT, callbacks=CALLBACKS)
    schedules = fault_schedules(space=space, kinds=list(EVENT_KINDS))
    found = find(schedules, lambda s: bool(check(h.charge_every_delivery, INPUT, s, callbacks=CALLBACKS).violations),
                 settings=FAST)
    assert found == FaultSchedule((EventRedelivery(event=0, stream="webhook"),))


@FAST
@given(st.data())
def test_the_generic_schedules_never_fault_the_twin_that_dedupes(data: st.DataObject) -> None:
    schedule = data.draw(fault_schedules(space=_TWIN_SPACE, kinds=list(EVENT_KINDS), max_faults=2))
    v = check(h.charge_each_event_once, INPUT, schedule, callbacks=CALLBACKS, reference=_twin_reference())
    assert not v.violations, v.report()  # a drawn fault may miss (not reached): that is no violation


_TWIN_SPACE = OperationSpace(steps=(), operations=("webhook",), effects=(), callbacks=("webhook",), timers=(),
                             invocations=4, streams=(("webhook", 3),))
_REFERENCES: dict[str, Any] = {}


def _twin_reference() -> Any:
    if "twin" not in _REFERENCES:
        _REFERENCES["twin"] = check(h.charge_each_event_once, INPUT, callbacks=CALLBACKS).reference
    return _REFERENCES["twin"]


def test_event_faults_strategy_checks_its_arguments() -> None:
    assert find(event_faults({"webhook": 1}), lambda f: True) == EventRedelivery(event=0, stream="webhook")
    with pytest.raises(ValueError, match="two events a swap needs"):
        event_faults({"webhook": 1}, kinds=("event_swap",))
    with pytest.raises(ValueError, match="needs streams"):
        event_faults({})


# ---------------------------------------------------------------------------- determinism
def test_the_same_schedule_gives_the_same_history() -> None:
    schedule = [EventRedelivery(event=1, lag=1), EventSwap(event=0)]
    runs = [check(h.charge_each_event_once, INPUT, schedule, callbacks=CALLBACKS).chaotic for _ in range(2)]
    assert runs[0].history == runs[1].history
    assert [e["note"] for e in runs[0].callbacks] == [e["note"] for e in runs[1].callbacks]


def test_event_faults_validate_their_fields_and_round_trip_json() -> None:
    for bad in ({"event": -1}, {"event": True}, {"lag": -2}, {"stream": ""}):
        with pytest.raises(ScheduleError):
            EventRedelivery(**bad)  # type: ignore[arg-type]
    schedule = FaultSchedule((EventRedelivery(event=2, stream="webhook", lag=1), EventSwap(event=1)))
    assert FaultSchedule.from_json(schedule.to_json()) == schedule
    assert json.loads(schedule.to_json())["faults"][1] == {"kind": "event_swap", "event": 1}


# ------------------------------------------------------------------- in order, by function
def test_answers_in_order_go_to_the_kth_callback_of_the_name() -> None:
    v = check(h.approvals_in_a_loop, {"approvers": ["ann", "bob"]},
              callbacks={"approval": InOrder([{"ok": True}, Answer(result={"ok": False}, delay=30)])})
    assert v.ok and v.reference.result == [{"approver": "ann", "ok": True}, {"approver": "bob", "ok": False}]
    assert v.reference.virtual_ms >= 31_000
    everyone = check(h.approvals_in_a_loop, {"approvers": ["ann", "bob"]}, callbacks=InOrder([{"ok": False},
                                                                                            {"ok": True}]))
    assert everyone.reference.result == [{"approver": "ann", "ok": False}, {"approver": "bob", "ok": True}]


def answer_by_approver(request: CallbackRequest) -> dict[str, Any]:
    """A module-level answering function (saved failures name it)."""
    assert request.name == "approval" and request.operation_name == "approval create callback id"
    assert request.index == request.nth and request.callback_id
    return {"ok": request.input["approvers"][request.nth] != "mallory"}


def test_answers_by_function_of_the_callback() -> None:
    v = check(h.approvals_in_a_loop, {"approvers": ["ann", "mallory"]}, callbacks={"approval": answer_by_approver})
    assert v.reference.result == [{"approver": "ann", "ok": True}, {"approver": "mallory", "ok": False}]
    assert "from tests.checks.test_event_streams import answer_by_approver" in v.replay
    assert "callbacks={'approval': answer_by_approver}" in v.replay
    assert decode_callbacks(v.spec["callbacks"]) == {"approval": answer_by_approver}
    anywhere = check(h.approvals_in_a_loop, {"approvers": ["ann"]}, callbacks=lambda r: {"ok": r.index == 0})
    assert anywhere.reference.result == [{"approver": "ann", "ok": True}]
    assert "define it at module level" in anywhere.replay


def test_callbacks_round_trip_through_json() -> None:
    callbacks = {"webhook": PAYMENTS, "approval": InOrder([True, Answer(failure={"ErrorType": "No"})]),
                 "slow": EventStream([1], delay=5), "*": answer_by_approver}
    encoded = encode_callbacks(callbacks)
    assert decode_callbacks(json.loads(json.dumps(encoded))) == callbacks


def test_an_exact_name_wins_over_the_wildcard() -> None:
    answers = CallbackAnswers({"*": "any", "approval": "mine"})
    assert answers.next("approval create callback id", "approval").answer == Answer(result="mine")
    assert answers.next("other", "other").answer == Answer(result="any")


def test_bad_answer_values_are_named() -> None:
    with pytest.raises(TypeError, match="InOrder takes a list"):
        InOrder("yes")
    with pytest.raises(TypeError, match="not a JSON value"):
        EventStream([{1, 2}])
    with pytest.raises(TypeError, match=r"InOrder\(\['approval'\]\)"):
        check(h.approvals_in_a_loop, {"approvers": ["ann"]}, callbacks=["approval"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- missing answers
def test_a_callback_without_an_answer_is_named_with_the_fix() -> None:
    v = check(h.approvals_in_a_loop, {"approvers": ["ann"]})
    assert v.reference.status == "FAILED"
    assert "callback(s) ['approval'] got no configured answer" in v.report()
    assert "callbacks={'approval': {'ok': True}}" in v.report()
    space = OperationSpace.probe(h.approvals_in_a_loop, {"approvers": ["ann"]})
    assert space.outcome == "FAILED" and "callbacks={'approval': {'ok': True}}" in str(space.problem)


def test_answers_in_order_that_run_out_say_so() -> None:
    v = check(h.approvals_in_a_loop, {"approvers": ["ann", "bob"]}, callbacks={"approval": InOrder([{"ok": True}])})
    assert "callback 'approval' #2 got no answer: InOrder for 'approval' has 1 answer and" in v.report()


def test_a_stream_that_runs_dry_says_so() -> None:
    v = check(h.charge_each_event_once, {"expected": 4}, callbacks=CALLBACKS)
    assert v.reference.status == "TIMED_OUT"  # the fourth callback waited until the execution's timeout
    assert "waited for an event of stream 'webhook', but all 3 events had been delivered" in v.report()


def test_the_command_line_takes_streams_and_answers_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    callbacks = json.dumps(encode_callbacks(CALLBACKS))
    code = main(["check", "tests.checks.event_handlers:charge_every_delivery", "--input", json.dumps(INPUT),
                 "--schedule", '[{"kind": "event_redelivery"}]', "--callbacks", callbacks])
    out = capsys.readouterr().out
    assert code == 1 and "[event_delivery]" in out
    code = main(["check", "tests.checks.event_handlers:approvals_in_a_loop", "--input", '{"approvers": ["a", "b"]}',
                 "--callbacks", '{"approval": {"__in_order__": [{"ok": true}, {"ok": false}]}}'])
    assert code == 0, capsys.readouterr().out


def test_a_function_that_raises_is_named_with_the_callback() -> None:
    from chaosdurable.events import CallbackAnswerError

    def broken(request: CallbackRequest) -> Any:
        raise KeyError("approver")

    with pytest.raises(CallbackAnswerError, match=r"callback 'approval' #1 .*broken.* raised KeyError"):
        check(h.approvals_in_a_loop, {"approvers": ["ann"]}, callbacks={"approval": broken})


def test_streams_work_in_subprocess_mode() -> None:
    from chaosdurable.backends import Subprocess

    v = check(h.charge_every_delivery, INPUT, [EventRedelivery(event=1)], callbacks=CALLBACKS, backend=Subprocess())
    assert {x.checker for x in v.violations} == {"idempotency", "event_delivery"}, v.report()


def test_strategies_draw_streams_and_answers_in_order() -> None:
    from chaosdurable.strategies import answers_in_order, event_streams, payloads_like

    stream = find(event_streams(payloads_like({"id": "evt-1", "amount": 5}), min_events=3, unique_by="id"),
                  lambda s: True, settings=FAST)
    assert isinstance(stream, EventStream) and len({e["id"] for e in stream.events}) == 3
    assert find(answers_in_order(), lambda o: len(o.answers) == 2, settings=FAST) == InOrder([Answer(delay=0.0)] * 2)
