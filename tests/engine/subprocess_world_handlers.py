"""Handlers for ``test_subprocess_effects``: each bug next to its correct twin.

Kept in their own importable module, so subprocess children import exactly these functions
(and the tests can name their source lines).
"""

from __future__ import annotations

import random
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution


def counters() -> None:
    """``setup=``: an empty ``counters`` table."""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="counters", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _bump(ddb: Any, key: str) -> None:
    ddb.update_item(TableName="counters", Key={"pk": {"S": key}}, UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})


@durable_execution
def count_visit_twice(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: increments a counter in an at-least-once step; a crash before its checkpoint counts twice."""
    context.step(lambda _: _bump(boto3.client("dynamodb", region_name="us-east-1"), event["page"]), name="count")
    return context.step(lambda _: "done", name="finish")


@durable_execution
def count_visit_once(event: dict[str, Any], context: DurableContext) -> str:
    """Correct: a conditional put keyed by the visit id; a repeat is refused by DynamoDB."""
    def count(_: StepContext) -> str:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        try:
            ddb.put_item(TableName="counters", Item={"pk": {"S": event["visit"]}, "page": {"S": event["page"]}},
                         ConditionExpression="attribute_not_exists(pk)")
        except ddb.exceptions.ConditionalCheckFailedException:
            return "already counted"
        return "counted"

    context.step(count, name="count")
    return context.step(lambda _: "done", name="finish")


@durable_execution
def bump_outside_step(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: the write is outside any step, so every replay repeats it."""
    boto3.client("dynamodb", region_name="us-east-1").update_item(  # OUTSIDE-STEP WRITE
        TableName="counters", Key={"pk": {"S": event["page"]}}, UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}})
    return context.step(lambda _: "done", name="finish")


@durable_execution
def bump_in_step(event: dict[str, Any], context: DurableContext) -> str:
    """Correct twin of ``bump_outside_step``: the write is a step."""
    context.step(lambda _: _bump(boto3.client("dynamodb", region_name="us-east-1"), event["page"]), name="bump")
    return context.step(lambda _: "done", name="finish")


@durable_execution
def coin_outside_step(event: Any, context: DurableContext) -> str:
    """BUG: control flow on ``random.random()`` outside a step (a replay may take the other branch)."""
    if random.random() < 0.5:  # RANDOM OUTSIDE STEP
        return context.step(lambda _: "heads", name="heads")
    return context.step(lambda _: "tails", name="tails")


@durable_execution
def coin_in_step(event: Any, context: DurableContext) -> float:
    """Correct twin: the draw is a step, so every replay reads the checkpointed value.

    (It returns the draw rather than branching on it: two *executions* draw different values, and
    only a fresh value that flows into results, not one that picks the operations, compares equal
    between the fault-free and the chaotic run; see ``checks.fresh``.)
    """
    context.step(lambda _: "tossing", name="start")
    return context.step(lambda _: random.random(), name="toss")
