"""moto answers one request at a time under chaosdurable, as AWS applies each request atomically: two
concurrent duplicate invocations cannot both pass one conditional write (trial3 c01, a false alarm)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chaosdurable.history import world as world_module
from chaosdurable.history.world import World


def _table() -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def test_every_request_is_answered_under_the_world_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    held: list[bool] = []
    original = DynamoDBBackend.put_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        held.append(world_module._REQUEST_LOCK._is_owned())  # type: ignore[attr-defined]
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)
    with World(_table):
        _table()
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.put_item(TableName="t", Item={"id": {"S": "a"}}, ConditionExpression="attribute_not_exists(id)")
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(TableName="t", Item={"id": {"S": "a"}}, ConditionExpression="attribute_not_exists(id)")
        code, _, _ = world_module.serve_aws_request("GET", "https://dynamodb.us-east-1.amazonaws.com/", {}, b"")
    assert held == [True, True]
    assert code != 403  # a child's request is answered by the same (locked) router
