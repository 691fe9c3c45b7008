"""User onboarding: create the account, verify the e-mail address through a callback with a one-day
timeout, take the first payment, provision the workspace, and send one welcome kit.

Side effects: DynamoDB (``users``), a FIFO SQS outbox (``outbox.fifo``: verification and kit
dispatch), S3 (``workspaces``), SES (the welcome mail, sent at most once), HTTP to the billing
service (``billing.example.com``) under a ``responses`` mock. An address that is never verified
expires the account.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import requests
import responses
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig, StepSemantics, WaitForCallbackConfig
from aws_durable_execution_sdk_python.exceptions import CallbackError, StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from hypothesis import strategies as st

from chaosdurable.checks.base import plural
from chaosdurable.run import Answer
from chaosdurable.scenarios._world import (
    client,
    ended_by_platform,
    http_requests,
    item,
    make_fifo_queue,
    make_table,
    messages,
    put_once,
)
from chaosdurable.scenarios._world import queue_url as _queue_url
from chaosdurable.scenarios.catalog import Scenario, Variant
from chaosdurable.strategies import faker_with_seed

SENDER = "welcome@saas.example"
OUTBOX = "outbox.fifo"
BILLING = "https://billing.example.com"
SUBSCRIBE = "http:POST billing.example.com/subscriptions"
PRICES = {"free": 0, "team": 49, "enterprise": 499}
VERIFY = WaitForCallbackConfig(timeout=Duration.from_days(1))
ONCE = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                  retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


def setup() -> None:
    """Empty users and kits tables, the outbox queue, the workspaces bucket and a verified SES sender."""
    make_table("users")
    make_table("kits")
    make_fifo_queue(OUTBOX)
    client("s3").create_bucket(Bucket="workspaces")
    client("ses").verify_email_identity(EmailAddress=SENDER)


def http_mock() -> responses.RequestsMock:
    """The billing service: every subscription is accepted."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.POST, f"{BILLING}/subscriptions", json={"status": "active"})
    return mock


def signups() -> st.SearchStrategy[dict[str, Any]]:
    """Sign-ups from faker: a user id, a name, an e-mail address, a company and a plan."""
    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        fake = faker_with_seed(data(st.integers(0, 2**20)))
        return {"user_id": f"usr-{fake.uuid4()[:8]}", "name": fake.name(), "email": fake.email(),
                "company": fake.company(), "plan": data(st.sampled_from(sorted(PRICES)))}

    return draw()


SAMPLE = {"user_id": "usr-1", "name": "Ada Lovelace", "email": "ada@example.com", "company": "Engines Ltd",
          "plan": "team"}


# ----------------------------------------------------------------------------- steps
def _create(user: dict[str, Any]) -> bool:
    return put_once("users", {"pk": {"S": user["user_id"]}, "email": {"S": user["email"]},
                              "status": {"S": "PENDING"}})


def _set_status(user: dict[str, Any], status: str) -> str:
    client("dynamodb").put_item(TableName="users", Item={"pk": {"S": user["user_id"]}, "email": {"S": user["email"]},
                                                         "status": {"S": status}})
    return status


def _outbox(user_id: str, kind: str, body: str) -> None:
    client("sqs").send_message(QueueUrl=_queue_url(OUTBOX), MessageBody=f"{kind} {user_id} {body}",
                               MessageGroupId=user_id, MessageDeduplicationId=f"{kind}-{user_id}")


def _subscribe(user: dict[str, Any]) -> str:
    answer = requests.post(f"{BILLING}/subscriptions", json={"user": user["user_id"], "plan": user["plan"]},
                           headers={"Idempotency-Key": f"sub-{user['user_id']}"}, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["status"])


def _provision(user: dict[str, Any]) -> str:
    client("s3").put_object(Bucket="workspaces", Key=f"{user['user_id']}/settings.json",
                            Body=json.dumps({"owner": user["email"], "plan": user["plan"]}).encode())
    return _set_status(user, "ACTIVE")


def _kit_once(user_id: str) -> str:
    client("dynamodb").put_item(TableName="kits", Item={"pk": {"S": user_id}, "kits": {"N": "1"}})
    _outbox(user_id, "kit", "ship welcome kit")
    return "kit"


def _kit_counted(user_id: str) -> str:
    client("dynamodb").update_item(TableName="kits", Key={"pk": {"S": user_id}}, UpdateExpression="ADD kits :one",
                                   ExpressionAttributeValues={":one": {"N": "1"}})
    _outbox(user_id, "kit", "ship welcome kit")
    return "kit"


def _welcome_mail(user: dict[str, Any]) -> str:
    client("ses").send_email(Source=SENDER, Destination={"ToAddresses": [user["email"]]},
                             Message={"Subject": {"Data": f"Welcome to the team, {user['name']}"},
                                      "Body": {"Text": {"Data": "Your workspace is ready."}}})
    return "sent"


