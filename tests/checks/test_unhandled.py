"""The ``unhandled_failure`` checker: a durable operation failed by a legitimate fault, and its SDK error
escaped the handler (issue 9 §3b). Each buggy handler has a handled twin that must pass."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig, StepSemantics, WaitForCallbackConfig
from aws_durable_execution_sdk_python.exceptions import CallbackError, StepError
from aws_durable_execution_sdk_python.retries import RetryPresets, RetryStrategyConfig, create_retry_strategy

import chaosdurable
from chaosdurable import CallbackFault, FaultSchedule, TransientFailure, Verdict, check, effect
from chaosdurable.checks import ALL_CHECKERS, Ledger
from chaosdurable.checks.unhandled import NAME, unhandled_failure, unhandled_failure_checker

ORDER = {"order": "o-1200", "sku": "sku-a"}
APPROVAL = WaitForCallbackConfig(timeout=Duration.from_hours(24), heartbeat_timeout=Duration.from_minutes(10))
TWO_TRIES = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=2)))


# ------------------------------------------------------------------ a stock hold and an approval (the trial's b12)
def setup() -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="holds", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _hold(order: str, status: str) -> str:
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName="holds", Item={"id": {"S": order}, "status": {"S": status}})
    return status


def _approval(context: Any) -> Any:
    return context.wait_for_callback(lambda cb_id, _ctx: None, name="approval", config=APPROVAL)


@durable_execution
def hold_then_approve(event: dict[str, str], context: Any) -> dict[str, Any]:
    """BUG: the hold stays when the approval times out (CallbackTimeoutError escapes)."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    approval = _approval(context)
    return {"approval": approval, "status": context.step(lambda _: _hold(event["order"], "SOLD"), name="finalize")}


@durable_execution
def hold_then_approve_or_release(event: dict[str, str], context: Any) -> dict[str, Any]:
    """The handled twin: a timeout or a rejection releases the hold."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    try:
        approval = _approval(context)
    except CallbackError:
        return {"status": context.step(lambda _: _hold(event["order"], "RELEASED"), name="release")}
    return {"approval": approval, "status": context.step(lambda _: _hold(event["order"], "SOLD"), name="finalize")}


@durable_execution
def release_then_reraise(event: dict[str, str], context: Any) -> Any:
    """Handled too: it compensates in a step, then fails the execution with the SDK's error on purpose."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    try:
        return _approval(context)
    except CallbackError:
        context.step(lambda _: _hold(event["order"], "RELEASED"), name="release")
        raise


@durable_execution
def own_error_instead(event: dict[str, str], context: Any) -> Any:
    """Caught and turned into the handler's own exception: a deliberate failure, not the SDK's error escaping
    (the checker's documented limit: it cannot tell whether the hold was meant to stay)."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    try:
        return _approval(context)
    except CallbackError as exc:
        raise RuntimeError(f"approval of {event['order']} timed out") from exc


@durable_execution
def approve_in_child(event: dict[str, str], context: Any) -> Any:
    """BUG: as ``hold_then_approve``, with the approval inside a child context (ChildContextError escapes)."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    return context.run_in_child_context(_approval, name="review")


# ------------------------------------------------------------------ a charge whose retries run out
def _charge(event: dict[str, str]) -> str:
    effect("charge", key=event["order"])
    return "charged"


def _effect(name: str, event: dict[str, str], result: str) -> str:
    effect(name, key=event["order"])
    return result


@durable_execution
def reserve_then_charge(event: dict[str, str], context: Any) -> str:
    """BUG: the reservation stays when the charge's retries run out (StepError escapes)."""
    context.step(lambda _: _effect("reserve", event, "reserved"), name="reserve")
    return context.step(lambda _: _charge(event), name="charge", config=TWO_TRIES)


@durable_execution
def reserve_then_charge_or_release(event: dict[str, str], context: Any) -> str:
    """The handled twin."""
    context.step(lambda _: _effect("reserve", event, "reserved"), name="reserve")
    try:
        return context.step(lambda _: _charge(event), name="charge", config=TWO_TRIES)
    except StepError:
        return context.step(lambda _: _effect("release", event, "released"), name="release")


