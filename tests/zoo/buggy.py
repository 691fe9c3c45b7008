"""A zoo of realistic durable handlers, each with ONE bug typical of durable functions.

Every handler's docstring names its bug; the line where the bug lives carries a
``# BUG:<id>`` marker so the tests can check that a violation points at it.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision
from botocore.exceptions import ClientError

from chaosdurable import effect
from tests.zoo.world import SENDER, client, queue_url

# ------------------------------------------------------------------ effects outside steps


@durable_execution
def signup_welcome_email(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Signup. BUG: the welcome email (SES) is sent from handler code outside any step,
    so every replay of the handler sends it again."""
    user = event["user"]

    def create_user(_: StepContext) -> str:
        client("dynamodb").put_item(TableName="users", Item={"pk": {"S": user}, "state": {"S": "new"}})
        return user

    context.step(create_user, name="create-user")
    client("ses").send_email(Source=SENDER, Destination={"ToAddresses": [user]}, Message={"Subject": {"Data": "Welcome!"}, "Body": {"Text": {"Data": "Hi"}}})  # BUG:welcome-email  # noqa: E501
    context.step(lambda _: "active", name="activate")
    return {"user": user, "status": "active"}


@durable_execution
def approve_order_audit(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Order approval. BUG: the audit row is written to DynamoDB outside any step (and
    with a per-replay timestamp-free key, so it is simply written again on every replay)."""
    order = event["order_id"]
    total = context.step(lambda _: sum(i["qty"] * i["price"] for i in event["items"]), name="price-order")
    decision = "approved" if total < 1000 else "review"
    client("dynamodb").update_item(TableName="audit", Key={"pk": {"S": order}}, UpdateExpression="ADD entries :one", ExpressionAttributeValues={":one": {"N": "1"}})  # BUG:audit-row  # noqa: E501
    context.step(lambda _: decision, name="record-decision")
    return {"order": order, "decision": decision}


@durable_execution
def notify_from_child_context(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Shipping notifications. BUG: the push notification is sent from a child context's
    function, not from a step inside it; a child context is replayed like the handler."""
    sent = []
    for customer in event["customers"]:
        def notify(child: DurableContext, customer: str = customer) -> str:
            address = child.step(lambda _: f"device-{customer}", name="lookup-device")
            effect("push", key=address)  # BUG:push-in-child
            return address

        sent.append(context.run_in_child_context(notify, name=f"notify-{customer}"))
    context.step(lambda _: len(sent), name="count")
    return sent


# ------------------------------------------------------------ non-determinism outside steps


@durable_execution
def flash_sale_checkout(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Checkout with a morning flash sale. BUG: the sale window is decided with
    ``datetime.now()`` in handler code, so a replay later in the day prices differently."""
    cart = context.step(lambda _: [dict(i) for i in event["items"]], name="load-cart")
    if datetime.now(UTC).hour < 12:  # BUG:flash-clock
        context.step(lambda _: "FLASH10", name="apply-flash-discount")
    context.step(lambda _: len(cart), name="place-order")
    return {"order": event["order_id"], "lines": len(cart)}


@durable_execution
def dunning_reminder(event: dict[str, Any], context: DurableContext) -> str:
    """Payment reminder at the invoice's due time. Listed here once as a bug (the wait duration is
    computed from ``time.time()`` outside a step); it is not one: a started wait is never re-armed
    on replay, so a replay that reads another time takes the same path. The tripwire's suspicion
    is cleared by a shifted replay (``tests/checks/test_tripwire_confirm.py``)."""
    due_epoch = context.step(lambda _: float(event["due_epoch"]), name="load-invoice")
    delay = max(1, int(due_epoch - time.time()))
    context.wait(Duration.from_seconds(delay), name="until-due")
    context.step(lambda _: f"reminded {event['invoice']}", name="send-reminder")
    return event["invoice"]


@durable_execution
def survey_after_delivery(event: dict[str, Any], context: DurableContext) -> str:
    """Post-delivery survey sampling. BUG: ``random.random()`` decides, outside a step,
    whether the customer gets a survey; a replay can change its mind."""
    context.step(lambda _: "delivered", name="confirm-delivery")
    if random.random() < 0.1:  # BUG:survey-random
        context.step(lambda _: "survey sent", name="send-survey")
    context.step(lambda _: "closed", name="close-order")
    return event["order_id"]


@durable_execution
def express_shipping(event: dict[str, Any], context: DurableContext) -> str:
    """Shipping with a feature flag. BUG: the flag is read from ``os.environ`` outside a
    step; a redeploy with another value between replays changes the workflow."""
    context.step(lambda _: "packed", name="pack")
    if os.environ.get("EXPRESS_SHIPPING", "off") == "on":  # BUG:env-flag
        context.step(lambda _: "express", name="book-express")
    else:
        context.step(lambda _: "ground", name="book-ground")
    return event["order_id"]


@durable_execution
def reserve_with_random_name(event: dict[str, Any], context: DurableContext) -> str:
    """Stock reservation. BUG: the step's name contains ``uuid4()`` (a "unique" name),
    so a replay issues the operation under a different name."""
    sku = event["sku"]
    name = f"reserve-{uuid.uuid4().hex[:8]}"  # BUG:uuid-name
    context.step(lambda _: f"held {sku}", name=name)
    context.step(lambda _: "confirmed", name="confirm")
    return sku


# ------------------------------------------------------------------ at-least-once effects


@durable_execution
def award_loyalty_points(event: dict[str, Any], context: DurableContext) -> str:
    """Loyalty points. BUG: points are added with a DynamoDB ``UpdateItem ADD`` in an
    AT_LEAST_ONCE step: a crash between the write and the checkpoint adds them twice."""
    customer, points = event["customer"], event["points"]

    def award(_: StepContext) -> int:
        client("dynamodb").update_item(TableName="accounts", Key={"pk": {"S": customer}},
                                       UpdateExpression="ADD points :p",
                                       ExpressionAttributeValues={":p": {"N": str(points)}})
        return points

    context.step(award, name="award-points")
    context.step(lambda _: "sent", name="notify-customer")
    return customer


@durable_execution
def charge_card(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Payment. BUG: the card is charged (an explicit effect, no idempotency key honoured)
    in a default AT_LEAST_ONCE step: a crash before the checkpoint charges twice."""
    order = event["order_id"]

    def charge(_: StepContext) -> str:
        effect("charge", key=order, amount=event["amount"])
        return f"ch-{order}"

    charge_id = context.step(charge, name="charge-card")
    context.step(lambda _: "receipt", name="send-receipt")
    return {"order": order, "charge": charge_id}


@durable_execution
def capture_payment_retried(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Payment capture. BUG: the step is AT_MOST_ONCE_PER_RETRY but keeps the default
    retry strategy: an interrupted attempt is retried, and the capture happens again."""
    order = event["order_id"]

    def capture(_: StepContext) -> str:
        effect("capture", key=order)
        return "captured"

    config = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)  # BUG:at-most-once-retried
    status = context.step(capture, name="capture-payment", config=config)
    return {"order": order, "status": status}


@durable_execution
def enqueue_shipment(event: dict[str, Any], context: DurableContext) -> str:
    """Shipment hand-off. BUG: the SQS message goes to a standard queue from an
    AT_LEAST_ONCE step: a crash after the send and before the checkpoint sends it twice."""
    order = event["order_id"]

    def send(_: StepContext) -> str:
        client("sqs").send_message(QueueUrl=queue_url("shipments"), MessageBody=f"ship {order}")
        return "queued"

    context.step(send, name="enqueue-shipment")
    context.step(lambda _: "done", name="mark-shipped")
    return order


# ------------------------------------------------------------------- state across replays

_CUSTOMER_TIER: dict[str, str] = {}


@durable_execution
def tiered_renewal(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Subscription renewal. BUG: the customer's tier is remembered in a module-level dict
    filled inside a step; after a cold start the step is replayed from its checkpoint,
    the dict stays empty and the gold discount is skipped."""
    customer = event["customer"]

    def load(_: StepContext) -> str:
        _CUSTOMER_TIER[customer] = event["tier"]
        return customer

    context.step(load, name="load-customer")
    context.wait(Duration.from_hours(1), name="grace-period")
    if _CUSTOMER_TIER.get(customer) == "gold":  # BUG:module-state
        context.step(lambda _: 0.2, name="apply-gold-discount")
    context.step(lambda _: "renewed", name="renew")
    return {"customer": customer, "renewed": True}


@durable_execution
def bulk_reservation(event: dict[str, Any], context: DurableContext) -> list[str]:
    """Bulk stock reservation. BUG: the first step pops the priority item off the event's
    list; on replay the step does not run, the event is intact, and the loop reserves
    the priority item a second time (under another operation position)."""

    def reserve_priority(_: StepContext) -> str:
        return event["items"].pop(0)  # BUG:event-mutation

    first = context.step(reserve_priority, name="reserve-priority")
    held = [first]
    for sku in event["items"]:
        held.append(context.step(lambda _, sku=sku: sku, name=f"reserve-{sku}"))
    return held


# ---------------------------------------------------------------------------- callbacks


@durable_execution
def manager_approval(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Expense approval. DESIGN QUESTION, not reported: the manager's callback has a one-hour
    timeout and the handler does not handle ``CallbackTimeoutError``, so an answer later than
    that fails the whole claim. chaosdurable treats an answer after the timeout as a fault that
    legitimately changes the outcome (declared by the nemesis), so this is not a violation; a
    team that wants escalation asserts it in its own property over ``verdict.chaotic``."""
    claim = event["claim"]
    context.step(lambda _: claim, name="submit-claim")
    callback = context.create_callback(name="manager-approval",
                                       config=CallbackConfig(timeout=Duration.from_hours(1)))
    context.step(lambda _: f"asked for {callback.callback_id}", name="email-manager")
    answer = callback.result()  # BUG:callback-timeout
    context.step(lambda _: "paid", name="pay-claim")
    return {"claim": claim, "answer": answer}


# ---------------------------------------------------------------------------- liveness


@durable_execution
def settle_payment(event: dict[str, Any], context: DurableContext) -> str:
    """Settlement. BUG: the request step swallows the dependency's failure and reports
    "deferred"; nothing ever writes the settlement, and the poller waits for it forever."""
    payment = event["payment_id"]

    def request(_: StepContext) -> str:
        try:
            client("dynamodb").put_item(TableName="payments", Item={"pk": {"S": payment}, "state": {"S": "settled"}})
        except ClientError:  # BUG:swallowed
            return "deferred"
        return "requested"

    context.step(request, name="request-settlement")

    def poll(state: dict[str, Any], _: Any) -> dict[str, Any]:
        item = client("dynamodb").get_item(TableName="payments", Key={"pk": {"S": payment}}).get("Item")
        return {"settled": item is not None, "polls": state["polls"] + 1}

    def every_minute(state: dict[str, Any], attempt: int) -> WaitForConditionDecision:
        if state["settled"]:
            return WaitForConditionDecision.stop_polling()
        return WaitForConditionDecision.continue_waiting(Duration.from_minutes(1))

    context.wait_for_condition(poll, WaitForConditionConfig(wait_strategy=every_minute,
                                                            initial_state={"settled": False, "polls": 0}),
                               name="await-settlement")
    return payment


# ------------------------------------------------------------------ failing reads


@durable_execution
def activate_subscription(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Subscriptions. BUG: a failing read (a throttled ``GetItem``) is taken for "no such
    subscription", so the step re-creates it with the free plan, overwriting the customer's
    plan and credits."""
    sub = event["subscription"]

    def activate(_: StepContext) -> str:
        ddb = client("dynamodb")
        try:
            item = ddb.get_item(TableName="subscriptions", Key={"pk": {"S": sub}}).get("Item")
        except ClientError:
            item = None  # BUG:read-failure-as-missing
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