def _onboard(event: dict[str, Any], context: DurableContext, *, kit: Any, handle_timeout: bool) -> dict[str, Any]:
    user = dict(event)
    user_id = user["user_id"]
    context.step(lambda _: _create(user), name="create-account")
    try:
        context.wait_for_callback(lambda callback_id, _ctx: _outbox(user_id, "verify", callback_id),
                                  name="verify-email", config=VERIFY)
    except CallbackError:
        if not handle_timeout:
            raise
        context.step(lambda _: _set_status(user, "EXPIRED"), name="expire")
        return {"user": user_id, "status": "EXPIRED"}
    if PRICES[user["plan"]]:
        context.step(lambda _: _subscribe(user), name="subscribe")
    context.step(lambda _: _provision(user), name="provision")
    context.step(lambda _: kit(user_id), name="welcome-kit")
    with contextlib.suppress(StepError):  # interrupted: the mail may have gone out; never send it twice
        context.step(lambda _: _welcome_mail(user), name="welcome-mail", config=ONCE)
    return {"user": user_id, "status": "ACTIVE"}


# ----------------------------------------------------------------------------- variants
@durable_execution
def onboarding_correct(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct: conditional account creation, SET (not ADD) for the kit, an expired verification handled."""
    return _onboard(event, context, kit=_kit_once, handle_timeout=True)


@durable_execution
def onboarding_kit_counter(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: the welcome kit is counted with ADD in an at-least-once step."""
    return _onboard(event, context, kit=_kit_counted, handle_timeout=True)


@durable_execution
def onboarding_timeout_unhandled(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: an unverified address fails the execution and leaves the account PENDING."""
    return _onboard(event, context, kit=_kit_once, handle_timeout=False)


# ----------------------------------------------------------------------------- invariants
def account_settled(event: dict[str, Any], run: Any) -> None:
    """Every account ends ACTIVE or EXPIRED: none is left PENDING (holding its address) when the handler ends."""
    if ended_by_platform(run):
        return  # the platform stopped it half-way (a 4xx from the checkpoint API): not the handler's doing
    row = item(run, "users", event["user_id"])
    assert row is not None, f"account {event['user_id']} was never created"
    assert row.get("status") in ("ACTIVE", "EXPIRED"), (
        f"account {event['user_id']} was left {row.get('status')} when the onboarding ended ({run.status})")


def one_welcome_kit(event: dict[str, Any], run: Any) -> None:
    """No account gets two welcome kits; when the workflow ran its course, every active account got exactly one
    (recorded once, dispatched once) and expired ones none."""
    row = item(run, "users", event["user_id"]) or {}
    kits = int((item(run, "kits", event["user_id"]) or {}).get("kits", 0))
    dispatched = [m for m in messages(run, OUTBOX) if m.startswith(f"kit {event['user_id']} ")]
    assert kits <= 1 and len(dispatched) <= 1, (
        f"account {event['user_id']} got {kits} welcome kit(s) recorded and {len(dispatched)} dispatched")
    if ended_by_platform(run):
        return
    want = 1 if row.get("status") == "ACTIVE" else 0
    assert kits == want and len(dispatched) == want, (
        f"account {event['user_id']} ({row.get('status')}) got {kits} welcome kit(s) recorded and "
        f"{len(dispatched)} dispatched, not {want}")


def paid_once_if_paying(event: dict[str, Any], run: Any) -> None:
    """A paying plan is subscribed exactly once when the account is active, never when it expired."""
    row = item(run, "users", event["user_id"]) or {}
    subscriptions = http_requests(run, SUBSCRIBE)
    assert subscriptions <= 1, f"account {event['user_id']} was subscribed {subscriptions} times"
    if ended_by_platform(run):
        return
    want = 1 if row.get("status") == "ACTIVE" and PRICES[event["plan"]] else 0
    assert subscriptions == want, (
        f"account {event['user_id']} ({row.get('status')}, plan {event['plan']}) was subscribed "
        f"{plural(subscriptions, 'time')}, not {want}")


_M = "chaosdurable.scenarios.onboarding"
SCENARIO = Scenario(
    name="user-onboarding",
    description=__doc__.strip().splitlines()[0],
    inputs=signups,
    sample=SAMPLE,
    variants=(
        Variant("correct", onboarding_correct, f"{_M}:onboarding_correct"),
        Variant("kit-counter", onboarding_kit_counter, f"{_M}:onboarding_kit_counter",
                bug="The welcome kit is counted with a DynamoDB ADD in an at-least-once step, so a crash after "
                    "the update sends the customer a second kit."),
        Variant("verification-timeout-unhandled", onboarding_timeout_unhandled,
                f"{_M}:onboarding_timeout_unhandled",
                bug="The e-mail verification's timeout is not handled, so an address never verified fails the "
                    "execution and leaves the account PENDING forever."),
    ),
    invariants=(account_settled, one_welcome_kit, paid_once_if_paying),
    setup=setup,
    callbacks={"verify-email": Answer(result={"verified": True}, delay=3_600)},
    http=http_mock,
    tags=("dynamodb", "sqs", "s3", "ses", "http", "callback"),
)
