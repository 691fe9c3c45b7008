"""The moto world covers SMS sent through SNS (publish with PhoneNumber), not only topic messages."""

from __future__ import annotations

from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import CrashAfterEffect, FaultSchedule, check


def no_resources() -> None:
    """Nothing to provision: SMS needs no topic."""


@durable_execution
def remind_by_sms(event: dict[str, Any], context: DurableContext) -> str:
    """BUG: the SMS goes out from an at-least-once step; a crash after sending sends it again."""
    def send(_: Any) -> str:
        boto3.client("sns", region_name="us-east-1").publish(PhoneNumber="+15555550100", Message="see you at 9")
        return "sent"

    return context.step(send, name="sms")


def test_a_repeated_sms_is_a_world_difference() -> None:
    schedule = FaultSchedule((CrashAfterEffect(effect="aws:sns.Publish"),))
    verdict = check(remind_by_sms, {}, schedule, setup=no_resources)
    assert verdict.fired
    (violation,) = verdict.by_checker("idempotency")
    assert any("sns:sms" in line for line in violation.detail), violation.describe()


def test_one_sms_is_the_same_world() -> None:
    verdict = check(remind_by_sms, {}, setup=no_resources)
    assert verdict.ok, verdict.report()
    assert verdict.chaotic.world is not None and verdict.chaotic.world["sns:sms"] == ["+15555550100 <- see you at 9"]
