"""The SDK-facing seam: our implementation of the SDK's ``DurableServiceClient`` protocol.

The SDK receives this object inside ``DurableExecutionInvocationInputWithClient`` and
calls ``checkpoint`` / ``get_execution_state`` from its background batcher thread. It
translates service rejections into the SDK's own ``CheckpointError`` /
``GetExecutionStateError`` with the AWS error code and HTTP status, so the SDK classifies
them exactly as it would a boto3 ``ClientError``. It never raises a ``BaseException``
that is not an ``Exception`` (that would hang the SDK's batcher; notes §1.3).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from aws_durable_execution_sdk_python.exceptions import (
    BotoClientError,
    CheckpointError,
    GetExecutionStateError,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    OperationUpdate,
    StateOutput,
)

from chaosdurable.engine.execution import CheckpointRejected

if TYPE_CHECKING:
    from chaosdurable.engine.service import Service


def to_sdk_error(rejection: CheckpointRejected, kind: type[BotoClientError]) -> BotoClientError:
    """The SDK error a boto3 client would have produced for this AWS error response."""
    error = {"Code": rejection.code, "Message": rejection.message}
    metadata = {"HTTPStatusCode": rejection.status}
    category = kind._classify_error_category(error, metadata)  # type: ignore[arg-type]
    return kind(rejection.message, error_category=category, error=error, response_metadata=metadata)  # type: ignore[arg-type]


class EngineServiceClient:
    """A ``DurableServiceClient`` bound to one invocation of one execution."""

    def __init__(self, service: Service, arn: str, invocation_index: int, copy: int = 0) -> None:
        self._service = service
        self._arn = arn
        self._invocation_index = invocation_index
        self.copy = copy

    @property
    def invocation(self) -> tuple[str, int, int]:
        """(execution ARN, invocation index, delivery copy) this client serves."""
        return (self._arn, self._invocation_index, self.copy)

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[OperationUpdate],
        client_token: str | None,
    ) -> CheckpointOutput:
        """Apply one batch through the service; rejections become ``CheckpointError``."""
        profile = sys.getprofile()
        if profile is not None:  # the tripwire's hook: the service runs no user code, so it is not watched
            sys.setprofile(None)
        try:
            return self._service.checkpoint(
                durable_execution_arn, checkpoint_token, list(updates), self._invocation_index, self.copy
            )
        except CheckpointRejected as rejected:
            raise to_sdk_error(rejected, CheckpointError) from None
        finally:
            if profile is not None:
                sys.setprofile(profile)

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> StateOutput:
        """Serve one page of operations; rejections become ``GetExecutionStateError``."""
        profile = sys.getprofile()
        if profile is not None:
            sys.setprofile(None)
        try:
            return self._service.get_execution_state(
                durable_execution_arn, checkpoint_token, next_marker, max_items, self._invocation_index
            )
        except CheckpointRejected as rejected:
            raise to_sdk_error(rejected, GetExecutionStateError) from None
        finally:
            if profile is not None:
                sys.setprofile(profile)
