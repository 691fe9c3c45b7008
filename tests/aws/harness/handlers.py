"""Deployed handlers for the loopback tests: plain ``@durable_execution``, no chaosdurable import.

They write their side effects to DynamoDB (moto server, through ``AWS_ENDPOINT_URL_DYNAMODB``):
in the buggy handler every run of the ``charge`` step body adds one to the order's counter in
``charges`` (a repeat is a second charge); in the correct one it writes the order's item with a
conditional put (a repeat changes nothing).
"""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution

TABLE = "charges"


def setup() -> None:
    """The world the handlers expect: the ``charges`` table (wherever boto3 points: moto, or a deployment)."""
    boto3.client("dynamodb").create_table(
        TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _charge(order: str, idempotent: bool) -> None:
    client = boto3.client("dynamodb")
    if not idempotent:
        client.update_item(TableName=TABLE, Key={"id": {"S": order}}, UpdateExpression="ADD charged :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
        return
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=TABLE, Item={"id": {"S": order}, "charged": {"N": "1"}},
                        ConditionExpression="attribute_not_exists(id)")


def _flow(event: dict[str, Any], context: DurableContext, idempotent: bool) -> dict[str, Any]:
    order = str(event.get("order", "o1"))
    reserved = context.step(lambda _: f"reserved-{order}", name="reserve")

    def charge(_: Any) -> str:
        _charge(order, idempotent)
        return "charged"

    charged = context.step(charge, name="charge")
    approval = context.wait_for_callback(lambda callback_id, _ctx: None, name="approval")
    return {"reserved": reserved, "charged": charged, "approval": approval}


@durable_execution
def buggy(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Adds to the order's charge counter: a re-run of the step body charges twice."""
    return _flow(event, context, idempotent=False)


@durable_execution
def correct(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Charges with a conditional put keyed by the order: a re-run changes nothing."""
    return _flow(event, context, idempotent=True)


@durable_execution
def renamed(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The buggy handler after a careless refactor: its first step has another name (breaks replay)."""
    order = str(event.get("order", "o1"))
    reserved = context.step(lambda _: f"reserved-{order}", name="reserve-v2")
    return {"reserved": reserved}


@durable_execution
def webhooks(event: dict[str, Any], context: DurableContext) -> list[str]:
    """One callback per webhook delivery until ``expected`` events were processed; with ``dedupe`` a
    redelivered event (the same id) is skipped, without it it is processed again."""
    import json

    processed: list[str] = []
    while len(set(processed) if event.get("dedupe") else processed) < event["expected"]:
        payment = json.loads(context.wait_for_callback(lambda _id, _ctx: None, name="webhook"))
        if event.get("dedupe") and payment["id"] in processed:
            continue
        processed.append(context.step(lambda _, p=payment: p["id"], name=f"process {payment['id']}"))
    return processed
