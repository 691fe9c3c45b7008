"""A failed read taken as "missing" (trial b12), and a control-flow bug after an equal read."""

from __future__ import annotations

from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution


def profiles_world() -> None:
    """One profile, on the enterprise plan."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="profiles", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="profiles", Item={"pk": {"S": "user-7"}, "plan": {"S": "enterprise"},
                                             "seats": {"N": "250"}})


def _load(user: str) -> dict[str, Any] | None:
    try:
        item = boto3.client("dynamodb", region_name="us-east-1").get_item(
            TableName="profiles", Key={"pk": {"S": user}}).get("Item")
    except Exception:  # BUG: throttling / 5xx treated as 'missing'
        item = None
    return None if item is None else {"plan": item["plan"]["S"], "seats": int(item["seats"]["N"])}


@durable_execution
def read_failure_overwrite(event: Any, context: DurableContext) -> dict[str, Any]:
    """BUG (trial b12): a failed GetItem is taken as 'no profile yet', and a default profile then
    overwrites the real one."""
    user = event["user"]
    profile = context.step(lambda _: _load(user), name="load-profile")
    if profile is None:
        def create_default(_: Any) -> dict[str, Any]:
            boto3.client("dynamodb", region_name="us-east-1").put_item(
                TableName="profiles", Item={"pk": {"S": user}, "plan": {"S": "free"}, "seats": {"N": "1"}})
            return {"plan": "free", "seats": 1}
        profile = context.step(create_default, name="create-default-profile")
    context.step(lambda _: f"synced:{profile['plan']}", name="sync-crm")
    return {"user": user, "plan": profile["plan"]}


_REPLAYS = {"n": 0}


@durable_execution
def branches_on_replays(event: Any, context: DurableContext) -> dict[str, Any]:
    """BUG: after the same read, the path depends on how often this process entered the handler."""
    _REPLAYS["n"] += 1
    profile = context.step(lambda _: _load(event["user"]), name="load-profile")
    name = "sync-crm" if _REPLAYS["n"] % 2 else "sync-crm-again"
    context.step(lambda _: "synced", name=name)
    return {"user": event["user"], "plan": (profile or {}).get("plan")}
