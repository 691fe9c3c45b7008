"""Order saga: validate, reserve stock, charge a slow payment gateway with retries, confirm, tell the
warehouse, screen for fraud, then follow the shipment through callbacks; on fraud or a failed
shipment, compensate (release the stock, refund the card, cancel the pick).

Side effects: DynamoDB (``inventory``, ``reservations``, ``orders``), a FIFO SQS queue
(``warehouse.fifo``), HTTP to the payment gateway (``pay.example.com``) and the fraud service
(``fraud.example.com``) under a ``responses`` mock. Orders above ``FRAUD_THRESHOLD`` are flagged by the
fraud service, so the input strategy reaches the compensation path too. Supersedes ``scenarios.order``.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from typing import Any

import requests
import responses
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig, WaitForCallbackConfig
from aws_durable_execution_sdk_python.exceptions import CallbackError
from aws_durable_execution_sdk_python.retries import JitterStrategy, RetryStrategyConfig, create_retry_strategy
from hypothesis import strategies as st

from chaosdurable.checks.base import plural
from chaosdurable.run import Answer
from chaosdurable.scenarios._world import (
    client,
    ended_by_platform,
    http_requests,
    item,
    items,
    make_fifo_queue,
    make_table,
    messages,
)
from chaosdurable.scenarios._world import queue_url as _queue_url
from chaosdurable.scenarios.catalog import Scenario, Variant
from chaosdurable.strategies import faker_with_seed

PRICES: dict[str, int] = {"book-42": 30, "pen-7": 2, "lamp-3": 45, "chair-9": 120, "desk-1": 340, "mug-5": 9}
STOCK = 1000
FRAUD_THRESHOLD = 200
GATEWAY = "https://pay.example.com"
FRAUD = "https://fraud.example.com"
QUEUE = "warehouse.fifo"
CHARGE = "http:POST pay.example.com/charges"
REFUND = "http:POST pay.example.com/refunds"

GATEWAY_RETRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
    max_attempts=4, initial_delay=Duration.from_seconds(5), jitter_strategy=JitterStrategy.NONE)))
SHIPPING = WaitForCallbackConfig(timeout=Duration.from_days(7))


def setup() -> None:
    """The shop: every catalogue product stocked with ``STOCK`` units, empty order tables, the warehouse queue."""
    make_table("inventory", *({"pk": {"S": sku}, "stock": {"N": str(STOCK)}} for sku in PRICES))
    make_table("reservations")
    make_table("orders")
    make_fifo_queue(QUEUE)


def http_mock() -> responses.RequestsMock:
    """The payment gateway (always accepts) and the fraud service (flags orders above the threshold)."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    def charge(request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, '{"status": "succeeded"}'

    def score(request: Any) -> tuple[int, dict[str, str], str]:
        amount = int(request.params.get("amount", "0"))
        return 200, {}, '{"score": %s}' % (0.97 if amount > FRAUD_THRESHOLD else 0.05)

    mock.add_callback(responses.POST, f"{GATEWAY}/charges", callback=charge)
    mock.add_callback(responses.POST, f"{GATEWAY}/refunds", callback=charge)
    mock.add_callback(responses.GET, f"{FRAUD}/score", callback=score)
    return mock


def orders() -> st.SearchStrategy[dict[str, Any]]:
    """Orders from faker: an id, a customer, a card token, an address and 1-3 catalogue lines."""
    line = st.builds(lambda sku, qty: {"sku": sku, "qty": qty}, st.sampled_from(sorted(PRICES)),
                     st.integers(1, 3))

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        fake = faker_with_seed(data(st.integers(0, 2**20)))
        return {"order_id": fake.bothify("ord-####-????").lower(), "customer": fake.email(),
                "card": fake.bothify("tok_????????"), "address": fake.address().replace("\n", ", "),
                "items": data(st.lists(line, min_size=1, max_size=3, unique_by=lambda x: x["sku"]))}

    return draw()


SAMPLE: dict[str, Any] = {"order_id": "ord-1001", "customer": "ada@example.com", "card": "tok_visa",
                          "address": "1 Analytical Way, London", "items": [{"sku": "book-42", "qty": 1},
                                                                           {"sku": "pen-7", "qty": 3}]}


# ----------------------------------------------------------------------------- steps shared by the variants
def total(order: dict[str, Any]) -> int:
    """The order's amount."""
    return sum(PRICES[line["sku"]] * int(line["qty"]) for line in order["items"])


def _validate(order: dict[str, Any]) -> dict[str, Any]:
    if not order["items"] or any(line["sku"] not in PRICES for line in order["items"]):
        raise ValueError(f"order {order['order_id']} has an unknown product")
    return {"order_id": order["order_id"], "amount": total(order), "items": order["items"]}


