"""Each of the eight checkers: it fires on a real bug and stays silent on a correct handler,
through ``check()``; the engine-guarding ones (exactly_once, well_formed) also as plain
functions on hand-built ``RunRecord`` values."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import StepSemantics
from aws_durable_execution_sdk_python.operation.base import CheckResult
from aws_durable_execution_sdk_python.operation.step import StepOperationExecutor

from chaosdurable import (
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    FaultSchedule,
    TransientFailure,
    check,
)
from chaosdurable.checks import Ledger, exactly_once, well_formed
from chaosdurable.engine.service import Service
from chaosdurable.history.record import BodyRun, RunRecord, Where
from tests.checks import cold_handlers, handlers
from tests.checks.handlers import line_of

ORDER = {"id": "ord-1"}


def _at(marker: str) -> str:
    return f"handlers.py:{line_of(marker)}"


def _crash_before(op: str) -> FaultSchedule:
    return FaultSchedule((CrashAtCheckpoint(op=op, action="SUCCEED"),))


# =================================================================== exactly_once
def test_exactly_once_fires_when_the_sdk_reruns_a_committed_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """exactly_once guards the SDK: simulate a regression that re-executes a SUCCEEDED step on replay."""
    original = StepOperationExecutor.check_result_status

    def rerun_committed(self: StepOperationExecutor[Any]) -> CheckResult[Any]:
        result = self._get_checkpoint_result()
        if self.operation_identifier.name == "charge" and result.is_succeeded():
            return CheckResult.create_is_ready_to_execute(result)
        return original(self)

    monkeypatch.setattr(StepOperationExecutor, "check_result_status", rerun_committed)
    v = check(handlers.charge_at_most_once, ORDER, checkers=["exactly_once"], max_invocations=8)
    found = v.by_checker("exactly_once")
    assert found, v.report()
    rerun = next(x for x in found if "ran its body again" in x.message)
    assert rerun.op == "charge"
    assert rerun.invocation == 2
    assert rerun.source is not None and rerun.source.endswith(_at("charge-call"))
    assert "after its SUCCEED was committed in invocation 1" in rerun.message


def test_exactly_once_fires_when_the_sdk_reruns_an_interrupted_at_most_once_attempt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate an SDK regression that drops the StepInterruptedError guard of AT_MOST_ONCE steps."""
    original = StepOperationExecutor.check_result_status

    def forget_interruption(self: StepOperationExecutor[Any]) -> CheckResult[Any]:
        result = self._get_checkpoint_result()
        if result.is_started() and self.config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
            return CheckResult.create_is_ready_to_execute(result)
        return original(self)

    monkeypatch.setattr(StepOperationExecutor, "check_result_status", forget_interruption)
    v = check(handlers.charge_at_most_once, ORDER, FaultSchedule((CrashAfterEffect(effect="charge"),)),
              checkers=["exactly_once"])
    assert v.fired
    (violation,) = [x for x in v.by_checker("exactly_once") if "AT_MOST_ONCE_PER_RETRY" in x.message]
    assert violation.op == "charge"
    assert "ran its body 2 times for attempt 1" in violation.message
    assert "invocation 1, invocation 2" in violation.message
    assert violation.source is not None and violation.source.endswith(_at("charge-call"))


@pytest.mark.parametrize("schedule", [
    _crash_before("ship"),
    FaultSchedule((CrashAtCheckpoint(op="charge", action="SUCCEED", phase="after_persist"),)),
    FaultSchedule((DuplicateInvocation(invocation=1),)),
], ids=["crash-before-persist", "lost-response", "duplicate-invocation"])
def test_exactly_once_silent_on_correct_handler_under_faults(schedule: FaultSchedule) -> None:
    v = check(handlers.clean_order, ORDER, schedule)
    assert v.fired
    assert v.by_checker("exactly_once") == [], v.report()


def test_exactly_once_silent_for_at_most_once_step_interrupted_by_a_crash() -> None:
    """The real SDK turns the interrupted attempt into a retry: attempt 2 runs once, attempt 1 never again."""
    v = check(handlers.charge_at_most_once, ORDER, FaultSchedule((CrashAfterEffect(effect="charge"),)))
    assert v.fired
    assert v.by_checker("exactly_once") == [], v.report()
    attempts = [b.where.attempt for b in v.chaotic.body_runs if b.where.op_name == "charge"]
    assert attempts == [1, 2]