@durable_execution
def already_failing(event: dict[str, str], context: Any) -> str:
    """Fails without any fault (its last step always raises): not this checker's business."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    _approval(context)

    def finalize(_: Any) -> str:
        raise ValueError("the warehouse is closed")

    return context.step(finalize, name="finalize", config=StepConfig(
        retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1))))


CALLBACK_FAULTS = [
    pytest.param(CallbackFault(behaviour="after_timeout"), "CallbackTimeoutError", id="after_timeout"),
    pytest.param(CallbackFault(behaviour="delay", seconds=172800.0), "CallbackTimeoutError", id="delay-past-timeout"),
    pytest.param(CallbackFault(behaviour="miss_heartbeats"), "CallbackTimeoutError", id="miss_heartbeats"),
    pytest.param(CallbackFault(behaviour="failure"), "CallbackExternalError", id="failure"),
]
CHARGE_FAILS_TWICE = FaultSchedule((TransientFailure(effect="charge", attempt=1),
                                    TransientFailure(effect="charge", attempt=2)))


def _check(handler: Any, schedule: FaultSchedule, **kw: Any) -> Verdict:
    return check(handler, ORDER, schedule, setup=setup, **kw)


@pytest.mark.parametrize("fault, error", CALLBACK_FAULTS)
def test_an_unhandled_callback_failure_is_reported(fault: CallbackFault, error: str) -> None:
    v = _check(hold_then_approve, FaultSchedule((fault,)))
    assert v.chaotic.status == "FAILED" and v.fired, v.report()
    (found,) = v.by_checker(NAME)
    assert found.op == "approval"
    assert found.message.startswith("wait_for_callback 'approval' failed under a fault and the handler did not "
                                    f"handle it: the execution ended FAILED with the SDK's {error}")
    text = found.describe()
    assert f"fault: {fault.describe()} -> fired on callback" in text
    assert f"execution error: aws_durable_execution_sdk_python.exceptions.{error}" in text
    assert "done before it and never undone: step 'hold-stock'" in text
    assert f"fix: catch {error} (aws_durable_execution_sdk_python.exceptions) around wait_for_callback " in text
    assert "unhandled_failure_checker(allow=['approval'])" in text
    # the outcome may change under this fault, so the comparing checkers stand down: this is the only finding
    assert [x.checker for x in v.violations] == [NAME], v.report()


@pytest.mark.parametrize("fault, error", CALLBACK_FAULTS)
def test_the_handled_twin_passes(fault: CallbackFault, error: str) -> None:
    v = _check(hold_then_approve_or_release, FaultSchedule((fault,)))
    assert v.ok and v.fired and v.chaotic.status == "SUCCEEDED", v.report()
    assert v.chaotic.world is not None and "RELEASED" in repr(v.chaotic.world)


@pytest.mark.parametrize("handler", [release_then_reraise, own_error_instead],
                         ids=["compensates-then-reraises", "raises-its-own-error"])
def test_a_handler_that_catches_the_error_and_then_fails_passes(handler: Any) -> None:
    v = _check(handler, FaultSchedule((CallbackFault(behaviour="after_timeout"),)))
    assert v.chaotic.status == "FAILED" and v.ok, v.report()


def test_an_error_leaving_through_a_child_context_is_reported() -> None:
    v = _check(approve_in_child, FaultSchedule((CallbackFault(behaviour="after_timeout"),)))
    (found,) = v.by_checker(NAME)
    assert found.op == "review/approval"
    assert "wait_for_callback 'approval' in child 'review' failed" in found.message
    assert "the SDK's ChildContextError" in found.message
    assert "(or ChildContextError around child 'review')" in found.describe()


def test_a_charge_whose_retries_run_out_is_reported() -> None:
    v = check(reserve_then_charge, ORDER, CHARGE_FAILS_TWICE)
    (found,) = v.by_checker(NAME)
    assert found.op == "charge"
    assert "step 'charge' failed under a fault" in found.message and "the SDK's StepError" in found.message
    text = found.describe()
    assert "step 'charge' failed (the injected failure outlasted its retries)" in text
    assert "done before it and never undone: step 'reserve'" in text
    assert "fix: catch StepError" in text
    assert [x.checker for x in v.violations] == [NAME], v.report()


def test_the_charge_twin_passes() -> None:
    v = check(reserve_then_charge_or_release, ORDER, CHARGE_FAILS_TWICE)
    assert v.ok and v.chaotic.status == "SUCCEEDED", v.report()
    assert [e.name for e in v.chaotic.effects] == ["reserve", "release"]  # both charges failed before charging


def test_a_handler_that_fails_without_faults_is_not_its_business() -> None:
    v = _check(already_failing, FaultSchedule((CallbackFault(behaviour="after_timeout"),)))
    assert v.reference.status == "FAILED" and v.chaotic.status == "FAILED"
    assert "CallbackTimeoutError" in str(v.chaotic.error)
    assert v.by_checker(NAME) == []


def test_without_a_legitimate_change_of_outcome_it_stays_silent() -> None:
    """The same two runs, but a ledger where no fault excuses the failure: that is resumption's finding."""
    v = _check(hold_then_approve, FaultSchedule((CallbackFault(behaviour="after_timeout"),)))
    assert v.by_checker(NAME)
    assert unhandled_failure(v.reference, v.chaotic, Ledger(fired=tuple(f.describe() for f in v.fired),
                                                            fault_kinds=("callback",))) == []
    assert unhandled_failure(v.reference, v.chaotic, Ledger(outcome_may_change=True)) == []  # no fault fired


