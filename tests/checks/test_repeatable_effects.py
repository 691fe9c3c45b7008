"""``idempotency_checker(repeatable=...)``: effects declared safe to repeat are not counted, and a world
difference only they explain is not reported; everything else still is (trial5 c01-c03)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python import durable_execution

from chaosdurable import CrashAfterEffect, check
from chaosdurable.checks import ALL_CHECKERS
from chaosdurable.checks.idempotency import NAME, idempotency_checker

EVENT = {"device": "d-9"}


def setup() -> None:
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="commands")
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="counters", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _announce(device: str) -> str:
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="commands")["QueueUrl"], MessageBody=f"reboot {device}")
    return "announced"


def _count(device: str) -> str:
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName="counters", Key={"id": {"S": device}}, UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}})
    return "counted"


@durable_execution
def announce(event: dict[str, str], context: Any) -> str:
    """A command on a standard queue whose consumer dedupes (by design, in this story)."""
    return str(context.step(lambda _: _announce(event["device"]), name="announce"))


@durable_execution
def announce_then_count(event: dict[str, str], context: Any) -> str:
    """The announcement, then a counter ADD in a retried step: the ADD is a real double count."""
    context.step(lambda _: _announce(event["device"]), name="announce")
    return str(context.step(lambda _: _count(event["device"]), name="count"))


CRASH_AFTER_SEND = [CrashAfterEffect(effect="aws:sqs.SendMessage")]
LENIENT = {**ALL_CHECKERS, NAME: idempotency_checker(repeatable=["aws:sqs.SendMessage"])}


def test_a_repeated_send_is_reported_with_the_fifo_advice_and_the_opt_out() -> None:
    v = check(announce, EVENT, CRASH_AFTER_SEND, setup=setup)
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert "aws:sqs.SendMessage ran more often under faults" in text, text
    assert "FIFO queue with a MessageDeduplicationId" in text
    assert "check(..., checkers=allowing_repeats('aws:sqs.SendMessage'))" in text


def test_declared_repeatable_it_passes() -> None:
    from chaosdurable.checks import allowing_repeats

    assert check(announce, EVENT, CRASH_AFTER_SEND, setup=setup, checkers=LENIENT).ok
    assert check(announce, EVENT, CRASH_AFTER_SEND, setup=setup, checkers=allowing_repeats("aws:sqs.*")).ok


def test_a_write_not_declared_is_still_caught() -> None:
    v = check(announce_then_count, EVENT, [CrashAfterEffect(effect="aws:dynamodb.UpdateItem")], setup=setup,
              checkers=LENIENT)
    (found,) = v.by_checker(NAME)
    assert "aws:dynamodb.UpdateItem ran more often" in found.describe()


def test_bad_patterns_are_refused_with_the_spelling() -> None:
    with pytest.raises(TypeError, match="effect names or patterns"):
        idempotency_checker(repeatable=[""])


@durable_execution
def registers_then_announces_with_attempt(event: dict[str, Any], context: Any) -> str:
    """A conditional put (harmless to repeat) and a message that carries its attempt number."""
    import contextlib

    from botocore.exceptions import ClientError

    def register(_: Any) -> str:
        with contextlib.suppress(ClientError):  # already registered: a repeat changes nothing
            boto3.client("dynamodb", region_name="us-east-1").put_item(
                TableName="counters", Item={"id": {"S": event["device"]}},
                ConditionExpression="attribute_not_exists(id)")
        return "registered"

    def announce(sc: Any) -> str:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.get_queue_url(QueueName="commands")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=f"{event['device']} attempt {sc.attempt}")
        return "announced"

    context.step(register, name="register")
    return str(context.step(announce, name="announce"))


def test_the_headline_blames_calls_to_the_service_where_the_world_differs() -> None:
    # trial8 c07: a conditional PutItem a crash repeated harmlessly was named for SQS messages that differed
    from chaosdurable import TransientFailure

    schedule = [CrashAfterEffect(effect="aws:dynamodb.PutItem"), TransientFailure(effect="aws:sqs.SendMessage")]
    v = check(registers_then_announces_with_attempt, EVENT, schedule, setup=setup)
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert "PutItem ran more often under faults:" not in found.message, text
    assert found.message.endswith(
        "aws:sqs.SendMessage ran as often as without faults, but with different parameters"), text
    assert "aws:dynamodb.PutItem ran more often under faults too, but on other services than where the world differs" \
        in text, text