# ----- exactly_once on hand-built records
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/e/e"


def _where(invocation: int, attempt: int = 1, copy_: int = 0, semantics: str = "AT_LEAST_ONCE_PER_RETRY") -> Where:
    return Where(arn=ARN, invocation=invocation, copy=copy_, op_id="s1", op_name="charge", op_type="STEP",
                 sub_type="Step", attempt=attempt, in_step=True, source="shop.py:42", semantics=semantics)


def _inv(index: int, dead: str | None = None, outcome: str = "returned") -> dict[str, Any]:
    return {"index": index, "dead": dead, "copies": 1, "concurrent": False, "outcome": outcome,
            "duplicate_outcome": None}


def _cp(invocation: int, *actions: str) -> dict[str, Any]:
    return {"arn": ARN, "invocation": invocation, "copy": 0, "accepted": True,
            "updates": [{"Id": "s1", "Type": "STEP", "Action": a, "Name": "charge"} for a in actions]}


def _record(checkpoints: list[dict[str, Any]], bodies: list[Where], invocations: list[dict[str, Any]],
            label: str = "chaotic", handler: str = "shop.handler") -> RunRecord:
    return RunRecord(
        label=label, status="SUCCEEDED", result="ok", result_payload='"ok"', error=None, history=[],
        operations=[{"Id": "e", "Type": "EXECUTION", "Name": "e"},
                    {"Id": "s1", "Type": "STEP", "Name": "charge", "Status": "SUCCEEDED"}],
        invocations=invocations, checkpoints=checkpoints,
        body_runs=[BodyRun(i + 1, w) for i, w in enumerate(bodies)], handler=handler)


def _reference() -> RunRecord:
    return _record([_cp(1, "START", "SUCCEED")], [_where(1)], [_inv(1)], label="reference")


def test_exactly_once_direct_committed_step_ran_again_in_later_invocation() -> None:
    chaotic = _record([_cp(1, "START", "SUCCEED")], [_where(1), _where(2)], [_inv(1), _inv(2)])
    found = exactly_once(_reference(), chaotic, Ledger())
    (again,) = [x for x in found if "ran its body again" in x.message]
    assert again.message == ("step 'charge' ran its body again in invocation 2 after its SUCCEED was "
                             "committed in invocation 1")
    assert (again.checker, again.op, again.invocation, again.source) == ("exactly_once", "charge", 2, "shop.py:42")


def test_exactly_once_direct_at_most_once_attempt_ran_twice() -> None:
    sem = "AT_MOST_ONCE_PER_RETRY"
    chaotic = _record([_cp(1, "START"), _cp(2, "SUCCEED")],
                      [_where(1, semantics=sem), _where(2, semantics=sem)],
                      [_inv(1, dead="crashed", outcome="crashed"), _inv(2)])
    (violation,) = exactly_once(_reference(), chaotic, Ledger())
    assert "AT_MOST_ONCE_PER_RETRY step 'charge' ran its body 2 times for attempt 1" in violation.message
    assert violation.op == "charge" and violation.invocation == 2


def test_exactly_once_direct_two_succeeds_accepted() -> None:
    chaotic = _record([_cp(1, "START", "SUCCEED"), _cp(1, "SUCCEED")], [_where(1)], [_inv(1)])
    found = exactly_once(_reference(), chaotic, Ledger())
    assert any(x.message.startswith("step 'charge' had 2 SUCCEED checkpoints accepted") for x in found), found


def test_exactly_once_direct_committed_attempt_whose_body_never_ran() -> None:
    chaotic = _record([_cp(1, "START", "RETRY"), _cp(2, "START", "SUCCEED")], [_where(1, attempt=1)],
                      [_inv(1), _inv(2)])
    (violation,) = exactly_once(_reference(), chaotic, Ledger())
    assert violation.message == ("attempt 2 of step 'charge' was committed (SUCCEED) but its body never ran "
                                 "in that attempt")
    assert violation.invocation == 2


def test_exactly_once_direct_unexplained_at_least_once_rerun() -> None:
    """Two runs of one attempt in one normal invocation: nothing explains the repeat."""
    chaotic = _record([_cp(1, "START", "SUCCEED")], [_where(1), _where(1)], [_inv(1)])
    (violation,) = exactly_once(_reference(), chaotic, Ledger())
    assert "ran its body 2 times for attempt 1" in violation.message
    assert "only 0 of those runs are explained" in violation.message


