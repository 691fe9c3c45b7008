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
