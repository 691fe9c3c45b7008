"""NEMESIS: fault schedules (``schedule``) and the interceptor that applies them (``nemesis``).

``provenance(fault)`` says whether a fault is documented, observed or assumed, and its source."""

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
    Provenance,
    ScheduleError,
    TransientFailure,
    is_assumed,
    provenance,
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
    "Provenance",
    "ScheduleError",
    "TransientFailure",
    "is_assumed",
    "provenance",
]