def test_exactly_once_direct_silent_when_a_crash_explains_the_rerun() -> None:
    chaotic = _record([_cp(2, "START", "SUCCEED")], [_where(1), _where(2)],
                      [_inv(1, dead="crashed", outcome="crashed"), _inv(2)])
    assert exactly_once(_reference(), chaotic, Ledger()) == []


def test_exactly_once_direct_retry_budget_exceeded() -> None:
    """Three attempts committed for a step whose strategy allows two."""
    budget = Where(**{**_where(1).__dict__, "max_attempts": 2})
    chaotic = _record([_cp(1, "START", "RETRY"), _cp(2, "START", "RETRY"), _cp(3, "START", "SUCCEED")],
                      [budget, Where(**{**budget.__dict__, "invocation": 2, "attempt": 2}),
                       Where(**{**budget.__dict__, "invocation": 3, "attempt": 3})],
                      [_inv(1), _inv(2), _inv(3)])
    (violation,) = exactly_once(_reference(), chaotic, Ledger())
    assert violation.message == "step 'charge' committed 3 attempts but its retry strategy allows 2"
    assert violation.op == "charge"


def test_exactly_once_reads_the_retry_budget_and_stays_silent_within_it() -> None:
    v = check(handlers.retries_within_budget, None)
    assert {b.where.max_attempts for b in v.chaotic.body_runs} == {3}
    assert len(v.chaotic.body_runs) == 3
    assert v.by_checker("exactly_once") == [], v.report()


def test_exactly_once_direct_silent_on_real_run_records() -> None:
    v = check(handlers.clean_order, ORDER, _crash_before("ship"), checkers=[])
    assert exactly_once(v.reference, v.chaotic, Ledger()) == []
    assert exactly_once(v.reference, v.reference, Ledger()) == []


# ===================================================================== resumption
def test_resumption_fires_when_result_travels_through_module_state() -> None:
    from chaosdurable import ColdStart

    v = check(cold_handlers.priced_from_module_state, None, FaultSchedule((ColdStart(invocation=2),)))
    assert v.fired
    (violation,) = v.by_checker("resumption")
    assert violation.message == "the execution returned a different result under faults"
    assert violation.detail[-2:] == ("fault-free: 30", "chaotic:   10")
    assert violation.detail[0].startswith("first divergent operation: STEP 'price'")
    assert violation.op == "price"


def test_resumption_fires_when_result_depends_on_the_invocation() -> None:
    v = check(handlers.returns_request_id, None, _crash_before("validate"))
    assert v.fired
    (violation,) = v.by_checker("resumption")
    assert violation.message == "the execution returned a different result under faults"
    assert violation.detail[0] == f"fault-free: {v.reference.result_payload}"
    assert violation.detail[1] == f"chaotic:   {v.chaotic.result_payload}"


def test_resumption_silent_on_correct_handler_under_crash() -> None:
    v = check(handlers.clean_order, ORDER, _crash_before("ship"))
    assert v.by_checker("resumption") == []
    assert v.reference.result == v.chaotic.result == {"order": "ord-1", "charged": 36, "tracking": "TRK-1"}


def test_resumption_silent_when_the_value_is_the_step_result() -> None:
    from chaosdurable import ColdStart

    v = check(cold_handlers.priced_from_step_result, None, FaultSchedule((ColdStart(invocation=2),)))
    assert v.fired
    assert v.by_checker("resumption") == [], v.report()
    assert v.chaotic.result == 30


# ==================================================================== determinism
def test_determinism_fires_on_step_name_from_request_id() -> None:
    # the crash loses the step's START, so the next invocation starts it afresh under another name
    v = check(handlers.names_step_after_request, None,
              FaultSchedule((CrashAtCheckpoint(op="receipt-*", action="START"),)))
    assert v.fired
    (violation,) = v.by_checker("determinism")
    ref_name = next(op["Name"] for op in v.reference.operations if str(op.get("Name")).startswith("receipt-"))
    got_name = next(op["Name"] for op in v.chaotic.operations if str(op.get("Name")).startswith("receipt-"))
    assert ref_name != got_name
    assert violation.op == got_name
    assert f"STEP {ref_name!r} (under the handler) became STEP {got_name!r}" in violation.message
    assert "operation #2 differs" in violation.message


