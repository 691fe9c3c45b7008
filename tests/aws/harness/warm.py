"""Preloaded by the sandbox forkserver: botocore's service models for the clients a handler
makes (lambda for the SDK, dynamodb for the test handlers), loaded once into the default
session's loader cache -- what a warm Lambda runtime would have paid for already. No client
made here is kept; credentials and endpoints are read when the child makes its own."""

from __future__ import annotations

import boto3

for _service in ("lambda", "dynamodb"):
    boto3.client(_service, region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm")
