"""BACKEND: the in-memory emulation of the Lambda durable execution service."""

from chaosdurable.engine.errors import (
    ChaosDurableError,
    ExecutionNameConflictError,
    ExecutionStuckError,
    NotDurableHandlerError,
    PayloadNotJsonError,
    UnknownCallbackError,
    UnknownExecutionError,
    UnknownInvokeTargetError,
)
from chaosdurable.engine.knobs import InvocationRetry, Knobs, Limits
from chaosdurable.engine.runner import DurableRunner, ExecutionResult, PendingCallback

__all__ = [
    "ChaosDurableError",
    "DurableRunner",
    "ExecutionNameConflictError",
    "ExecutionResult",
    "ExecutionStuckError",
    "InvocationRetry",
    "Knobs",
    "Limits",
    "NotDurableHandlerError",
    "PayloadNotJsonError",
    "PendingCallback",
    "UnknownCallbackError",
    "UnknownExecutionError",
    "UnknownInvokeTargetError",
]