def test_a_renamed_step_whose_start_was_persisted_is_the_sdks_non_deterministic_replay() -> None:
    # crash before SUCCEED: the START (sent ahead of it) is persisted under the first name, and the
    # replay's new name is caught by the SDK itself, whatever batch the START travelled in
    v = check(handlers.names_step_after_request, None, _crash_before("receipt-*"))
    (violation,) = v.by_checker("determinism")
    assert "non-deterministic replay" in violation.message and "current='receipt-" in violation.message


def test_determinism_fires_on_wait_duration_from_request_id() -> None:
    v = check(handlers.waits_by_request, None, _crash_before("validate"))
    assert v.fired
    (violation,) = v.by_checker("determinism")
    assert violation.op == "cool-off"
    assert violation.message.startswith("operation 'cool-off' was started with different values under faults: "
                                        "WaitOptions {'WaitSeconds': ")


def test_determinism_silent_on_correct_handler_under_crash() -> None:
    v = check(handlers.clean_order, ORDER, _crash_before("charge"))
    assert v.fired
    assert v.by_checker("determinism") == [], v.report()


# ==================================================================== idempotency
def test_idempotency_fires_on_repeated_explicit_effect() -> None:
    v = check(handlers.charges_at_least_once, None, FaultSchedule((CrashAfterEffect(effect="charge"),)))
    (violation,) = v.by_checker("idempotency")
    assert violation.message == ("effect 'charge' (key 'ord-1') happened 2 times under faults but 1 time "
                                 "without them: it is not idempotent")
    assert violation.op == "charge"
    assert violation.source is not None and violation.source.endswith(_at("charge"))


def test_idempotency_fires_on_duplicated_sqs_message() -> None:
    v = check(handlers.enqueues_at_least_once, None,
              FaultSchedule((CrashAfterEffect(effect="aws:sqs.SendMessage"),)), setup=handlers.setup_world)
    (violation,) = v.by_checker("idempotency")
    assert "aws:sqs.SendMessage ran more often under faults" in violation.message
    assert violation.op == "enqueue"
    assert violation.source is not None and violation.source.endswith(_at("sqs"))
    assert "sqs:orders: + order ord-1 paid" in violation.detail
    assert v.chaotic.world is not None and v.chaotic.world["sqs:orders"] == ["order ord-1 paid"] * 2
    # every run of the call that ran more often is listed, the first one included
    runs = [line for line in violation.detail if line.startswith("aws:sqs.SendMessage ran in ")]
    assert len(runs) == 2 and "invocation 1" in runs[0] and "invocation 2" in runs[1], violation.detail


def test_idempotency_silent_on_idempotent_upsert_and_idempotent_effects() -> None:
    v = check(handlers.upserts_at_least_once, None,
              FaultSchedule((CrashAfterEffect(effect="aws:dynamodb.PutItem"),)), setup=handlers.setup_world)
    assert v.fired
    assert sum(e.name == "aws:dynamodb.PutItem" for e in v.chaotic.effects) == 2  # it did run twice
    assert v.by_checker("idempotency") == [], v.report()
    v = check(handlers.clean_order, ORDER, _crash_before("ship"))
    assert sum(e.name == "ship" for e in v.chaotic.effects) == 2
    assert v.by_checker("idempotency") == [], v.report()


# ========================================================== effects_outside_steps
def test_effects_outside_steps_fires_without_any_fault() -> None:
    v = check(handlers.emails_outside_step, None)
    (violation,) = v.by_checker("effects_outside_steps")
    assert violation.message.startswith("effect 'email' happens outside any step (handler code outside any step")
    assert "(2 times in the fault-free run, 2 under faults)" in violation.message
    assert violation.source is not None and violation.source.endswith(_at("email"))


def test_effect_and_clock_read_in_child_context_code_are_outside_steps() -> None:
    v = check(handlers.child_context_outside_step, None)
    (effect_v,) = v.by_checker("effects_outside_steps")
    assert effect_v.message.startswith("effect 'notify' happens outside any step (child context "
                                       "'notify-customer' (outside any step)")
    assert effect_v.op == "notify-customer"
    assert effect_v.source is not None and effect_v.source.endswith(_at("child-effect"))
    (clock,) = v.reference.tripwire  # seen; its value steers nothing, so it is a note (checks.confirm)
    assert clock.where.op_name == "notify-customer"
    assert clock.where.source is not None and clock.where.source.endswith(_at("child-clock"))
    assert any(d.startswith("note: time.time() is read outside any step") for d in v.chaotic.diagnostics)