def test_the_opt_out_silences_exactly_the_named_operation() -> None:
    schedule = FaultSchedule((CallbackFault(behaviour="after_timeout"),))

    def with_allow(handler: Any, allow: Any, sched: FaultSchedule = schedule) -> Verdict:
        return check(handler, ORDER, sched, setup=setup,
                     checkers={**ALL_CHECKERS, NAME: unhandled_failure_checker(allow=allow)})

    for allow in (["approval"], ("appr*",), "approval"):
        v = with_allow(hold_then_approve, allow)
        assert v.ok, (allow, v.report())
    assert with_allow(approve_in_child, ["review/approval"]).ok
    assert with_allow(approve_in_child, ["approval"]).ok
    assert with_allow(approve_in_child, ["review"]).by_checker(NAME)  # the child is not the operation
    assert [x.op for x in with_allow(hold_then_approve, ["hold-stock", "finalize"]).by_checker(NAME)] == ["approval"]
    assert [x.op for x in with_allow(reserve_then_charge, ["approval"], CHARGE_FAILS_TWICE).by_checker(NAME)] == [
        "charge"]
    with pytest.raises(TypeError, match=r"takes operation names, paths or patterns"):
        unhandled_failure_checker(allow=["approval", 3])  # type: ignore[list-item]


def test_the_generic_strategies_find_the_half_done_hold(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``given`` with no schedule of its own draws the callback fault that exposes the trial's b12 (ci profile)."""
    monkeypatch.chdir(tmp_path)  # the saved failure and Hypothesis' database stay out of the checkout

    @chaosdurable.given(handler=hold_then_approve, input=ORDER, setup=setup)
    def test_b12(verdict: Verdict) -> None:
        pass

    with pytest.raises(AssertionError) as info:
        test_b12()
    text = str(info.value)
    assert "[unhandled_failure] wait_for_callback 'approval' failed under a fault" in text, text
    assert "done before it and never undone: step 'hold-stock'" in text


@durable_execution
def look_up_then_charge(event: dict[str, str], context: Any) -> str:
    """Correct to let it fail: the only step before the charge reads and computes, so nothing is half-done."""
    context.step(lambda _: f"price-of-{event['sku']}", name="look-up-price")
    return context.step(lambda _: _charge(event), name="charge", config=TWO_TRIES)


def test_an_outage_with_nothing_done_before_it_is_not_half_done_work() -> None:
    from chaosdurable import TransientFailure

    outage = FaultSchedule((TransientFailure(effect="charge", times=10),))
    assert check(look_up_then_charge, ORDER, outage).ok  # the failure propagates, but nothing needs undoing
    first_step_down = FaultSchedule((TransientFailure(effect="reserve", times=10),))
    v = check(reserve_then_charge, ORDER, first_step_down)
    assert v.chaotic.status == "FAILED" and not v.by_checker(NAME), v.report()  # the first step itself failed
    v = check(reserve_then_charge, ORDER, outage)  # the reservation before it stays: reported
    assert v.by_checker(NAME) and "fail 10 times in a row" in v.report(), v.report()


def test_an_outage_fault_round_trips_and_rejects_a_bad_count() -> None:
    from chaosdurable import TransientFailure
    from chaosdurable.faults.schedule import ScheduleError

    outage = FaultSchedule((TransientFailure(effect="charge", times=3),))
    assert FaultSchedule.from_json(outage.to_json()) == outage
    assert "fail 3 times in a row" in outage.faults[0].describe()
    for bad in (0, -1, True, "3"):
        with pytest.raises(ScheduleError, match="times"):
            TransientFailure(effect="charge", times=bad)  # type: ignore[arg-type]


def test_three_failures_in_a_row_outlast_a_short_retry_budget_but_not_the_sdk_default() -> None:
    from chaosdurable import TransientFailure

    outage = FaultSchedule((TransientFailure(effect="charge", times=3),))
    assert check(reserve_then_charge, ORDER, outage).chaotic.status == "FAILED"  # 2 attempts: they run out

    @durable_execution
    def default_retries(event: dict[str, str], context: Any) -> str:
        context.step(lambda _: _effect("reserve", event, "reserved"), name="reserve")
        return context.step(lambda _: _charge(event), name="charge")  # the SDK's default: 6 attempts

    assert check(default_retries, ORDER, outage, import_path=None).chaotic.status == "SUCCEEDED"


@durable_execution
def hold_then_two_approvals(event: dict[str, str], context: Any) -> dict[str, Any]:
    """BUG: two approvals by the same callback name; a failed one leaves the hold."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    approvals = [_approval(context), _approval(context)]
    return {"approvals": approvals, "status": context.step(lambda _: _hold(event["order"], "SOLD"), name="finalize")}


def test_the_fault_named_is_the_one_that_failed_the_callback() -> None:
    # the late answer lands on the first 'approval', the failure on the second: the failure failed it
    late, failure = CallbackFault(behaviour="delay", seconds=60.0), CallbackFault(behaviour="failure")
    v = _check(hold_then_two_approvals, FaultSchedule((late, failure)))
    assert len(v.fired) == 2, v.report()
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert f"fault: {failure.describe()} -> fired on callback" in text, text
    assert late.describe() + " ->" not in text


_SUBMIT_ONCE = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry_strategy=RetryPresets.none())


def _submit(event: dict[str, str]) -> str:
    effect("submit-refill", key=event["order"])
    return f"refill-{event['order']}"


@durable_execution
def submit_once_unreconciled(event: dict[str, str], context: Any) -> str:
    """BUG: at most once and no retry: an interrupted attempt fails the execution, the refill maybe sent."""
    context.step(lambda _: "covered", name="check-coverage")
    refill = context.step(lambda _: _submit(event), name="submit-refill", config=_SUBMIT_ONCE)
    context.wait(Duration.from_hours(4), name="fill-window")
    return refill


@durable_execution
def submit_once_reconciled(event: dict[str, str], context: Any) -> str:
    """The twin: an interrupted submission is looked up (in a step) and recorded as unknown, not lost."""
    context.step(lambda _: "covered", name="check-coverage")
    try:
        refill = context.step(lambda _: _submit(event), name="submit-refill", config=_SUBMIT_ONCE)
    except StepError:
        refill = context.step(lambda _: f"look-up-{event['order']}", name="reconcile-refill")
    context.wait(Duration.from_hours(4), name="fill-window")
    return refill


def test_an_interrupted_at_most_once_step_that_had_acted_is_reported() -> None:
    from chaosdurable import CrashAfterEffect

    crash = FaultSchedule((CrashAfterEffect(effect="submit-refill"),))
    v = check(submit_once_unreconciled, ORDER, crash)
    assert v.chaotic.status == "FAILED", v.report()
    (found,) = v.by_checker(NAME)
    assert "its own attempt had already made 'submit-refill' when it failed" in found.describe(), v.report()
    assert check(submit_once_reconciled, ORDER, crash).ok


# ------------------------------------------------------------------ a poll whose read fails (wait_for_condition)
def _shipment_setup() -> None:
    setup()
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="shipments", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="shipments", Item={"id": {"S": ORDER["order"]}, "status": {"S": "ARRIVED"}})


def _shipment_status(state: str, _ctx: Any) -> str:
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="shipments", Key={"id": {"S": ORDER["order"]}})
    return str(item["Item"]["status"]["S"])


def _arrived(state: str, _attempt: int) -> Any:
    from aws_durable_execution_sdk_python.waits import WaitForConditionDecision

    if state == "ARRIVED":
        return WaitForConditionDecision.stop_polling()
    return WaitForConditionDecision.continue_waiting(Duration.from_minutes(5))


def _await_arrival(context: Any) -> str:
    from aws_durable_execution_sdk_python.waits import WaitForConditionConfig

    return str(context.wait_for_condition(_shipment_status, name="arrival",
                                          config=WaitForConditionConfig(wait_strategy=_arrived, initial_state="NEW")))


@durable_execution
def hold_then_await_arrival(event: dict[str, str], context: Any) -> str:
    """BUG: the hold stays when the arrival poll's read fails (WaitForConditionError escapes)."""
    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    context.step(lambda _: f"price-of-{event['sku']}", name="look-up-price")
    return _await_arrival(context)


@durable_execution
def hold_then_await_arrival_or_release(event: dict[str, str], context: Any) -> str:
    """The handled twin: a failed poll releases the hold."""
    from aws_durable_execution_sdk_python.exceptions import WaitForConditionError

    context.step(lambda _: _hold(event["order"], "HELD"), name="hold-stock")
    context.step(lambda _: f"price-of-{event['sku']}", name="look-up-price")
    try:
        return _await_arrival(context)
    except WaitForConditionError:
        return context.step(lambda _: _hold(event["order"], "RELEASED"), name="release")


def test_an_unhandled_failed_poll_is_reported_with_only_the_writes_before_it() -> None:
    read_outage = FaultSchedule((TransientFailure(effect="aws:dynamodb.GetItem", times=10),))
    v = check(hold_then_await_arrival, ORDER, read_outage, setup=_shipment_setup)
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert "wait_for_condition 'arrival' failed under a fault" in text and "WaitForConditionError" in text, text
    # the step that wrote is named with its write; the one that only computed is counted, not blamed
    assert "never undone: step 'hold-stock' ('aws:dynamodb.PutItem'); 1 other completed step(s) only read" in text
    assert "its check failed by the injected failure" in text
    assert "return the state unchanged, so the next poll tries again" in text
    assert check(hold_then_await_arrival_or_release, ORDER, read_outage, setup=_shipment_setup).ok


def test_an_interrupted_submission_after_reads_only_blames_its_own_attempt() -> None:
    from chaosdurable import CrashAfterEffect

    v = check(submit_once_unreconciled, ORDER, FaultSchedule((CrashAfterEffect(effect="submit-refill"),)))
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert "no write was made before it (1 completed step(s) only read or computed)" in text, text
    assert "reconcile what its own attempt may have done" in text, text


def test_an_outage_outlasts_the_retries_in_subprocess_mode_too() -> None:
    # the retries run in later invocations, in new child processes: once the fault itself had fired the child
    # was told no fault could act on an effect any more, sent them without waiting for the nemesis' decision,
    # and the outage ended after its first failure (trial8 b03 missed in subprocess mode only)
    from chaosdurable import TransientFailure

    outage = FaultSchedule((TransientFailure(effect="charge", times=3),))
    v = check(reserve_then_charge, ORDER, outage, backend="subprocess")
    assert v.chaotic.status == "FAILED", v.report()
    assert v.by_checker(NAME), v.report()
