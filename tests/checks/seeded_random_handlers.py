"""Handlers that draw from ``random`` (``test_seeded_random``; a module of its own for subprocess mode)."""

from __future__ import annotations

import random
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def mints_a_random_order_number(event: Any, context: DurableContext) -> dict[str, Any]:
    """Correct: the number is drawn in a step, so every replay reads the checkpointed one."""
    number = context.step(lambda _: random.randint(10**8, 10**9), name="order-number")
    confirmation = context.step(lambda _: f"confirmed {number}", name="confirm")
    return {"number": number, "confirmation": confirmation}


JURORS = ["adeyemi", "bergstrom", "castellanos", "dubois", "esposito"]


def setup() -> None:
    import boto3

    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="invites")


@durable_execution
def draws_a_jury_after_registering(event: Any, context: DurableContext) -> list[str]:
    """Correct: the panel is drawn in a step (checkpointed) and each juror is invited once, in a step of its own.
    A crash at 'register' moves 'draw-panel' to the next invocation: it runs once all the same."""
    import boto3

    context.step(lambda _: "registered", name="register")
    panel = context.step(lambda _: sorted(random.sample(JURORS, 3)), name="draw-panel")

    def invite(juror: str) -> str:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.get_queue_url(QueueName="invites")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=juror)
        return juror

    for juror in panel:
        context.step(lambda _, j=juror: invite(j), name=f"invite-{juror}")
    return list(panel)


@durable_execution
def invites_while_drawing(event: Any, context: DurableContext) -> list[str]:
    """BUG: the invitations go out inside the drawing step: a re-run draws another jury and invites it too."""
    import boto3

    def draw_and_invite(_: Any) -> list[str]:
        panel = sorted(random.sample(JURORS, 3))
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.get_queue_url(QueueName="invites")["QueueUrl"]
        for juror in panel:
            sqs.send_message(QueueUrl=url, MessageBody=juror)
        return panel

    context.step(lambda _: "registered", name="register")
    return list(context.step(draw_and_invite, name="draw-panel"))