def test_effects_outside_steps_silent_when_effect_is_in_a_step() -> None:
    v = check(handlers.emails_inside_step, None, _crash_before("finish"))
    assert any(e.name == "email" for e in v.chaotic.effects)
    assert v.by_checker("effects_outside_steps") == [], v.report()


# ======================================================================= tripwire
def test_tripwire_fires_on_clock_read_outside_step() -> None:
    v = check(handlers.reads_clock_outside_step, None)
    (hit,) = v.reference.tripwire
    assert hit.call == "time.time()"
    assert hit.where.source is not None and hit.where.source.endswith(_at("clock"))
    # whether it is a violation is for a shifted replay to say (tests/checks/test_tripwire_confirm.py)
    assert v.by_checker("tripwire") or any(d.startswith("note: time.time()") for d in v.chaotic.diagnostics)


def test_tripwire_silent_when_clock_and_uuid_are_read_in_steps() -> None:
    v = check(handlers.reads_clock_inside_step, None)
    assert v.by_checker("tripwire") == [], v.report()
    v = check(handlers.clean_order, ORDER, _crash_before("ship"))
    assert v.by_checker("tripwire") == [], v.report()


def test_tripwire_tells_a_seeded_random_instance_from_the_shared_one() -> None:
    import random

    from aws_durable_execution_sdk_python import durable_execution

    @durable_execution
    def seeded(event: dict[str, str], context: object) -> int:
        bucket = random.Random(event["user"]).randint(0, 9)   # same draw in every replay
        return context.step(lambda _: bucket, name="assign")  # type: ignore[attr-defined, no-any-return]

    @durable_execution
    def unseeded(event: dict[str, str], context: object) -> int:
        bucket = random.Random().randint(0, 9)                # a new OS seed in every replay
        return context.step(lambda _: bucket, name="assign")  # type: ignore[attr-defined, no-any-return]

    @durable_execution
    def shared(event: dict[str, str], context: object) -> int:
        bucket = random.randint(0, 9)                         # the module's OS-seeded instance
        return context.step(lambda _: bucket, name="assign")  # type: ignore[attr-defined, no-any-return]

    assert check(seeded, {"user": "ada"}).by_checker("tripwire") == []
    (hit,) = check(unseeded, {"user": "ada"}).by_checker("tripwire")
    assert hit.message.startswith("random.Random() without a seed is read outside any step")
    (hit,) = check(shared, {"user": "ada"}).by_checker("tripwire")
    assert hit.message.startswith("random.randint() is read outside any step")


# ======================================================================= liveness
def test_liveness_fires_on_unbounded_retries() -> None:
    v = check(handlers.polls_forever, None, max_invocations=6)
    (violation,) = v.by_checker("liveness")
    assert violation.message.startswith("even the fault-free run did not finish")
    assert "STEP poll is PENDING" in violation.message
    assert "max_invocations=6" in violation.message


def test_liveness_silent_on_correct_handler_under_faults() -> None:
    v = check(handlers.reserve_with_retries, None, FaultSchedule((TransientFailure(effect="reserve"),)))
    assert v.fired
    assert v.by_checker("liveness") == [], v.report()
    assert v.chaotic.stuck is None


# ===================================================================== well_formed
def test_well_formed_fires_when_the_engine_completes_a_wait_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """well_formed guards the engine: simulate a regression that fires a wait timer twice."""
    original = Service._fire

    def fire_twice(self: Service, timer: Any) -> None:
        original(self, timer)
        if timer.kind == "wait":
            ex = self.executions[timer.arn]
            op = ex.ops[timer.op_id]
            ex.event("WaitSucceeded", timer.due_ms, {"Duration": op.wait_seconds}, op)

    monkeypatch.setattr(Service, "_fire", fire_twice)
    v = check(handlers.waits, None, checkers=["well_formed"])
    found = v.by_checker("well_formed")
    assert found
    assert all(x.op == "pause" for x in found)
    assert "chaotic history: WaitSucceeded for operation 'pause' after it already ended with WaitSucceeded" in [
        x.message for x in found]


def test_well_formed_silent_on_real_runs_with_crash_retry_and_callbacks() -> None:
    from chaosdurable import CallbackFault

    for handler, schedule in (
        (handlers.clean_order, _crash_before("ship")),
        (handlers.reserve_with_retries, FaultSchedule((TransientFailure(effect="reserve"),))),
        (handlers.approval_then_wait, FaultSchedule((CallbackFault(behaviour="duplicate"),))),
    ):
        v = check(handler, ORDER, schedule)
        assert v.fired
        assert v.by_checker("well_formed") == [], v.report()


