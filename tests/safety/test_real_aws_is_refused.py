"""Nothing reaches a real AWS account unless the user explicitly allowed it."""

from __future__ import annotations

import boto3
import pytest

from chaosdurable import DurableRunner, check
from chaosdurable.history.ledger import RealAwsRefused
from tests.safety import handlers


def test_aws_call_without_a_moto_world_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-would-be-real")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "would-be-real")
    with pytest.raises(RealAwsRefused) as refused:
        check(handlers.lists_queues, None)
    assert "the handler called AWS (sqs.ListQueues) while no moto world was active" in str(refused.value)
    assert "Pass setup=" in str(refused.value)


def test_a_refusal_the_handler_swallows_is_still_reported() -> None:
    from aws_durable_execution_sdk_python import durable_execution

    @durable_execution
    def tolerant(event: object, context: object) -> str:
        def count(_: object) -> str:
            try:
                boto3.client("sqs", region_name="us-east-1").list_queues()
            except Exception:  # a handler that tolerates its dependency's failures
                return "unknown"
            return "known"

        return context.step(count, name="count")  # type: ignore[attr-defined, no-any-return]

    with pytest.raises(RealAwsRefused, match=r"sqs\.ListQueues"):
        check(tolerant, None)


def test_the_same_call_inside_moto_goes_to_moto() -> None:
    verdict = check(handlers.lists_queues, None,
                    setup=lambda: boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="q"))
    assert verdict.ok, verdict.report()
    assert verdict.reference.result == ["https://sqs.us-east-1.amazonaws.com/123456789012/q"]


def test_subprocess_children_point_aws_at_a_closed_local_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSDURABLE_ALLOW_REAL_AWS", raising=False)
    result = DurableRunner(handlers.reports_aws_endpoint, mode="subprocess").run()
    assert result.result == "http://127.0.0.1:9"
