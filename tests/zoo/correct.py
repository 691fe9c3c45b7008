"""The fixed versions: the same business shapes as ``buggy.py``, written the durable way.

Effects live inside steps; writes are idempotent (deterministic PutItem, conditional
writes keyed by the operation); non-idempotent calls are AT_MOST_ONCE_PER_RETRY with no
retries and a handled interruption; clock and flags are read inside steps; callbacks
have timeouts and their failures are handled.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from aws_durable_execution_sdk_python import CallbackError, DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryPresets, RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision
from botocore.exceptions import ClientError

from chaosdurable import effect
from tests.zoo.world import SENDER, client, queue_url

AT_MOST_ONCE = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry_strategy=RetryPresets.none())
QUICK_RETRY = StepConfig(retry_strategy=create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1))))


def _put_once(table: str, item: dict[str, Any]) -> bool:
    """Create ``item`` unless it exists; True when this call created it."""
    try:
        client("dynamodb").put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


@durable_execution
def signup(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Signup: conditional user creation; the welcome email is sent at most once, from an
    AT_MOST_ONCE_PER_RETRY step without retries whose interruption is accepted."""
    user = event["user"]
    context.step(lambda _: _put_once("users", {"pk": {"S": user}, "state": {"S": "new"}}) or True,
                 name="create-user")

    def welcome(_: StepContext) -> str:
        client("ses").send_email(Source=SENDER, Destination={"ToAddresses": [user]},
                                 Message={"Subject": {"Data": "Welcome!"}, "Body": {"Text": {"Data": "Hi"}}})
        return "sent"

    with contextlib.suppress(StepError):  # interrupted: the mail may have gone out; never send it twice
        context.step(welcome, name="send-welcome", config=AT_MOST_ONCE)
    context.step(lambda _: "active", name="activate")
    return {"user": user, "status": "active"}


