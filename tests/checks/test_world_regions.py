"""The world is read in every region the handler used, not only the default one (trial6 b01: a double ADD on a
table in eu-west-1 left the world 'empty' and passed)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_durable_execution_sdk_python import durable_execution

from chaosdurable import CrashAfterEffect, check

REGION = "eu-west-1"


def setup() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="members", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("sqs", region_name=REGION).create_queue(QueueName="notices")


def _count_hold(member: str, conditional: bool) -> str:
    ddb = boto3.client("dynamodb", region_name=REGION)
    if conditional:
        ddb.put_item(TableName="members", Item={"id": {"S": member}, "holds": {"N": "1"}})
    else:
        ddb.update_item(TableName="members", Key={"id": {"S": member}}, UpdateExpression="ADD holds :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    return "held"


@durable_execution
def counts_twice(event: dict[str, str], context: Any) -> str:
    """BUG: an unconditional ADD in an at-least-once step, on a table in eu-west-1."""
    return str(context.step(lambda _: _count_hold(event["member"], conditional=False), name="hold"))


@durable_execution
def counts_once(event: dict[str, str], context: Any) -> str:
    """The twin: a blind put of the same item, safe to repeat."""
    return str(context.step(lambda _: _count_hold(event["member"], conditional=True), name="hold"))


def test_a_double_add_in_another_region_is_caught_and_named_with_its_region() -> None:
    v = check(counts_twice, {"member": "m-1"}, [CrashAfterEffect(effect="aws:dynamodb.UpdateItem")], setup=setup)
    (found,) = v.by_checker("idempotency")
    assert "dynamodb:members@eu-west-1" in found.describe(), found.describe()
    assert "sqs:notices@eu-west-1" not in str(v.reference.world)  # an empty queue is left out, as in us-east-1


def test_the_blind_put_twin_passes() -> None:
    v = check(counts_once, {"member": "m-1"}, [CrashAfterEffect(effect="aws:dynamodb.PutItem")], setup=setup)
    assert v.ok, v.report()
