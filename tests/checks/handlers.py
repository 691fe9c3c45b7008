"""Module-level handlers (real SDK) for the checker and fault tests.

Lines that a violation must point at carry a ``# LINE:<marker>`` comment; ``line_of``
finds them, so the tests do not hard-code line numbers.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import (
    Duration,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import (
    JitterStrategy,
    RetryDecision,
    RetryStrategyConfig,
    create_retry_strategy,
)

from chaosdurable import effect

REGION = "us-east-1"
_TWO_RETRIES = create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(2), jitter_strategy=JitterStrategy.NONE))
RETRY_TWICE = StepConfig(retry_strategy=_TWO_RETRIES)
AT_MOST_ONCE_RETRIED = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry_strategy=_TWO_RETRIES)
RETRY_FOREVER = StepConfig(retry_strategy=lambda _exc, _attempt: RetryDecision.retry(Duration.from_seconds(1)))


def line_of(marker: str) -> int:
    """The 1-based line of this file that carries ``# LINE:<marker>``."""
    for number, text in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# LINE:{marker}"):
            return number
    raise LookupError(marker)


# ---------------------------------------------------------------- correct handlers
def _charge_card(_sc: StepContext) -> dict[str, Any]:
    effect("charge", key="ord-1", idempotent=True)  # the payment API honours the idempotency key
    return {"charged": 36}


def _ship(_sc: StepContext) -> str:
    effect("ship", key="ord-1", idempotent=True)
    return "TRK-1"


@durable_execution
def clean_order(event: Any, context: DurableContext) -> Any:
    """Correct: every effect and every nondeterministic read happens inside a step."""
    order = context.step(lambda _sc: {"id": event["id"], "stamp": time.time(), "ref": str(uuid.uuid4())},
                         name="validate")
    charge = context.step(_charge_card, name="charge")
    context.wait(Duration.from_seconds(10), name="cool-off")
    tracking = context.step(_ship, name="ship")
    return {"order": order["id"], "charged": charge["charged"], "tracking": tracking}


@durable_execution
def two_steps(event: Any, context: DurableContext) -> Any:
    first = context.step(lambda _sc: 1, name="first")
    second = context.step(lambda _sc: 2, name="second")
    return first + second


@durable_execution
def waits(event: Any, context: DurableContext) -> Any:
    context.wait(Duration.from_seconds(10), name="pause")
    return context.step(lambda _sc: "after", name="after")


@durable_execution
def approval_then_wait(event: Any, context: DurableContext) -> Any:
    """Waits for a callback (heartbeat 30 s, timeout 600 s), then for 20 s more."""
    try:
        answer = context.wait_for_callback(
            lambda _callback_id, _ctx: None, name="approval",
            config=WaitForCallbackConfig(timeout=Duration.from_seconds(600),
                                         heartbeat_timeout=Duration.from_seconds(30)))
    except Exception as exc:  # a failed or timed-out callback is a legitimate outcome
        return {"failed": type(exc).__name__}
    context.wait(Duration.from_seconds(20), name="grace")
    return {"answer": answer}


def _reserve(_sc: StepContext) -> str:
    effect("reserve", key="ord-1", idempotent=True)
    return "reserved"


@durable_execution
def reserve_with_retries(event: Any, context: DurableContext) -> Any:
    return context.step(_reserve, name="reserve", config=RETRY_TWICE)


def _charge_once(_sc: StepContext) -> str:
    effect("charge", key="ord-1")  # LINE:charge-once
    return "charged"


@durable_execution
def charge_at_most_once(event: Any, context: DurableContext) -> Any:
    charged = context.step(_charge_once, name="charge", config=AT_MOST_ONCE_RETRIED)  # LINE:charge-call
    context.wait(Duration.from_seconds(5), name="settle")
    return charged


# ------------------------------------------------------------------ buggy handlers
def _charge_not_idempotent(_sc: StepContext) -> str:
    effect("charge", key="ord-1")  # LINE:charge
    return "charged"


@durable_execution
def charges_at_least_once(event: Any, context: DurableContext) -> Any:
    """Bug: a non-idempotent charge in an AT_LEAST_ONCE step repeats when the step is re-run."""
    return context.step(_charge_not_idempotent, name="charge")


