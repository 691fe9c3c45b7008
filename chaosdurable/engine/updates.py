"""Applying one validated checkpoint update: the operation state machine and its history events.

Contract: ``UpdateApplier._apply`` is called by ``Service`` under its lock, once per update of an
accepted batch, with the batch's virtual time ``now``. It mutates the execution's operation
records, appends the history events AWS writes for that transition, arms the timers the
transition needs (wait end, retry, callback timeout and heartbeat) and queues invoke targets.
It never calls the handler and never advances the clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_durable_execution_sdk_python.lambda_service import OperationUpdate

from chaosdurable import sdk_compat
from chaosdurable.engine.clock import ms_to_datetime
from chaosdurable.engine.execution import Execution
from chaosdurable.engine.history import error_field, payload_field
from chaosdurable.engine.knobs import Knobs
from chaosdurable.engine.operations import OpRecord

if TYPE_CHECKING:
    from chaosdurable.engine.service import FunctionSpec


def _dt(ms: int) -> Any:
    return ms_to_datetime(ms)


class UpdateApplier:
    """The update half of ``Service``: what each accepted OperationUpdate does to the state."""

    knobs: Knobs
    interceptor: Any
    functions: dict[str, FunctionSpec]
    _callbacks: dict[str, tuple[str, str]]
    _work: deque[tuple[str, str, str | None]]
    op_path: Callable[[Execution, OpRecord], str | None]
    _add_timer: Callable[..., None]
    _arm_heartbeat: Callable[[Execution, OpRecord, int], None]
    _derived_uuid: Callable[..., str]
    _complete_invoke: Callable[..., None]

    def _apply(self, ex: Execution, u: OperationUpdate, now: int) -> bool:
        """Apply one validated update and write its history event. True if it ends the execution."""
        kind, action = u.operation_type._value_, u.action._value_  # (_value_: the enum property is slow)
        err = dict(u.error.to_dict()) if u.error else None
        if kind == "EXECUTION":
            ex.checkpointed_outcome = ("SUCCEEDED", u.payload, None) if action == "SUCCEED" else ("FAILED", None, err)
            return True
        op = ex.ops.get(u.operation_id)
        if op is None:
            op = OpRecord(id=u.operation_id, type=kind, status="STARTED", start_ms=now, sub_type=sdk_compat.sub_type(u),
                          name=u.name, parent_id=u.parent_id)
            ex.ops[op.id] = op
        if kind == "STEP":
            self._apply_step(ex, op, u, action, err, now)
        elif kind == "WAIT":
            if action == "START":
                seconds = u.wait_options.wait_seconds if u.wait_options else 1
                op.wait_seconds = seconds
                op.scheduled_end_ms = now + seconds * 1000
                ex.event("WaitStarted", now, {"Duration": seconds,
                                              "ScheduledEndTimestamp": _dt(op.scheduled_end_ms)}, op)
                late = self.interceptor.timer_delay_ms(ex.arn, "wait", op.name, self.op_path(ex, op), op_id=op.id)
                op.scheduled_end_ms += late
                self._add_timer(op.scheduled_end_ms, "wait", ex.arn, op.id)
            else:
                op.status, op.end_ms, op.error = "CANCELLED", now, err
                ex.event("WaitCancelled", now, {"Error": error_field(err)} if err else {}, op)
        elif kind == "CALLBACK":
            if action == "START":
                opts = u.callback_options
                op.callback_timeout_s = opts.timeout_seconds if opts else 0
                op.heartbeat_timeout_s = opts.heartbeat_timeout_seconds if opts else 0
                op.callback_id = ex.callback_id_for(op.id)
                self._callbacks[op.callback_id] = (ex.arn, op.id)
                details: dict[str, Any] = {"CallbackId": op.callback_id}
                if op.heartbeat_timeout_s:
                    details["HeartbeatTimeout"] = op.heartbeat_timeout_s
                    self._arm_heartbeat(ex, op, now)
                if op.callback_timeout_s:
                    details["Timeout"] = op.callback_timeout_s
                    self._add_timer(now + op.callback_timeout_s * 1000, "cb_timeout", ex.arn, op.id)
                ex.event("CallbackStarted", now, details, op)
            else:
                op.status, op.end_ms = "CANCELLED", now
        elif kind == "CONTEXT":
            if action == "START":
                ex.event("ContextStarted", now, {}, op)
            elif action == "SUCCEED":
                op.status, op.end_ms, op.result = "SUCCEEDED", now, u.payload
                op.replay_children = bool(u.context_options and u.context_options.replay_children)
                ex.event("ContextSucceeded", now, {"Result": payload_field(u.payload)}, op)
            else:
                op.status, op.end_ms, op.error = "FAILED", now, err
                ex.event("ContextFailed", now, {"Error": error_field(err)}, op)
        elif kind == "CHAINED_INVOKE":
            self._apply_invoke_start(ex, op, u, now)
        ex.touch(op)
        return False

    def _apply_step(self, ex: Execution, op: OpRecord, u: OperationUpdate, action: str,
                    err: dict[str, Any] | None, now: int) -> None:
        if action == "START":
            op.status = "STARTED"
            op.next_attempt_ms = None
            if self.knobs.clear_step_result_on_start:
                op.result = None
            ex.event("StepStarted", now, {}, op)
            return
        op.attempt += 1
        retry: dict[str, Any] = {"CurrentAttempt": op.attempt}
        if action == "RETRY":
            delay = u.step_options.next_attempt_delay_seconds if u.step_options else 1
            op.status, op.error = "PENDING", err
            if u.payload is not None:
                op.result = u.payload
            op.next_attempt_ms = now + delay * 1000 + self.interceptor.timer_delay_ms(
                ex.arn, "retry", op.name, self.op_path(ex, op), op_id=op.id)
            retry["NextAttemptDelaySeconds"] = delay
            self._add_timer(op.next_attempt_ms, "retry", ex.arn, op.id)
            if err is None:
                ex.event("StepSucceeded", now, {"Result": payload_field(u.payload), "RetryDetails": retry}, op)
            else:
                ex.event("StepFailed", now, {"Error": error_field(err), "RetryDetails": retry}, op)
        elif action == "SUCCEED":
            op.status, op.end_ms, op.result, op.error = "SUCCEEDED", now, u.payload, None
            op.next_attempt_ms = None
            details: dict[str, Any] = {}
            if u.payload is not None:
                details["Result"] = payload_field(u.payload)
            details["RetryDetails"] = retry
            ex.event("StepSucceeded", now, details, op)
        else:
            op.status, op.end_ms, op.error = "FAILED", now, err
            op.next_attempt_ms = None
            ex.event("StepFailed", now, {"Error": error_field(err), "RetryDetails": retry}, op)

    def _apply_invoke_start(self, ex: Execution, op: OpRecord, u: OperationUpdate, now: int) -> None:
        opts = u.chained_invoke_options
        fn = opts.function_name if opts else ""
        op.function_name, op.tenant_id, op.input_payload = fn, (opts.tenant_id if opts else None), u.payload
        spec = self.functions.get(fn)
        if spec is not None and spec.durable:
            child_id = self._derived_uuid("child", ex.arn, op.id)
            op.child_arn = f"{spec.arn}/durable-execution/{child_id}/{child_id}"
        details: dict[str, Any] = {
            "FunctionName": spec.arn if spec else fn,
            "Input": payload_field(u.payload),
            "ExecutedVersion": "$LATEST",
            # UNKNOWN for plain targets on AWS; we report the invoked function's execution ARN slot anyway.
            "DurableExecutionArn": op.child_arn or (f"{spec.arn}/invocation/{op.id}" if spec else ""),
        }
        if op.tenant_id:
            details["TenantId"] = op.tenant_id
        ex.event("ChainedInvokeStarted", now, details, op)
        if spec is None:
            known = ", ".join(sorted(self.functions)) or "none"
            message = (f"Function not found: {fn!r} is not a registered invoke target (registered: {known}). "
                       f"Register it with runner.register_function({fn!r}, fn) or "
                       f"runner.register_durable_function({fn!r}, handler), or pass targets={{{fn!r}: fn}} to "
                       "check() or chaosdurable.given.")
            ex.diagnostics.append(message)
            self._complete_invoke(ex, op, "FAILED", error={"ErrorType": "ResourceNotFoundException",
                                                           "ErrorMessage": message}, touch=False)
            return
        self._work.append(("target", ex.arn, op.id))
