"""A zero-cost engine: the least a service can do and still run a workload to its end.

It is the benchmark's second floor (``benchmarks/engine.py``, column "zero-cost"): the SDK through
its seam, with every guarded speed-up chaosdurable itself uses (``engine.speedups``), and a service
that only keeps the operations and hands them back. No history, no tokens checked, no validation,
no nemesis, no recorder, no virtual clock: a wait completes the moment the invocation suspends, a
callback is answered the moment it is pending. What chaosdurable adds on top of this is what its
engine costs; ``engine.py`` prints that ratio per workload.

It is not an emulator (nothing here is checked against the service's rules) and it runs only
the benchmark's five workloads: steps, map, one wait, one callback.
"""

from __future__ import annotations

import json
from typing import Any

from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInputWithClient,
    InitialExecutionState,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    Operation,
    OperationUpdate,
)

from chaosdurable.engine import speedups
from chaosdurable.engine.invoker import LambdaContextStub

#: the SDK finds the execution operation by the ARN's last segment
ARN = "arn:aws:lambda:us-east-1:123456789012:function:zero/durable-execution/zero/zero"
_STATUS = {"START": "STARTED", "SUCCEED": "SUCCEEDED", "FAIL": "FAILED", "RETRY": "READY", "CANCEL": "CANCELLED"}


class ZeroCostService:
    """Keeps operations as plain dicts; returns only the operations a checkpoint must hand back."""

    def __init__(self, input_payload: str) -> None:
        self.ops: dict[str, dict[str, Any]] = {
            "zero": {"Id": "zero", "Type": "EXECUTION", "Status": "STARTED",
                     "ExecutionDetails": {"InputPayload": input_payload}}}
        self.count = 0

    def checkpoint(self, durable_execution_arn: str, checkpoint_token: str, updates: list[OperationUpdate],
                   client_token: str | None) -> CheckpointOutput:
        """Apply the updates; hand back the operations they touched (as the service does: the SDK
        reads a new callback's id, and a map's children's outcomes, from them)."""
        self.count += 1
        back: list[Operation] = []
        for u in updates:
            kind, action = u.operation_type.value, u.action.value
            op = self.ops.setdefault(u.operation_id, {"Id": u.operation_id, "Type": kind, "Name": u.name,
                                                      "ParentId": u.parent_id, "SubType": u.sub_type})
            op["Status"] = _STATUS[action]
            if kind == "STEP":
                op["StepDetails"] = {"Result": u.payload, "Attempt": 1}
            elif kind == "CONTEXT":
                op["ContextDetails"] = {"Result": u.payload}
            elif kind == "WAIT":
                op["WaitDetails"] = {}
            elif kind == "CALLBACK" and action == "START":
                op["CallbackDetails"] = {"CallbackId": f"cb-{u.operation_id}"}
            back.append(Operation.from_dict(op))
        return CheckpointOutput(checkpoint_token=f"t{self.count}",
                                new_execution_state=CheckpointUpdatedExecutionState(operations=back))

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        """Never asked: every invocation gets all operations in one page."""
        raise AssertionError("the zero-cost engine hands every operation over in one page")

    def settle(self, callback_result: str) -> None:
        """What time and the outside world would do while the execution is suspended, at once."""
        for op in self.ops.values():
            if op["Type"] == "WAIT" and op["Status"] == "STARTED":
                op["Status"] = "SUCCEEDED"
            elif op["Type"] == "CALLBACK" and op["Status"] == "STARTED":
                op["Status"] = "SUCCEEDED"
                op["CallbackDetails"]["Result"] = callback_result


def run(handler: Any, input: Any, callback_result: str = '"ok"', max_invocations: int = 10) -> tuple[str, Any]:
    """Run ``handler`` to its end on the zero-cost engine: (status, result)."""
    service = ZeroCostService(json.dumps(input))
    context = LambdaContextStub("zero", "zero", "arn:aws:lambda:us-east-1:123456789012:function:zero")
    with speedups.active(True):
        for _ in range(max_invocations):
            event = DurableExecutionInvocationInputWithClient(
                durable_execution_arn=ARN, checkpoint_token="t0",
                initial_execution_state=InitialExecutionState(
                    [Operation.from_dict(op) for op in service.ops.values()], ""),
                service_client=service)
            out = handler(event, context)
            if out["Status"] != "PENDING":
                return out["Status"], json.loads(out["Result"]) if out.get("Result") else None
            service.settle(callback_result)
    raise AssertionError(f"no outcome after {max_invocations} invocations")
