"""What the bundled scenarios share: cached boto3 clients, moto provisioning helpers, and the
readers their invariants use on a run (``RunRecord.world`` and ``RunRecord.effects``).

Contract: everything here is plain boto3 against whatever endpoint is active (moto under
``check``); the readers only read a finished ``RunRecord``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

import boto3

REGION = "us-east-1"


@functools.cache
def client(service: str) -> Any:
    """A boto3 client in the scenarios' region (cached: moto intercepts every client while active)."""
    return boto3.client(service, region_name=REGION)


def queue_url(name: str) -> str:
    """The URL of a queue (a read: never recorded as an effect)."""
    return str(client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def make_table(name: str, *items: dict[str, Any]) -> None:
    """A DynamoDB table keyed by the string ``pk``, with ``items`` in it."""
    ddb = client("dynamodb")
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for item in items:
        ddb.put_item(TableName=name, Item=item)


def make_fifo_queue(name: str) -> None:
    """A FIFO SQS queue (``name`` ends in ``.fifo``) that drops a repeated deduplication id."""
    client("sqs").create_queue(QueueName=name, Attributes={"FifoQueue": "true"})


def put_once(table: str, item: dict[str, Any]) -> bool:
    """Put ``item`` unless its key exists; True when this call wrote it."""
    try:
        client("dynamodb").put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True


# ----------------------------------------------------------------------------- readers for invariants
def items(run: Any, table: str) -> list[dict[str, Any]]:
    """The DynamoDB items of ``table`` after ``run`` as plain dicts (``{"S": "x"}`` -> ``"x"``, N -> int)."""
    out = []
    for text in (run.world or {}).get(f"dynamodb:{table}", []):
        raw = json.loads(text)
        plain: dict[str, Any] = {}
        for key, typed in raw.items():
            (kind, value), = typed.items()
            plain[key] = int(value) if kind == "N" else value
        out.append(plain)
    return out


def item(run: Any, table: str, pk: str) -> dict[str, Any] | None:
    """The item of ``table`` whose ``pk`` is ``pk`` after ``run``, or None."""
    return next((i for i in items(run, table) if i.get("pk") == pk), None)


def messages(run: Any, queue: str) -> list[str]:
    """The bodies of the messages sitting in SQS ``queue`` after ``run``."""
    return list((run.world or {}).get(f"sqs:{queue}", []))


def http_requests(run: Any, pattern: str) -> int:
    """How many distinct requests the server behind ``pattern`` (an effect name such as
    ``"http:POST pay.example.com/charges"``) acted on: repeats with the same Idempotency-Key count once."""
    keys: Counter[str] = Counter()
    unkeyed = 0
    for e in run.effects:
        if e.name == pattern:
            key = e.detail.get("idempotency_key")
            if key is None:
                unkeyed += 1
            else:
                keys[key] += 1
    return unkeyed + len(keys)


#: error types with which the platform, not the handler, ends an execution (an injected 4xx checkpoint answer)
PLATFORM_ERRORS = ("CheckpointError", "InvocationError", "Sandbox.", "Runtime.")


def ended_by_platform(run: Any) -> bool:
    """True when the run did not end by the handler's own doing: the checkpoint API failed the execution
    (a non-retryable 4xx), or it never finished. Business state may then be legitimately half-done: an
    invariant still demands that nothing happened twice, but not that the workflow got to its end."""
    if run.status == "SUCCEEDED":
        return False
    if run.status != "FAILED" or getattr(run, "stuck", None):
        return True
    error_type = str((run.error or {}).get("ErrorType", ""))
    return any(marker in error_type for marker in PLATFORM_ERRORS)
