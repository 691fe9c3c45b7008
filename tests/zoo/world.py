"""The moto world the zoo's handlers live in, provisioned per handler with only what it uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3

REGION = "us-east-1"
SENDER = "noreply@shop.example"


@functools.cache
def client(service: str) -> Any:
    """A boto3 client in the zoo's region (cached: creating one costs ~50 ms; moto intercepts
    every client's requests while its mock is active)."""
    return boto3.client(service, region_name=REGION)


def queue_url(name: str) -> str:
    """The URL of a queue (a read: never recorded as an effect)."""
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def _table(name: str, *items: dict[str, Any]) -> None:
    ddb = client("dynamodb")
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for item in items:
        ddb.put_item(TableName=name, Item=item)


def users_and_mail() -> None:
    """Signups: a users table and a verified SES sender."""
    _table("users")
    client("ses").verify_email_identity(EmailAddress=SENDER)


def audit_table() -> None:
    """Approvals: an audit table."""
    _table("audit")


def accounts() -> None:
    """Loyalty: one customer with 100 points."""
    _table("accounts", {"pk": {"S": "cust-7"}, "points": {"N": "100"}})


def inventory() -> None:
    """Reservations: an inventory table."""
    _table("inventory")


def payments() -> None:
    """Settlements: a payments table."""
    _table("payments")


def subscriptions() -> None:
    """Subscriptions: one customer on the pro plan with 50 credits."""
    _table("subscriptions", {"pk": {"S": "sub-9"}, "plan": {"S": "pro"}, "credits": {"N": "50"}})


def shipments() -> None:
    """Shipping: a standard queue and a FIFO queue."""
    client("sqs").create_queue(QueueName="shipments")
    client("sqs").create_queue(QueueName="shipments.fifo", Attributes={"FifoQueue": "true"})


SETUPS: dict[str, Callable[[], None]] = {f.__name__: f for f in (users_and_mail, audit_table, accounts, inventory,
                                                                   payments, subscriptions, shipments)}