# ----- well_formed on hand-built histories (derived from a real, well-formed one)
@pytest.fixture(scope="module")
def real_history() -> tuple[RunRecord, RunRecord]:
    v = check(handlers.waits, None, checkers=[])
    return v.reference, v.chaotic


def _with_history(run: RunRecord, history: list[dict[str, Any]]) -> RunRecord:
    out = copy.copy(run)
    out.history = history
    return out


def test_well_formed_direct_event_after_execution_ended(real_history: tuple[RunRecord, RunRecord]) -> None:
    reference, chaotic = real_history
    events = copy.deepcopy(chaotic.history)
    late = copy.deepcopy(next(e for e in events if e["EventType"] == "InvocationCompleted"))
    late["EventId"] = len(events) + 1
    late["EventTimestamp"] = events[-1]["EventTimestamp"]
    events.append(late)
    found = well_formed(reference, _with_history(chaotic, events), Ledger())
    assert [x.message for x in found] == ["chaotic history has events after ExecutionSucceeded"]


def test_well_formed_direct_event_ids_out_of_order(real_history: tuple[RunRecord, RunRecord]) -> None:
    reference, chaotic = real_history
    events = copy.deepcopy(chaotic.history)
    events[1]["EventId"], events[2]["EventId"] = events[2]["EventId"], events[1]["EventId"]
    found = well_formed(reference, _with_history(chaotic, events), Ledger())
    assert [x.message for x in found] == ["chaotic history: event #2 has EventId 3"]


def test_well_formed_direct_other_breakages(real_history: tuple[RunRecord, RunRecord]) -> None:
    reference, chaotic = real_history
    events = copy.deepcopy(chaotic.history)
    # an event that goes back in time
    back = copy.deepcopy(events)
    back[-1]["EventTimestamp"] = back[0]["EventTimestamp"] - datetime.timedelta(seconds=1)
    assert any("goes back in time at event" in x.message
               for x in well_formed(reference, _with_history(chaotic, back), Ledger()))
    # does not begin with ExecutionStarted
    headless = [dict(e, EventId=i) for i, e in enumerate(events[1:], start=1)]
    assert "chaotic history does not begin with ExecutionStarted" in [
        x.message for x in well_formed(reference, _with_history(chaotic, headless), Ledger())]
    # two execution outcomes
    twice = [*events, dict(events[-1], EventId=len(events) + 1)]
    assert "chaotic history has 2 execution outcomes" in [
        x.message for x in well_formed(reference, _with_history(chaotic, twice), Ledger())]


def test_well_formed_direct_silent_on_real_and_retry_histories(real_history: tuple[RunRecord, RunRecord]) -> None:
    reference, chaotic = real_history
    assert well_formed(reference, chaotic, Ledger()) == []
    # a step's failed attempt with a retry is not terminal: a later StepStarted is legal
    v = check(handlers.reserve_with_retries, None, FaultSchedule((TransientFailure(effect="reserve"),)), checkers=[])
    kinds = [e["EventType"] for e in v.chaotic.history]
    assert kinds.count("StepStarted") == 2 and "StepFailed" in kinds
    assert well_formed(v.reference, v.chaotic, Ledger()) == []


_PATHS = iter(range(1000))


@durable_execution
def _review_or_pay(event: Any, context: Any) -> Any:
    """The path depends on how often the handler was entered: positional ids, other names."""
    context.step(lambda _: "assessed", name="assess")
    if next(_PATHS) < 3:  # reference, final replay, witness: pay; the chaotic run: review
        return context.step(lambda _: 155000, name="pay-claim")
    return context.step(lambda _: "QUEUED", name="manual-review")


def test_the_first_divergence_names_the_operation_each_run_has_at_that_place() -> None:
    v = check(_review_or_pay, None)
    (violation,) = v.by_checker("resumption")
    assert violation.detail[0] == ("first divergent operation: STEP 'pay-claim' without faults is STEP "
                                   "'manual-review' under faults"), violation.detail
    line = next(x for x in v.report().splitlines() if x.startswith("first divergent operation"))
    assert "STEP 'pay-claim': SUCCEEDED 155000 without faults; under faults this place holds STEP " \
           "'manual-review', SUCCEEDED 'QUEUED'" in line, line
