"""NEMESIS: fault schedules (``schedule``) and the interceptor that applies them (``nemesis``)."""

from chaosdurable.faults.events import EventRedelivery, EventSwap
from chaosdurable.faults.nemesis import Firing, Nemesis
from chaosdurable.faults.schedule import (
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    Fault,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    ScheduleError,
    TransientFailure,
)

__all__ = [
    "CallbackFault",
    "CheckpointApiError",
    "ColdStart",
    "CrashAfterEffect",
    "CrashAtCheckpoint",
    "DuplicateInvocation",
    "EventRedelivery",
    "EventSwap",
    "Fault",
    "FaultSchedule",
    "Firing",
    "InvocationTimeout",
    "LateTimer",
    "Nemesis",
    "ScheduleError",
    "TransientFailure",
]
