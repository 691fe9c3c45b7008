"""Subprocess mode with a moto world, the ledger and the tripwire in the child processes.

Each test runs a buggy handler (which must be caught) and its correct twin (which must pass),
so a child that cannot reach the world, record its AWS calls or trip the tripwire fails here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution

from chaosdurable import CrashAfterEffect, FaultSchedule, check
from chaosdurable.history.ledger import RealAwsRefused

CRASH_AFTER_UPDATE = FaultSchedule((CrashAfterEffect(effect="aws:dynamodb.UpdateItem", op="award"),))


def accounts() -> None:
    """One customer with 100 points."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="accounts", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="accounts", Item={"pk": {"S": "cust-7"}, "points": {"N": "100"}})


@durable_execution
def award_twice(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: ``ADD points`` in an at-least-once step; a crash after the write adds them again."""
    def award(_: StepContext) -> int:
        boto3.client("dynamodb", region_name="us-east-1").update_item(
            TableName="accounts", Key={"pk": {"S": event["customer"]}}, UpdateExpression="ADD points :p",
            ExpressionAttributeValues={":p": {"N": "50"}})
        return 50

    context.step(award, name="award")
    return context.step(lambda _: "sent", name="notify")


@durable_execution
def award_once(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: the write is conditional on the order not having been applied (a repeat is refused)."""
    def award(_: StepContext) -> str:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        try:
            ddb.update_item(TableName="accounts", Key={"pk": {"S": event["customer"]}},
                            UpdateExpression="ADD points :p, applied :o",
                            ConditionExpression="attribute_not_exists(applied) OR NOT contains(applied, :order)",
                            ExpressionAttributeValues={":p": {"N": "50"}, ":o": {"SS": [event["order"]]},
                                                       ":order": {"S": event["order"]}})
        except ddb.exceptions.ConditionalCheckFailedException:
            return "already applied"
        return "applied"

    context.step(award, name="award")
    return context.step(lambda _: "sent", name="notify")


INPUT = {"customer": "cust-7", "order": "o-1"}


def test_a_double_write_in_a_child_is_caught_in_the_world() -> None:
    verdict = check(award_twice, INPUT, CRASH_AFTER_UPDATE, setup=accounts, mode="subprocess")
    assert verdict.reference.status == "SUCCEEDED", verdict.report()
    assert verdict.reference.world is not None
    assert any('"N": "150"' in item for item in verdict.reference.world["dynamodb:accounts"])
    found = verdict.by_checker("idempotency")
    assert found, verdict.report()
    assert any('"N": "200"' in line for v in found for line in v.message.splitlines()) or \
        any('"N": "200"' in item for item in verdict.chaotic.world["dynamodb:accounts"])  # type: ignore[index]


def test_the_idempotent_twin_passes_and_its_refused_repeat_is_recorded() -> None:
    verdict = check(award_once, INPUT, CRASH_AFTER_UPDATE, setup=accounts, mode="subprocess")
    assert verdict.ok, verdict.report()
    assert verdict.fired, "the crash after the write never happened"
    updates = [e for e in verdict.chaotic.effects if e.name == "aws:dynamodb.UpdateItem"]
    # the first write, then the repeat after the crash, which DynamoDB refused: both are in the ledger
    assert len(updates) == 2
    assert verdict.chaotic.result == "sent"


def test_children_ignore_an_endpoint_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # a documentation address (TEST-NET-3): if a child used it, the call would fail, not reach moto
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://203.0.113.9:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://203.0.113.9:1")
    verdict = check(award_twice, INPUT, CRASH_AFTER_UPDATE, setup=accounts, mode="subprocess")
    assert verdict.reference.status == "SUCCEEDED", verdict.report()
    assert verdict.by_checker("idempotency")


def test_an_aws_call_from_a_child_without_a_world_is_refused() -> None:
    with pytest.raises(RealAwsRefused, match=r"dynamodb\.UpdateItem"):
        check(award_twice, INPUT, mode="subprocess")


@durable_execution
def stamp_outside_step(event: Any, context: DurableContext) -> float:
    """BUG: reads the clock outside a step (every replay reads another value)."""
    started = time.time()
    context.step(lambda _: 1, name="one")
    return started


@durable_execution
def stamp_in_step(event: Any, context: DurableContext) -> float:
    """Correct: the clock is read inside a step, so replays see the checkpointed value."""
    context.step(lambda _: 1, name="one")
    return context.step(lambda _: time.time(), name="stamp")


def test_the_tripwire_runs_in_children_and_reports_to_the_parent() -> None:
    verdict = check(stamp_outside_step, None, mode="subprocess")
    hits = verdict.by_checker("tripwire")
    assert hits, verdict.report()
    assert any("time.time()" in v.message for v in hits)
    line = 1 + Path(__file__).read_text().splitlines().index("    started = time.time()")
    assert any((v.source or "").endswith(f"test_subprocess_world.py:{line}") for v in hits), [v.source for v in hits]
    assert check(stamp_in_step, None, mode="subprocess").ok


def test_given_with_the_subprocess_backend_and_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hypothesis import strategies as st

    import chaosdurable
    from chaosdurable.pytest_plugin import _State

    monkeypatch.setattr(_State, "backend", "subprocess")
    monkeypatch.setattr(_State, "profile", "dev")
    monkeypatch.chdir(tmp_path)  # a failing property saves its verdict under the working directory

    @chaosdurable.given(handler=award_twice, input=INPUT, faults=st.just(CRASH_AFTER_UPDATE), setup=accounts)
    def buggy_property(verdict: Any) -> None:
        assert verdict.reference.world is not None

    @chaosdurable.given(handler=award_once, input=INPUT, faults=st.just(CRASH_AFTER_UPDATE), setup=accounts)
    def correct_property(verdict: Any) -> None:
        assert verdict.chaotic.status == "SUCCEEDED"
        assert verdict.chaotic.world is not None

    with pytest.raises(AssertionError, match="idempotency"):
        buggy_property()
    correct_property()