@durable_execution
def emails_outside_step(event: Any, context: DurableContext) -> Any:
    """Bug: the e-mail is sent by handler code, so every replay sends it again."""
    context.step(lambda _sc: "validated", name="validate")
    effect("email", key="ada@example.com")  # LINE:email
    context.wait(Duration.from_seconds(5), name="pause")
    return context.step(lambda _sc: "done", name="finish")


@durable_execution
def emails_inside_step(event: Any, context: DurableContext) -> Any:
    context.step(lambda _sc: "validated", name="validate")
    context.step(lambda _sc: effect("email", key="ada@example.com"), name="send-email")
    context.wait(Duration.from_seconds(5), name="pause")
    return context.step(lambda _sc: "done", name="finish")


@durable_execution
def reads_clock_outside_step(event: Any, context: DurableContext) -> Any:
    """Bug: the deadline is computed from the clock in handler code, which differs on replay."""
    deadline = time.time() + 3600  # LINE:clock
    context.step(lambda _sc: "validated", name="validate")
    return context.step(lambda _sc: deadline > 0, name="check-deadline")


@durable_execution
def reads_clock_inside_step(event: Any, context: DurableContext) -> Any:
    deadline = context.step(lambda _sc: time.time() + 3600, name="deadline")
    return context.step(lambda _sc: deadline > 0, name="check-deadline")


@durable_execution
def names_step_after_request(event: Any, context: DurableContext) -> Any:
    """Bug: the step name comes from the Lambda request id, which each invocation changes."""
    context.step(lambda _sc: "validated", name="validate")
    request = context.lambda_context.aws_request_id[:8]
    context.step(lambda _sc: "receipt", name=f"receipt-{request}")  # LINE:receipt
    return "done"


@durable_execution
def returns_request_id(event: Any, context: DurableContext) -> Any:
    """Bug: the result names the invocation that happened to finish the execution."""
    context.step(lambda _sc: "validated", name="validate")
    return {"served_by": context.lambda_context.aws_request_id}


@durable_execution
def waits_by_request(event: Any, context: DurableContext) -> Any:
    """Bug: the wait duration is derived from the Lambda request id, outside any step."""
    context.step(lambda _sc: "validated", name="validate")
    seconds = 1 + int(context.lambda_context.aws_request_id[0], 16)
    context.wait(Duration.from_seconds(seconds), name="cool-off")
    return "done"


def _poll(_sc: StepContext) -> str:
    raise ConnectionError("the upstream service never comes back")


@durable_execution
def polls_forever(event: Any, context: DurableContext) -> Any:
    """Bug: a retry strategy without a bound on a dependency that stays down."""
    return context.step(_poll, name="poll", config=RETRY_FOREVER)


# ------------------------------------------------------------------- AWS (moto) world
def setup_world() -> None:
    boto3.client("sqs", region_name=REGION).create_queue(QueueName="orders")
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _enqueue(_sc: StepContext) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="order ord-1 paid")  # LINE:sqs
    return "queued"


def _store(_sc: StepContext) -> str:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="orders", Item={"id": {"S": "ord-1"}, "state": {"S": "paid"}})
    return "stored"


@durable_execution
def enqueues_at_least_once(event: Any, context: DurableContext) -> Any:
    """Bug: SQS SendMessage is not idempotent; a re-run step queues the message twice."""
    return context.step(_enqueue, name="enqueue")


@durable_execution
def upserts_at_least_once(event: Any, context: DurableContext) -> Any:
    """Correct: PutItem with the same key is idempotent, so a re-run step leaves the same table."""
    return context.step(_store, name="store")


def _notify_in_child(child: DurableContext) -> Any:
    effect("notify", key="ord-1")  # LINE:child-effect
    started = time.time()  # LINE:child-clock
    return child.step(lambda _sc: started > 0, name="inner")


@durable_execution
def child_context_outside_step(event: Any, context: DurableContext) -> Any:
    """Bug: a child context's own code is not a step either; it replays like handler code."""
    return context.run_in_child_context(_notify_in_child, name="notify-customer")


_THREE_TRIES = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
    max_attempts=3, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE)))


@durable_execution
def retries_within_budget(event: Any, context: DurableContext) -> str:
    """A step that always fails, retried up to its budget of three attempts, then given up on."""
    def always_fails(_: StepContext) -> str:
        raise RuntimeError("dependency down")

    try:
        return context.step(always_fails, name="flaky", config=_THREE_TRIES)
    except StepError:
        return "gave up"