def _reserve(order: dict[str, Any]) -> str:
    """Per line: a reservation row (put once) and the stock decrement in one transaction."""
    ddb = client("dynamodb")
    for line in order["items"]:
        # already reserved by an earlier attempt of this step: the transaction is cancelled
        with contextlib.suppress(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": "reservations", "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": {"pk": {"S": f"{order['order_id']}#{line['sku']}"}, "qty": {"N": str(line["qty"])}}}},
                {"Update": {"TableName": "inventory", "Key": {"pk": {"S": line["sku"]}},
                            "UpdateExpression": "ADD stock :minus", "ConditionExpression": "stock >= :qty",
                            "ExpressionAttributeValues": {":minus": {"N": str(-line["qty"])},
                                                          ":qty": {"N": str(line["qty"])}}}}])
    return "reserved"


def _release(order: dict[str, Any]) -> str:
    """Per line: delete the reservation (only if it is there) and give the stock back, in one transaction."""
    ddb = client("dynamodb")
    for line in order["items"]:
        with contextlib.suppress(ddb.exceptions.TransactionCanceledException):  # already released
            ddb.transact_write_items(TransactItems=[
                {"Delete": {"TableName": "reservations", "ConditionExpression": "attribute_exists(pk)",
                            "Key": {"pk": {"S": f"{order['order_id']}#{line['sku']}"}}}},
                {"Update": {"TableName": "inventory", "Key": {"pk": {"S": line["sku"]}},
                            "UpdateExpression": "ADD stock :plus",
                            "ExpressionAttributeValues": {":plus": {"N": str(line["qty"])}}}}])
    return "released"


def _release_unconditionally(order: dict[str, Any]) -> str:
    ddb = client("dynamodb")
    for line in order["items"]:
        ddb.update_item(TableName="inventory", Key={"pk": {"S": line["sku"]}}, UpdateExpression="ADD stock :plus",
                        ExpressionAttributeValues={":plus": {"N": str(line["qty"])}})
        ddb.delete_item(TableName="reservations", Key={"pk": {"S": f"{order['order_id']}#{line['sku']}"}})
    return "released"


def _pay(path: str, order: dict[str, Any], key: str) -> str:
    answer = requests.post(f"{GATEWAY}/{path}", json={"order": order["order_id"], "amount": order["amount"]},
                           headers={"Idempotency-Key": key}, timeout=30)
    if answer.status_code >= 500:
        raise ConnectionError(f"payment gateway answered {answer.status_code}")
    return str(answer.json()["status"])


def _set_status(order_id: str, status: str) -> str:
    client("dynamodb").put_item(TableName="orders", Item={"pk": {"S": order_id}, "status": {"S": status}})
    return status


def _tell_warehouse(order_id: str, what: str, callback_id: str | None = None) -> None:
    body = f"{what} {order_id}" + (f" callback={callback_id}" if callback_id else "")
    client("sqs").send_message(QueueUrl=_queue_url(QUEUE), MessageBody=body, MessageGroupId=order_id,
                               MessageDeduplicationId=f"{what}-{order_id}")


def _track(order_id: str, stage: str, callback_id: str, _ctx: Any) -> None:
    _tell_warehouse(order_id, f"track-{stage}", callback_id)


def _fraud_score(order: dict[str, Any]) -> float:
    answer = requests.get(f"{FRAUD}/score", params={"order": order["order_id"], "amount": order["amount"]},
                          timeout=10)
    return float(answer.json()["score"])


def _saga(event: dict[str, Any], context: DurableContext, *, charge_key: Any, release: Any) -> dict[str, Any]:
    order = context.step(lambda _: _validate(event), name="validate")
    order_id = order["order_id"]
    context.step(lambda _: _reserve(order), name="reserve")
    context.step(lambda _: _pay("charges", order, charge_key(order_id)), name="charge", config=GATEWAY_RETRY)
    context.step(lambda _: _set_status(order_id, "CONFIRMED"), name="confirm")
    context.step(lambda _: _tell_warehouse(order_id, "pick"), name="notify-warehouse")
    score = context.step(lambda _: _fraud_score(order), name="fraud-check")
    outcome = "DELIVERED"
    if score > 0.9:
        outcome = "CANCELLED_FRAUD"
    else:
        try:
            for stage in ("dispatched", "delivered"):
                context.wait_for_callback(functools.partial(_track, order_id, stage), name=f"shipping {stage}",
                                          config=SHIPPING)
        except CallbackError:
            outcome = "CANCELLED_UNSHIPPED"
    if outcome != "DELIVERED":  # compensate: stop the pick, give the stock back, refund the card
        context.step(lambda _: _tell_warehouse(order_id, "cancel"), name="cancel-pick")
        context.step(lambda _: release(order), name="release")
        context.step(lambda _: _pay("refunds", order, f"refund-{order_id}"), name="refund", config=GATEWAY_RETRY)
    context.step(lambda _: _set_status(order_id, outcome), name="close")
    return {"order": order_id, "status": outcome, "amount": order["amount"]}


