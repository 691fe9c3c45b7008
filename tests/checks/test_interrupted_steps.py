"""A step failure that is the SDK's contract (an interrupted at-most-once attempt with no retries left,
an injected dependency failure that outlasts the retries) excuses a different, handled outcome."""

from __future__ import annotations

from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig, StepSemantics
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from chaosdurable import CrashAfterEffect, CrashAtCheckpoint, FaultSchedule, TransientFailure, check, effect
from chaosdurable.faults.schedule import Fault

ONCE_NO_RETRY = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                           retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))
ONCE_DEFAULT_RETRIES = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)


def _charge(event: dict[str, Any]) -> Any:
    def charge(_: Any) -> str:
        effect("card-charge", key=event["invoice"])
        return "charged"

    return charge


@durable_execution
def charge_or_reconcile(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The recipe for a call with no idempotency key: at most once, no retries, a handled interruption."""
    try:
        status = context.step(_charge(event), name="charge-card", config=ONCE_NO_RETRY)
    except StepError:
        status = context.step(lambda _: "needs-reconciliation", name="flag-reconciliation")
    context.step(lambda _: "sent", name="send-receipt")
    return {"invoice": event["invoice"], "status": status}


@durable_execution
def charge_with_retries(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: at most once per *retry*, with the default retries: an interrupted attempt charges again."""
    return context.step(_charge(event), name="charge-card", config=ONCE_DEFAULT_RETRIES)


FAULTS: list[Fault] = [
    CrashAfterEffect(effect="card-charge"),
    TransientFailure(effect="card-charge"),
    CrashAtCheckpoint(op="charge-card", action="START", phase="after_persist"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind)
def test_a_handled_interruption_is_not_a_violation(fault: Fault) -> None:
    verdict = check(charge_or_reconcile, {"invoice": "inv-1"}, FaultSchedule((fault,)))
    assert verdict.ok, verdict.report()
    assert verdict.chaotic.result == {"invoice": "inv-1", "status": "needs-reconciliation"}
    assert "step 'charge-card' failed" in verdict.report()  # the report says why the outcome changed


def test_an_interrupted_at_most_once_step_that_retries_still_double_charges() -> None:
    verdict = check(charge_with_retries, {"invoice": "inv-1"}, FaultSchedule((CrashAfterEffect(effect="card-charge"),)))
    assert verdict.by_checker("idempotency"), verdict.report()


def seats_table() -> None:
    """One DynamoDB table of seats."""
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="seats", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


@durable_execution
def reserve_or_waitlist(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: a no-retry AWS write whose failure is handled by waitlisting."""
    import boto3

    def reserve(_: Any) -> str:
        boto3.client("dynamodb", region_name="us-east-1").put_item(TableName="seats", Item={"pk": {"S": "12A"}})
        return "reserved"

    try:
        return context.step(reserve, name="reserve", config=ONCE_NO_RETRY)
    except StepError:
        return context.step(lambda _: "waitlisted", name="waitlist")


def test_an_injected_aws_failure_that_is_handled_is_not_a_violation() -> None:
    verdict = check(reserve_or_waitlist, {}, FaultSchedule((TransientFailure(effect="aws:dynamodb.PutItem"),)),
                    setup=seats_table)
    assert verdict.fired and verdict.ok, verdict.report()
    assert verdict.chaotic.result == "waitlisted"


def shelves_table() -> None:
    """One DynamoDB table of shelf counts."""
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="counts", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


@durable_execution
def count_three_shelves(event: list[str], context: DurableContext) -> bool:
    """Correct: count shelves until three are counted; which three is up to timing (and faults)."""
    import boto3
    from aws_durable_execution_sdk_python.config import CompletionConfig, MapConfig

    def count(ctx: DurableContext, shelf: str, index: int, _: Any) -> None:
        def put(_: Any) -> None:
            boto3.client("dynamodb", region_name="us-east-1").put_item(
                TableName="counts", Item={"pk": {"S": shelf}, "n": {"N": "1"}})

        ctx.step(put, name=f"count-{shelf}")

    result = context.map(event, count, name="count-shelves",
                         config=MapConfig(max_concurrency=2, completion_config=CompletionConfig(min_successful=3)))
    return result.success_count >= 3


def test_an_early_completing_map_may_finish_other_items_under_faults() -> None:
    fault = TransientFailure(effect="aws:dynamodb.PutItem", op="count-s1")
    verdict = check(count_three_shelves, ["s1", "s2", "s3", "s4"], FaultSchedule((fault,)), setup=shelves_table)
    assert verdict.fired and verdict.ok, verdict.report()
    assert "completed early with other items done" in verdict.report()
