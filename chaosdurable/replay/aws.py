"""Reading one execution's history from AWS, behind the AWS gate.

Contract: ``fetch_history(arn)`` first passes the execution ARN's function through
``chaosdurable.deployed.safety.gate`` (the ``CHAOSDURABLE_ALLOW_AWS=1`` switch, then the
account/function allowlist); a refusal becomes a ``HistoryError`` (exit 2) carrying the gate's
message. Only then does it read every page with boto3's ``get_durable_execution_history``
paginator (``IncludeExecutionData=True``) and merge them like a saved export. ``client`` is a
boto3 Lambda client (tests pass one wrapped in a botocore ``Stubber``); without it one is
created for the ARN's region. Nothing else is sent to AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from chaosdurable.deployed.safety import Allowlist, AwsRefused, gate
from chaosdurable.replay.load import HistoryError, RecordedHistory, from_document


def fetch_history(arn: str, *, client: Any = None, allowlist: Allowlist | str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None, sts_client: Any = None) -> RecordedHistory:
    """The history of the durable execution ``arn``, read through the AWS gate (see the module docstring)."""
    if "/durable-execution/" not in arn:
        raise HistoryError(f"{arn!r} is not a durable execution ARN (expected arn:aws:lambda:REGION:ACCOUNT:"
                           "function:NAME:QUALIFIER/durable-execution/EXECUTION-NAME/EXECUTION-ID)")
    try:
        target = gate(arn, allowlist=allowlist, environ=environ, sts_client=sts_client)
    except AwsRefused as exc:
        raise HistoryError(f"cannot read {arn}: {exc}") from None
    if client is None:
        import boto3

        client = boto3.client("lambda", region_name=target.region)
    paginator = client.get_paginator("get_durable_execution_history")
    try:
        pages = list(paginator.paginate(DurableExecutionArn=arn, IncludeExecutionData=True))
    except Exception as exc:  # botocore ClientError and friends: say which call failed
        raise HistoryError(f"cannot read {arn}: GetDurableExecutionHistory failed ({exc})") from None
    history = from_document(pages, arn)
    return RecordedHistory(source=arn, events=history.events, meta={**history.meta, "arn": arn})
