"""Handlers for the safety tests (importable, so subprocess mode can load them)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.retries import RetryPresets

NO_RETRY = StepConfig(retry_strategy=RetryPresets.none())


@durable_execution
def lists_queues(event: Any, context: DurableContext) -> list[str]:
    """Calls SQS from a step."""
    return context.step(lambda _: boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", []),
                        name="list-queues", config=NO_RETRY)


@durable_execution
def reports_aws_endpoint(event: Any, context: DurableContext) -> str | None:
    """Returns where this process would send AWS calls."""
    return context.step(lambda _: os.environ.get("AWS_ENDPOINT_URL"), name="endpoint")
