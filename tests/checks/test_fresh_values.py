"""Values minted inside steps (ids, timestamps) differ between executions; they are not violations,
but a fault that mints a second one (and writes it) still is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import CrashAfterEffect, CrashAtCheckpoint, FaultSchedule, check, effect
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.history.record import RunRecord


def orders_table() -> None:
    """One DynamoDB table keyed by order id."""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _put(order_id: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName="orders", Item={"pk": {"S": order_id}, "at": {"S": datetime.now(UTC).isoformat()[:10]}})


@durable_execution
def create_order(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct: the id and the timestamp are minted in a step, then used everywhere."""
    minted = context.step(lambda _: {"id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat()}, name="mint")
    order_id = minted["id"]

    def store(_: Any) -> str:
        _put(order_id)
        effect("confirmation-mail", key=order_id)
        return order_id

    context.step(store, name=f"store-{order_id}")
    return {"order": order_id, "created": minted["at"]}


@durable_execution
def create_order_twice(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: the id is minted inside the at-least-once step that writes it: a crash after the write
    and before the checkpoint writes a second order under a second id."""
    def mint_and_store(_: Any) -> str:
        order_id = str(uuid.uuid4())
        _put(order_id)
        return order_id

    return context.step(mint_and_store, name="create")


def test_values_minted_in_steps_are_not_violations() -> None:
    for schedule in (FaultSchedule(), FaultSchedule((CrashAtCheckpoint(op="mint", action="SUCCEED",
                                                                       phase="after_persist"),))):
        verdict = check(create_order, {}, schedule, setup=orders_table)
        assert verdict.ok, verdict.report()
        assert verdict.reference.result != verdict.chaotic.result  # two executions, two ids


def test_a_second_minted_and_written_value_is_still_a_violation() -> None:
    verdict = check(create_order_twice, {}, FaultSchedule((CrashAfterEffect(effect="aws:dynamodb.PutItem"),)),
                    setup=orders_table)
    assert verdict.fired
    (violation,) = verdict.by_checker("idempotency")
    assert "PutItem ran more often under faults" in violation.message


def _run(results: dict[str, str]) -> RunRecord:
    ops = [{"Id": op_id, "Type": "STEP", "Name": op_id, "Status": "SUCCEEDED", "Result": payload}
           for op_id, payload in results.items()]
    return RunRecord(label="r", status="SUCCEEDED", result=None, result_payload=None, error=None, history=[],
                     operations=ops)


def test_fresh_values_are_named_by_step_and_path() -> None:
    first = _run({"a": '{"id": "11111111-aaaa", "n": 1}', "b": '"same-everywhere"'})
    second = _run({"a": '{"id": "22222222-bbbb", "n": 1}', "b": '"same-everywhere"'})
    fresh = FreshValues.between(first, second)
    assert fresh.paths == {("a", ("id",))}
    assert fresh.normalize(first, "put 11111111-aaaa") == fresh.normalize(second, "put 22222222-bbbb") == (
        "put <fresh a['id']>")
    assert fresh.normalize(first, "same-everywhere 22222222-bbbb") == "same-everywhere 22222222-bbbb"
    assert not FreshValues.between(first, first)


@durable_execution
def jittered_followup(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: the follow-up delay is drawn once, in a step, and the wait uses the checkpointed draw."""
    import random

    from aws_durable_execution_sdk_python.config import Duration

    delay = context.step(lambda _: random.randint(60, 1_000_000), name="draw-delay")
    context.wait(Duration.from_seconds(delay), name="delay")
    return context.step(lambda _: "sent", name="follow-up")


@durable_execution
def touch_session(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: the step writes a fresh token it does not return, under a fixed key (once per execution)."""
    def touch(_: Any) -> str:
        boto3.client("dynamodb", region_name="us-east-1").put_item(
            TableName="orders", Item={"pk": {"S": "session-1"}, "token": {"S": str(uuid.uuid4())}})
        return "touched"

    return context.step(touch, name="touch")


def test_what_two_fault_free_runs_already_disagree_on_is_not_a_finding() -> None:
    for seed in range(3):
        verdict = check(jittered_followup, {}, seed=seed)
        assert verdict.ok, verdict.report()  # the wait carries a step's draw: not compared (fresh.carried_by_steps)
    verdict = check(touch_session, {}, setup=orders_table)
    assert verdict.ok, verdict.report()
