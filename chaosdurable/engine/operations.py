"""The service-side record of one durable operation, and its wire form for the SDK.

An ``OpRecord`` is mutable and owned by one ``Execution``; every mutation goes through
``Execution.touch`` so the engine knows which operations the handler has not yet seen.
``to_sdk`` renders it as the SDK's ``Operation`` with timestamps in the invocation's
real-time frame (see ``clock.SdkFrame``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import (
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    ErrorObject,
    ExecutionDetails,
    Operation,
    OperationStatus,
    OperationType,
    StepDetails,
    WaitDetails,
)

from chaosdurable import sdk_compat
from chaosdurable.engine.clock import SdkFrame

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
_TYPES = {member.value: member for member in OperationType}
_STATUSES = {member.value: member for member in OperationStatus}


@dataclass
class OpRecord:
    """One operation as the service stores it."""

    id: str
    type: str
    status: str
    start_ms: int
    sub_type: str | None = None
    name: str | None = None
    parent_id: str | None = None
    end_ms: int | None = None
    mod_seq: int = 0
    # payloads
    result: str | None = None
    error: dict[str, Any] | None = None
    input_payload: str | None = None
    # STEP
    attempt: int = 0
    next_attempt_ms: int | None = None
    # WAIT
    wait_seconds: int | None = None
    scheduled_end_ms: int | None = None
    # CALLBACK
    callback_id: str | None = None
    callback_timeout_s: int = 0
    heartbeat_timeout_s: int = 0
    # CONTEXT
    replay_children: bool = False
    # CHAINED_INVOKE
    function_name: str | None = None
    tenant_id: str | None = None
    child_arn: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """True once the operation can never change again (S1)."""
        return self.status in TERMINAL

    def to_sdk(self, frame: SdkFrame) -> Operation:
        """The SDK ``Operation`` for this record, timestamps in the SDK's real-time frame."""
        err = ErrorObject.from_dict(self.error) if self.error else None
        kind = self.type
        return Operation(
            operation_id=self.id,
            operation_type=_TYPES.get(kind) or OperationType(kind),
            status=_STATUSES.get(self.status) or OperationStatus(self.status),
            parent_id=self.parent_id,
            name=self.name,
            start_timestamp=frame.to_sdk(self.start_ms),
            end_timestamp=frame.to_sdk(self.end_ms) if self.end_ms is not None else None,
            sub_type=sdk_compat.sdk_sub_type(self.sub_type),
            execution_details=ExecutionDetails(input_payload=self.input_payload)
            if kind == "EXECUTION"
            else None,
            context_details=ContextDetails(
                replay_children=self.replay_children, result=self.result, error=err
            )
            if kind == "CONTEXT"
            else None,
            step_details=StepDetails(
                attempt=self.attempt,
                next_attempt_timestamp=frame.to_sdk(self.next_attempt_ms)
                if self.next_attempt_ms is not None
                else None,
                result=self.result,
                error=err,
            )
            if kind == "STEP"
            else None,
            wait_details=WaitDetails(
                scheduled_end_timestamp=frame.to_sdk(self.scheduled_end_ms)
                if self.scheduled_end_ms is not None
                else None
            )
            if kind == "WAIT"
            else None,
            callback_details=CallbackDetails(callback_id=self.callback_id or "", result=self.result, error=err)
            if kind == "CALLBACK"
            else None,
            chained_invoke_details=ChainedInvokeDetails(result=self.result, error=err)
            if kind == "CHAINED_INVOKE"
            else None,
        )

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict view (virtual timestamps in ms) for results, checkers and reports."""
        out: dict[str, Any] = {
            "Id": self.id,
            "Type": self.type,
            "Status": self.status,
            "StartTimestamp": self.start_ms,
        }
        for key, value in (
            ("SubType", self.sub_type),
            ("Name", self.name),
            ("ParentId", self.parent_id),
            ("EndTimestamp", self.end_ms),
            ("Result", self.result),
            ("Error", self.error),
        ):
            if value is not None:
                out[key] = value
        if self.type == "STEP":
            out["Attempt"] = self.attempt
            if self.next_attempt_ms is not None:
                out["NextAttemptTimestamp"] = self.next_attempt_ms
        if self.type == "WAIT":
            out["ScheduledEndTimestamp"] = self.scheduled_end_ms
        if self.type == "CALLBACK":
            out["CallbackId"] = self.callback_id
        if self.type == "CHAINED_INVOKE":
            out["FunctionName"] = self.function_name
        return out