@durable_execution
def award_loyalty_points(event: dict[str, Any], context: DurableContext) -> str:
    """Loyalty points: the increment is conditional on a transaction id recorded in the same
    UpdateItem, so a repeated attempt changes nothing."""
    customer, points, txn = event["customer"], event["points"], event["txn"]

    def award(_: StepContext) -> bool:
        try:
            client("dynamodb").update_item(
                TableName="accounts", Key={"pk": {"S": customer}},
                UpdateExpression="ADD points :p, txns :t",
                ConditionExpression="attribute_not_exists(txns) OR NOT contains(txns, :id)",
                ExpressionAttributeValues={":p": {"N": str(points)}, ":t": {"SS": [txn]}, ":id": {"S": txn}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return True

    context.step(award, name="award-points")
    context.step(lambda _: "sent", name="notify-customer")
    return customer


@durable_execution
def charge_card(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Payment: the provider honours an idempotency key (the order id), so the
    at-least-once step may repeat the call safely."""
    order = event["order_id"]

    def charge(_: StepContext) -> str:
        effect("charge", key=order, amount=event["amount"], idempotent=True)
        return f"ch-{order}"

    charge_id = context.step(charge, name="charge-card")
    context.step(lambda _: "receipt", name="send-receipt")
    return {"order": order, "charge": charge_id}


@durable_execution
def capture_payment(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Capture without an idempotency key: AT_MOST_ONCE_PER_RETRY with no retries."""
    order = event["order_id"]

    def capture(_: StepContext) -> str:
        effect("capture", key=order)
        return "captured"

    context.step(lambda _: order, name="validate")
    status = context.step(capture, name="capture-payment", config=AT_MOST_ONCE)
    context.step(lambda _: "booked", name="book-ledger")
    return {"order": order, "status": status}


@durable_execution
def enqueue_shipment(event: dict[str, Any], context: DurableContext) -> str:
    """Shipment hand-off through a FIFO queue with a deduplication id: a repeated send
    is dropped by SQS."""
    order = event["order_id"]

    def send(_: StepContext) -> str:
        client("sqs").send_message(QueueUrl=queue_url("shipments.fifo"), MessageBody=f"ship {order}",
                                   MessageGroupId="shipments", MessageDeduplicationId=order)
        return "queued"

    context.step(send, name="enqueue-shipment")
    context.step(lambda _: "done", name="mark-shipped")
    return order


@durable_execution
def tiered_renewal(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Renewal: the tier is a step result (checkpointed), never module state."""
    customer = event["customer"]
    tier = context.step(lambda _: event["tier"], name="load-customer")
    context.wait(Duration.from_hours(1), name="grace-period")
    if tier == "gold":
        context.step(lambda _: 0.2, name="apply-gold-discount")
    context.step(lambda _: "renewed", name="renew")
    return {"customer": customer, "renewed": True}


@durable_execution
def dunning_reminder(event: dict[str, Any], context: DurableContext) -> str:
    """Reminder at the due time: the clock and the feature flag are read inside a step, the
    wait duration comes from that step's checkpointed result."""
    plan = context.step(lambda _: {"hours": max(1, round((float(event["due_epoch"]) - time.time()) / 3600)),
                                   "sms": os.environ.get("DUNNING_SMS", "off") == "on"}, name="plan")
    context.wait(Duration.from_hours(plan["hours"]), name="until-due")
    channel = "sms" if plan["sms"] else "email"
    context.step(lambda _: f"reminded {event['invoice']}", name=f"send-{channel}-reminder")
    return event["invoice"]


@durable_execution
def bulk_reservation(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Bulk reservation: the event is never mutated; every reservation is a deterministic
    PutItem keyed by order and sku."""
    order, items = event["order_id"], list(event["items"])
    held = []
    for sku in items:
        def reserve(_: StepContext, sku: str = sku) -> str:
            client("dynamodb").put_item(TableName="inventory",
                                        Item={"pk": {"S": f"{order}#{sku}"}, "state": {"S": "held"}})
            return sku

        held.append(context.step(reserve, name=f"reserve-{sku}"))
    return held


@durable_execution
def manager_approval(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Expense approval: the callback has a one-day timeout; a failed or timed-out answer
    escalates the claim instead of failing the execution."""
    claim = event["claim"]
    context.step(lambda _: claim, name="submit-claim")
    callback = context.create_callback(name="manager-approval", config=CallbackConfig(timeout=Duration.from_days(1)))
    context.step(lambda _: f"asked for {callback.callback_id}", name="email-manager")
    try:
        answer = callback.result()
    except CallbackError:
        answer = context.step(lambda _: "escalated", name="escalate")
    context.step(lambda _: "settled", name="settle-claim")
    return {"claim": claim, "answer": answer}


@durable_execution
def settle_payment(event: dict[str, Any], context: DurableContext) -> str:
    """Settlement: the request step lets the dependency's failure propagate (and is retried);
    the write is a deterministic PutItem; the poller is bounded."""
    payment = event["payment_id"]

    def request(_: StepContext) -> str:
        client("dynamodb").put_item(TableName="payments", Item={"pk": {"S": payment}, "state": {"S": "settled"}})
        return "requested"

    context.step(request, name="request-settlement", config=QUICK_RETRY)

    def poll(state: dict[str, Any], _: Any) -> dict[str, Any]:
        item = client("dynamodb").get_item(TableName="payments", Key={"pk": {"S": payment}}).get("Item")
        return {"settled": item is not None, "polls": state["polls"] + 1}

    def every_minute(state: dict[str, Any], attempt: int) -> WaitForConditionDecision:
        if state["settled"] or attempt >= 30:
            return WaitForConditionDecision.stop_polling()
        return WaitForConditionDecision.continue_waiting(Duration.from_minutes(1))

    final = context.wait_for_condition(poll, WaitForConditionConfig(wait_strategy=every_minute,
                                                                    initial_state={"settled": False, "polls": 0}),
                                       name="await-settlement")
    return payment if final["settled"] else f"{payment}: unsettled"


@durable_execution
def activate_subscription(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Subscriptions: a failing read is not taken for a missing item; the error escapes the step,
    which retries, and only a read that answers "no item" creates one."""
    sub = event["subscription"]

    def activate(_: StepContext) -> str:
        ddb = client("dynamodb")
        item = ddb.get_item(TableName="subscriptions", Key={"pk": {"S": sub}}).get("Item")
        if item is None:
            ddb.put_item(TableName="subscriptions", Item={"pk": {"S": sub}, "plan": {"S": "free"},
                                                          "credits": {"N": "0"}, "state": {"S": "active"}})
            return "free"
        ddb.update_item(TableName="subscriptions", Key={"pk": {"S": sub}}, UpdateExpression="SET #s = :a",
                        ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":a": {"S": "active"}})
        return str(item["plan"]["S"])

    plan = context.step(activate, name="activate")
    context.step(lambda _: "sent", name="welcome")
    return {"subscription": sub, "plan": plan}
