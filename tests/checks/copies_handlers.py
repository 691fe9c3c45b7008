"""Handlers for ``test_fresh_copies``: an id minted in a step and written by a later step (trial
handler c03), and its buggy twin that mints the id outside any step. Module-level, so that
subprocess mode can import them."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from botocore.exceptions import ClientError


def orders_world() -> None:
    """One DynamoDB table keyed by order id."""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _store(oid: str, customer: str) -> str:
    try:
        boto3.client("dynamodb", region_name="us-east-1").put_item(
            TableName="orders", Item={"pk": {"S": oid}, "cust": {"S": customer}},
            ConditionExpression="attribute_not_exists(pk)")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return oid


@durable_execution
def ids_in_steps(event: dict[str, Any], context: DurableContext) -> dict[str, str]:
    """Correct (trial c03): the id is minted in a step; the conditional write keyed by it is a step of its own."""
    oid = context.step(lambda _: f"ord-{uuid.uuid4()}", name="mint-id")
    context.step(lambda _: _store(oid, event["customer"]), name="store-order")
    return {"order": oid}


@durable_execution
def id_outside_steps(event: dict[str, Any], context: DurableContext) -> dict[str, str]:
    """BUG: the id is minted outside any step, so every replay mints another one and writes it."""
    oid = f"ord-{uuid.uuid4()}"
    context.step(lambda _: _store(oid, event["customer"]), name="store-order")
    return {"order": oid}
