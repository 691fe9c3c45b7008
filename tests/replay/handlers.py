"""Handler versions for the replay tests: v1, and edits of it that do or do not replay.

Every line the tests expect a divergence at carries a ``# MARK: <name>`` comment; the tests
find its line number with ``line_of``. Keep each variant's operations in the same places as
``v1`` except for its one edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration

INPUT = {"id": "acct-7", "amount": 12}


def line_of(mark: str) -> str:
    """``tests/replay/handlers.py:N`` of the line carrying ``# MARK: <mark>``."""
    lines = Path(__file__).read_text().splitlines()
    number = next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# MARK: {mark}"))
    return f"tests/replay/handlers.py:{number}"


def scorer(event: Any, context: Any) -> dict[str, Any]:
    """The plain Lambda the workflow invokes."""
    return {"score": len(str(event))}


@durable_execution
def v1(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Fetch, enrich, cool down, score, wait for approval, return a summary."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


def _fetch(ctx: DurableContext, event: dict[str, Any]) -> dict[str, Any]:
    return ctx.step(lambda _: {"id": event["id"]}, name="fetch")


def _summary(account: dict[str, Any], extra: int, score: Any, answer: Any) -> dict[str, Any]:
    return {"answer": answer, "score": score, "extra": extra, "account": account["id"]}


@durable_execution
def refactored(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 restructured (helpers, reordered dict keys, other lambdas): the same operations."""
    account = _fetch(context, event)
    amount = event["amount"]
    extra = context.step(lambda _step: amount + amount, name="enrich")
    context.wait(Duration.from_minutes(1), name="cool-down")
    payload = {"amount": extra, "id": account["id"]}
    score = context.invoke("scorer", payload, name="score")
    answer = context.create_callback(name="approval",
                                     config=CallbackConfig(timeout=Duration.from_seconds(3600))).result()
    return _summary(account, extra, score, answer)


@durable_execution
def renamed(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 with the first step renamed."""
    account = context.step(lambda _: {"id": event["id"]}, name="load-account")  # MARK: renamed
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def reordered(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 with its two steps swapped."""
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")  # MARK: reordered
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def longer_wait(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 cooling down for two minutes instead of one."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(120), name="cool-down")  # MARK: wait
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def new_payload(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 invoking the scorer with a different payload."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra, "v": 2}, name="score")  # MARK: payload
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def new_result(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 returning a different summary from the same operations."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra + 1, "score": score, "answer": answer}  # MARK: result


@durable_execution
def shorter_callback(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 giving the approver 30 minutes instead of an hour."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    half_hour = CallbackConfig(timeout=Duration.from_minutes(30))
    approval = context.create_callback(name="approval", config=half_hour)  # MARK: callback
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def extra_step(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 with an audit step added after the approval."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    context.wait(Duration.from_seconds(60), name="cool-down")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    context.step(lambda _: "audited", name="audit")  # MARK: audit
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}


@durable_execution
def dropped_wait(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """v1 without its cool-down (the invoke takes the wait's place)."""
    account = context.step(lambda _: {"id": event["id"]}, name="fetch")
    extra = context.step(lambda _: event["amount"] * 2, name="enrich")
    score = context.invoke("scorer", {"id": account["id"], "amount": extra}, name="score")  # MARK: dropped
    approval = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_hours(1)))
    answer = approval.result()
    return {"account": account["id"], "extra": extra, "score": score, "answer": answer}
