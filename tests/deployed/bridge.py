"""Test harness: the SDK runs as on Lambda (a Lambda-shaped event, its own boto3 client), and the
engine answers that client's two durable calls instead of the network.

``lambda_shaped(runner)`` wraps the runner's invoker: each invocation's event is handed to the
handler as the JSON dict Lambda would deliver (``DurableExecutionInvocationInput.to_json_dict``),
so the SDK builds its client with ``LambdaClient.initialize_client()`` -- ``boto3.client("lambda")``
-- exactly as a deployed function does. A botocore ``before-call`` handler registered *last* on that
client answers ``CheckpointDurableExecution`` and ``GetDurableExecutionState`` from the engine's
service client of the current invocation; nothing is sent (the endpoint is 127.0.0.1 anyway).
Handlers registered normally -- the chaos plugin's -- run first, as they would on AWS.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from aws_durable_execution_sdk_python.exceptions import BotoClientError
from aws_durable_execution_sdk_python.lambda_service import LambdaClient, OperationUpdate
from botocore.awsrequest import AWSResponse

from chaosdurable import DurableRunner

_target: dict[str, Any] = {}
_lock = threading.Lock()
_registered: set[int] = set()
BRIDGE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9",
}


def _ok(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}}
    return AWSResponse(url="", status_code=200, headers={}, raw=None), parsed


def _error(exc: BotoClientError) -> tuple[AWSResponse, dict[str, Any]]:
    status = int((exc.response_metadata or {}).get("HTTPStatusCode", 500))
    error = dict(exc.error or {"Code": "ServiceException", "Message": str(exc)})
    return (AWSResponse(url="", status_code=status, headers={}, raw=None),
            {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}})


def _stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["bridge_params"] = dict(params)


def _answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    params = context.get("bridge_params")
    client = _target.get(str((params or {}).get("DurableExecutionArn")))
    if params is None or client is None:
        return None
    try:
        if model.name == "CheckpointDurableExecution":
            updates = [OperationUpdate.from_dict(u) for u in params.get("Updates") or []]
            out = client.checkpoint(params["DurableExecutionArn"], params["CheckpointToken"], updates,
                                    params.get("ClientToken"))
            state = out.new_execution_state
            return _ok({"CheckpointToken": out.checkpoint_token,
                        "NewExecutionState": {"Operations": [op.to_dict() for op in state.operations],
                                              "NextMarker": state.next_marker}})
        page = client.get_execution_state(params["DurableExecutionArn"], params["CheckpointToken"],
                                          params.get("Marker", ""), params.get("MaxItems", 1000))
        return _ok({"Operations": [op.to_dict() for op in page.operations], "NextMarker": page.next_marker})
    except BotoClientError as exc:
        return _error(exc)


def _register(events: Any) -> None:
    with _lock:
        if id(events) in _registered:
            return
        _registered.add(id(events))
    for op in ("CheckpointDurableExecution", "GetDurableExecutionState"):
        events.register_last(f"before-parameter-build.lambda.{op}", _stash, unique_id=f"bridge-stash-{op}")
        events.register_last(f"before-call.lambda.{op}", _answer, unique_id=f"bridge-answer-{op}")


def install() -> None:
    """Answer the SDK's own boto3 client (the cached one if it exists, and any created later)."""
    _register(boto3._get_default_session().events)  # copied into clients created from now on
    if LambdaClient._cached_boto_client is not None:
        _register(LambdaClient._cached_boto_client.meta.events)


class LambdaShapedInvoker:
    """Delegates to the engine's invoker with the event Lambda would deliver."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def invoke(self, handler: Any, event: Any, context: Any, abort: threading.Event | None = None) -> Any:
        """Route this invocation's boto3 calls to its engine client, and run it with a dict event."""
        _target[event.durable_execution_arn] = event.service_client
        return self._inner.invoke(handler, dict(event.to_json_dict()), context, abort)


def lambda_shaped(runner: DurableRunner) -> DurableRunner:
    """``runner`` with its in-process invoker delivering Lambda-shaped events (see the module doc)."""
    install()
    runner.service.invoker = LambdaShapedInvoker(runner.service.invoker)
    return runner
