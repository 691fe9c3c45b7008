"""Two concurrent copies of a step each mint their own timestamp; the world keeps the other copy's. An item that
differs from the fault-free run only where a step mints a fresh value is no repeated effect (trial7 c01), while
a second item created under another fresh id still is."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import boto3
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import DuplicateInvocation, check
from chaosdurable.checks.idempotency import _without_fresh_only


def setup() -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="loans", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _put(key: str, due: str) -> dict[str, str]:
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName="loans", Item={"id": {"S": key}, "due": {"S": due}})
    return {"id": key, "due": due}


@durable_execution
def loan_with_due_date(event: dict[str, str], context: Any) -> str:
    """Correct: the loan is keyed by the input; the due date is minted in the step that writes it."""
    loan = context.step(lambda _: _put(event["loan"], (datetime.now() + timedelta(days=14)).isoformat()),
                        name="checkout")
    context.wait(Duration.from_days(14), name="loan-period")
    return str(loan["due"])[:10]


@durable_execution
def loan_with_minted_id(event: dict[str, str], context: Any) -> str:
    """BUG: the loan id is minted in the step that creates it: a duplicate copy creates a second loan."""
    loan = context.step(lambda _: _put(str(uuid.uuid4()), "2027-01-01"), name="checkout")
    return str(loan["due"])


DUPLICATE = [DuplicateInvocation(invocation=1, concurrent=True)]


def test_the_other_copys_timestamp_is_no_repeated_effect() -> None:
    for _ in range(3):  # which copy's write lands last is up to the threads
        v = check(loan_with_due_date, {"loan": "ln-1"}, DUPLICATE, setup=setup)
        assert v.ok, v.report()


def test_a_second_item_under_another_minted_id_is_still_caught() -> None:
    v = check(loan_with_minted_id, {"loan": "ln-1"}, DUPLICATE, setup=setup)
    assert v.by_checker("idempotency"), v.report()


def test_only_pairs_that_differ_in_fresh_values_are_dropped() -> None:
    gone = 'dynamodb:loans: - {"due": {"S": "<fresh checkout[\'due\']>"}, "id": {"S": "ln-1"}}'
    other_due = 'dynamodb:loans: + {"due": {"S": "2027-01-02T10:00"}, "id": {"S": "ln-1"}}'
    other_loan = 'dynamodb:loans: + {"due": {"S": "2027-01-02T10:00"}, "id": {"S": "ln-2"}}'
    assert _without_fresh_only([other_due, gone]) == []
    assert _without_fresh_only([other_loan, gone]) == [other_loan, gone]


def test_an_item_that_went_back_to_an_earlier_state_is_said_so() -> None:
    """trial6 b09 / trial7 c02 in subprocess: a late duplicate copy's owner-only put overwrote the CONFIRMED item."""
    from chaosdurable.checks.idempotency import _went_back

    confirmed = 'dynamodb:cars: - {"pk": {"S": "c1"}, "slot": {"S": "NR-7"}, "status": {"S": "CONFIRMED"}}'
    reserved = 'dynamodb:cars: + {"pk": {"S": "c1"}, "status": {"S": "RESERVED"}}'
    (line,) = _went_back([reserved, confirmed])
    assert "an item went back to an earlier state: it lacks 'slot'" in line and "conditional" in line
    extra = 'dynamodb:cars: + {"pk": {"S": "c2"}, "slot": {"S": "NR-8"}, "status": {"S": "CONFIRMED"}, "x": {"N": "1"}}'
    assert _went_back([extra, confirmed]) == ()  # more attributes, not fewer: not a regression