# ----------------------------------------------------------------------------- variants
@durable_execution
def saga_correct(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct: idempotency keys derived from the order, conditional reservations, FIFO dedup ids."""
    return _saga(event, context, charge_key=lambda order_id: f"charge-{order_id}", release=_release)


@durable_execution
def saga_charge_key_per_attempt(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: a fresh uuid4() Idempotency-Key per charge attempt."""
    return _saga(event, context, charge_key=lambda order_id: f"charge-{uuid.uuid4()}", release=_release)


@durable_execution
def saga_release_not_idempotent(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: the compensation gives stock back with an unconditional ADD."""
    return _saga(event, context, charge_key=lambda order_id: f"charge-{order_id}", release=_release_unconditionally)


# ----------------------------------------------------------------------------- invariants
def charged_once_refunded_iff_cancelled(event: dict[str, Any], run: Any) -> None:
    """The card is charged and refunded at most once; when the workflow ran its course, charged exactly once and
    refunded exactly when the order was cancelled."""
    order_id = event["order_id"]
    charges, refunds = http_requests(run, CHARGE), http_requests(run, REFUND)
    assert charges <= 1 and refunds <= 1, (
        f"order {order_id} was charged {plural(charges, 'time')} and refunded {plural(refunds, 'time')}")
    if ended_by_platform(run):
        return  # stopped half-way by the platform: nothing happened twice, and that is all one can ask
    assert charges == 1, f"order {order_id} was charged {charges} times"
    row = item(run, "orders", order_id) or {}
    cancelled = str(row.get("status", "")).startswith("CANCELLED")
    if row.get("status") is not None:
        assert refunds == (1 if cancelled else 0), (
            f"order {order_id} ended {row.get('status')} but was refunded {plural(refunds, 'time')}")


def stock_conserved(event: dict[str, Any], run: Any) -> None:
    """For every product, stock left + units reserved = the initial stock; a cancelled order holds nothing."""
    order_id = event["order_id"]
    reserved: dict[str, int] = {}
    for row in items(run, "reservations"):
        reserved[row["pk"].split("#", 1)[1]] = reserved.get(row["pk"].split("#", 1)[1], 0) + int(row["qty"])
    for row in items(run, "inventory"):
        sku = row["pk"]
        assert int(row["stock"]) + reserved.get(sku, 0) == STOCK, (
            f"{sku}: {row['stock']} in stock + {reserved.get(sku, 0)} reserved != {STOCK} units owned "
            f"(order {order_id})")
    status = str((item(run, "orders", order_id) or {}).get("status", ""))
    if status.startswith("CANCELLED"):
        assert not reserved, f"order {order_id} was cancelled but still holds {reserved}"


def warehouse_told_once(event: dict[str, Any], run: Any) -> None:
    """The warehouse got at most one pick (exactly one when the workflow ran its course), and a cancel exactly
    when the order was cancelled."""
    order_id = event["order_id"]
    bodies = messages(run, QUEUE)
    picks = [b for b in bodies if b == f"pick {order_id}"]
    assert len(picks) <= 1, f"the warehouse was asked to pick order {order_id} {len(picks)} times"
    if ended_by_platform(run):
        return
    assert len(picks) == 1, f"the warehouse was asked to pick order {order_id} {len(picks)} times"
    status = str((item(run, "orders", order_id) or {}).get("status", ""))
    cancels = [b for b in bodies if b == f"cancel {order_id}"]
    if status:
        assert len(cancels) == (1 if status.startswith("CANCELLED") else 0), (
            f"order {order_id} ended {status} and the warehouse got {len(cancels)} cancel(s)")


_M = "chaosdurable.scenarios.saga"
SCENARIO = Scenario(
    name="order-saga",
    description=__doc__.strip().splitlines()[0],
    inputs=orders,
    sample=SAMPLE,
    variants=(
        Variant("correct", saga_correct, f"{_M}:saga_correct"),
        Variant("charge-key-per-attempt", saga_charge_key_per_attempt, f"{_M}:saga_charge_key_per_attempt",
                bug="The charge step mints its Idempotency-Key with uuid4() inside the step, so a crash after "
                    "the gateway answered charges the card again under a new key."),
        Variant("release-not-idempotent", saga_release_not_idempotent, f"{_M}:saga_release_not_idempotent",
                bug="The compensation puts stock back with an unconditional ADD in an at-least-once step, so "
                    "a crash after it returns the items to the shelf twice."),
    ),
    invariants=(charged_once_refunded_iff_cancelled, stock_conserved, warehouse_told_once),
    setup=setup,
    callbacks={"shipping": Answer(result={"carrier": "UPS"}, delay=86_400)},
    http=http_mock,
    tags=("dynamodb", "sqs", "http", "callback", "compensation"),
)
