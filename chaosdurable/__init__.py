"""chaosdurable: property-based correctness and chaos testing for AWS Lambda durable functions."""

from chaosdurable.checks import Violation
from chaosdurable.engine import (
    ChaosDurableError,
    DurableRunner,
    ExecutionResult,
    ExecutionStuckError,
    Knobs,
    NotDurableHandlerError,
    PayloadNotJsonError,
    UnknownCallbackError,
)
from chaosdurable.events import CallbackRequest, EventStream, InOrder
from chaosdurable.faults import (
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    EventRedelivery,
    EventSwap,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    ScheduleError,
    TransientFailure,
    provenance,
)
from chaosdurable.history.http import RealNetworkRefused
from chaosdurable.history.ledger import effect
from chaosdurable.run import Answer
from chaosdurable.verdict import Verdict, check


def given(*args, **kwargs):
    """Turn a test into a chaos property (see ``chaosdurable.pytest_plugin.given``)."""
    from chaosdurable.pytest_plugin import given as _given

    return _given(*args, **kwargs)


__all__ = [
    "Answer",
    "CallbackFault",
    "CallbackRequest",
    "ChaosDurableError",
    "CheckpointApiError",
    "ColdStart",
    "CrashAfterEffect",
    "CrashAtCheckpoint",
    "DuplicateInvocation",
    "DurableRunner",
    "EventRedelivery",
    "EventStream",
    "EventSwap",
    "ExecutionResult",
    "ExecutionStuckError",
    "FaultSchedule",
    "InOrder",
    "InvocationTimeout",
    "Knobs",
    "LateTimer",
    "NotDurableHandlerError",
    "PayloadNotJsonError",
    "RealNetworkRefused",
    "ScheduleError",
    "TransientFailure",
    "UnknownCallbackError",
    "Verdict",
    "Violation",
    "check",
    "effect",
    "given",
    "provenance",
]
__version__ = "0.1.0"
