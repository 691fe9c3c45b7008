"""Checkers tell a chained-invoke child's operations from the parent's: ids repeat across executions."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import CrashAfterEffect, FaultSchedule, check, effect


@durable_execution
def issue_card(event: Any, context: DurableContext) -> str:
    return context.step(lambda _: "card-1", name="issue")


@durable_execution
def refund(event: Any, context: DurableContext) -> str:
    context.step(lambda _: "checked", name="check")  # same operation id as the child's first step
    return context.invoke("issue-card", {}, name="call-issue")


@durable_execution
def charging_child(event: Any, context: DurableContext) -> str:
    def charge(_: Any) -> str:
        effect("charge", key="o-1")
        return "charged"

    return context.step(charge, name="charge")


@durable_execution
def pays_through_a_child(event: Any, context: DurableContext) -> str:
    context.step(lambda _: "validated", name="validate")
    return context.invoke("charger", {}, name="call-charger")


def test_a_durable_target_with_a_step_is_not_a_double_commit() -> None:
    verdict = check(refund, {}, targets={"issue-card": issue_card})
    assert verdict.ok, verdict.report()
    assert verdict.chaotic.result == "card-1"


def test_a_double_charge_inside_a_child_execution_is_still_caught() -> None:
    schedule = FaultSchedule((CrashAfterEffect(effect="charge"),))
    verdict = check(pays_through_a_child, {}, schedule, targets={"charger": charging_child})
    assert verdict.by_checker("idempotency"), verdict.report()
    assert all("validate" not in v.message for v in verdict.violations)


def issue_gift_card(event: Any, context: Any) -> dict[str, str]:
    """A plain (non-durable) invoke target with a side effect and no idempotency key."""
    effect("gift-card-issued", key=event["order"])
    return {"card": "gc-1"}


@durable_execution
def refund_by_gift_card(event: Any, context: DurableContext) -> Any:
    """BUG: when the invoke fails, it is blindly retried; a target that crashed after issuing issues again."""
    from aws_durable_execution_sdk_python.exceptions import InvokeError

    try:
        return context.invoke("issue-gift-card", {"order": event["order"]}, name="issue")
    except InvokeError:
        return context.invoke("issue-gift-card", {"order": event["order"]}, name="issue-retry")


@durable_execution
def refund_by_gift_card_once(event: Any, context: DurableContext) -> Any:
    """Correct: a failed issue is flagged for a human, never repeated blindly."""
    from aws_durable_execution_sdk_python.exceptions import InvokeError

    try:
        return context.invoke("issue-gift-card", {"order": event["order"]}, name="issue")
    except InvokeError:
        return context.step(lambda _: "flagged", name="flag-for-review")


def test_a_crash_inside_a_plain_target_fails_the_invoke_and_does_not_crash_the_tool() -> None:
    schedule = FaultSchedule((CrashAfterEffect(effect="gift-card-issued"),))
    verdict = check(refund_by_gift_card_once, {"order": "o-9"}, schedule,
                    targets={"issue-gift-card": issue_gift_card})
    assert verdict.fired and verdict.ok, verdict.report()
    assert verdict.chaotic.result == "flagged"
    assert "invoke 'issue' failed (its target crashed)" in verdict.report()


def test_a_blind_retry_of_a_crashed_plain_target_is_a_double_effect() -> None:
    from chaosdurable import TransientFailure

    for fault in (CrashAfterEffect(effect="gift-card-issued"), TransientFailure(effect="gift-card-issued")):
        verdict = check(refund_by_gift_card, {"order": "o-9"}, FaultSchedule((fault,)),
                        targets={"issue-gift-card": issue_gift_card})
        assert verdict.fired, verdict.report()
        if fault.kind == "crash_after_effect":
            assert verdict.by_checker("idempotency"), verdict.report()
        else:  # the failed attempt never issued: the retry is the only issue, nothing is doubled
            assert verdict.ok, verdict.report()


def test_a_child_execution_keeps_its_arn_when_a_fault_adds_invocations_before_it() -> None:
    from chaosdurable import CrashAtCheckpoint

    schedule = FaultSchedule((CrashAtCheckpoint(op="check", action="SUCCEED", phase="after_persist"),))
    verdict = check(refund, {}, schedule, targets={"issue-card": issue_card})
    assert verdict.ok and len(verdict.chaotic.invocations) > len(verdict.reference.invocations), verdict.report()

    def child_arns(history: list[dict[str, Any]]) -> list[str]:
        return [e["ChainedInvokeStartedDetails"]["DurableExecutionArn"] for e in history
                if e["EventType"] == "ChainedInvokeStarted"]

    assert child_arns(verdict.reference.history) == child_arns(verdict.chaotic.history) != []
