"""NEMESIS: turns a ``FaultSchedule`` into decisions at the engine's interception points.

Contract: every fault fires at most once, at the first site that matches all of its
coordinates; ``fired`` records where, in words; faults that never fire are reported as
"not reached" by ``not_reached()``. Decisions depend only on stable coordinates, so the
same schedule gives the same run.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
from dataclasses import dataclass
from typing import Any

from chaosdurable.engine.interception import PROCEED, CheckpointSite, Intervention
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
    TransientFailure,
)
from chaosdurable.history.record import Where

_API_ERRORS = {
    "throttle": Intervention("reject", "TooManyRequestsException", 429, "Rate exceeded (injected)"),
    "server_error": Intervention("reject", "ServiceException", 500, "Internal error (injected)"),
    "stale_token": Intervention("reject", "InvalidParameterValueException", 400, "Invalid checkpoint token"),
    "client_error": Intervention("reject", "ValidationException", 400, "Invalid request (injected 4xx)"),
}


@dataclass(frozen=True)
class Firing:
    """One fault that fired, and where."""

    index: int
    fault: Fault
    where: str
    #: True when, as it fired, this fault legitimately changed the outcome (e.g. a delay past the timeout)
    changes_outcome: bool = False
    #: True when the change is only a handled failure of one operation (``excuse_step_failures``): the
    #: handler may take another path, but an effect it already made must still not happen twice
    handled_failure: bool = False

    def describe(self) -> str:
        """In words."""
        return f"{self.fault.describe()} -> fired {self.where}"


#: Every injected dependency failure says this in its message (explicit effects and boto3 calls alike).
INJECTED_FAILURE_MARK = "injected failure of"


def _label(callback_name: str | None) -> str | None:
    """A callback as the handler named it (``"approval"``, not ``"approval create callback id"``)."""
    from chaosdurable.engine.runner import callback_label

    return callback_label(callback_name) or callback_name


def _op_matches(pattern: str | None, op_id: str | None, name: str | None, path: str | None) -> bool:
    if pattern is None:
        return True
    for candidate in (op_id, name, path):
        if candidate is not None and (candidate == pattern or fnmatch.fnmatchcase(candidate, pattern)):
            return True
    return bool(path and path.endswith("/" + pattern))


def failed_operation_words(op: dict[str, Any]) -> str:
    """What an operation failed by a fault is called in the fired fault's words: ``step``,
    ``wait_for_condition`` or ``invoke`` (``unhandled_failure`` looks the declaration up by it)."""
    if op.get("Type") == "CHAINED_INVOKE":
        return "invoke"
    return "wait_for_condition" if op.get("SubType") == "WaitForCondition" else "step"


class Nemesis:
    """The engine's ``Interceptor`` for one schedule, plus the effect and callback decisions."""

    def __init__(self, schedule: FaultSchedule, service: Any = None) -> None:
        self.schedule = schedule
        self.service = service
        self.fired: list[Firing] = []
        self._done: set[int] = set()
        #: a fired ``TransientFailure(times=N)``: index -> how many more times it fails
        self._repeats: dict[int, int] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- helpers
    def _take(self, index: int, where: str) -> bool:
        with self._lock:
            if index in self._done:
                return False
            self._done.add(index)
            self.fired.append(Firing(index, self.schedule.faults[index], where))
            return True

    def _pending(self, kind: type[Fault]) -> list[tuple[int, Any]]:
        return [(i, f) for i, f in enumerate(self.schedule.faults) if isinstance(f, kind) and i not in self._done]

    def pending(self, kind: type[Fault]) -> list[tuple[int, Any]]:
        """(index, fault) of the faults of ``kind`` that have not fired yet, in schedule order."""
        return self._pending(kind)

    def take(self, index: int, where: str) -> bool:
        """Fire fault ``index`` (``where`` in words); False if it already fired."""
        return self._take(index, where)

    def declare_outcome_change(self, fault: Fault, why: str, handled_failure: bool = False) -> None:
        """Record that ``fault``, as it fired, legitimately changes the outcome (and why)."""
        with self._lock:
            for k, firing in enumerate(self.fired):
                if firing.fault is fault:
                    handled = handled_failure and (firing.handled_failure or not firing.changes_outcome)
                    self.fired[k] = Firing(firing.index, fault, f"{firing.where}; {why}", changes_outcome=True,
                                           handled_failure=handled)

    def excuse_step_failures(self, expected_ops: list[dict[str, Any]], chaotic_ops: list[dict[str, Any]]) -> None:
        """Declare the outcome changes that a fired fault legitimately causes through an operation's failure.

        These failures are the SDK's contract rather than a bug, when the fault-free run had
        the operation succeed:

        - a STEP failed with ``StepInterruptedError``: an AT_MOST_ONCE_PER_RETRY attempt was
          interrupted (a crash, a timeout, a lost response, a duplicate) and its retry strategy
          allows no further attempt, so the SDK fails the step instead of running its body again;
        - a STEP failed with ``TransientDependencyError``: an injected dependency failure
          outlasted the step's retry budget, as it would in production;
        - a CHAINED_INVOKE of a plain function failed because the target crashed
          (``Runtime.ExitError``) or its dependency failed (``TransientDependencyError``).

        A handler that handles such a failure (a fallback step, a compensation) then ends
        differently, by design. The declaration is attached to the first fault that can cause
        that failure, with the reason in its ``where``; it is a *handled failure*, so checkers
        still count an effect that the run repeats.
        """
        succeeded = {op["Id"] for op in expected_ops if op.get("Status") == "SUCCEEDED"}
        interrupters = ("crash_at_checkpoint", "crash_after_effect", "invocation_timeout", "duplicate_invocation",
                        "checkpoint_error", "cold_start")
        causes = {("STEP", "StepInterruptedError"): (interrupters, "an interrupted at-most-once attempt is not re-run"),
                  ("STEP", "TransientDependencyError"): (("transient_failure",),
                                                        "the injected failure outlasted its retries"),
                  ("CHAINED_INVOKE", "Runtime.ExitError"): (("crash_after_effect",), "its target crashed"),
                  ("CHAINED_INVOKE", "TransientDependencyError"): (("transient_failure",),
                                                                  "its target's dependency failed")}
        for op in chaotic_ops:
            if op.get("Status") != "FAILED" or op["Id"] not in succeeded:
                continue
            error = op.get("Error") or {}
            error_type = str(error.get("ErrorType", ""))
            if INJECTED_FAILURE_MARK in str(error.get("ErrorMessage", "")):
                error_type += " TransientDependencyError"  # an injected boto3 failure arrives as a ClientError
            cause = next((c for (kind, name), c in causes.items() if kind == op.get("Type") and name in error_type),
                         None)
            if cause is None:
                continue
            firing = next((f for f in self.fired if f.fault.kind in cause[0]), None)
            if firing is not None:
                what, reason = failed_operation_words(op), cause[1]
                if what == "wait_for_condition" and "outlasted" in reason:
                    reason = "its check failed by the injected failure: a failing check is not retried"
                self.declare_outcome_change(firing.fault, f"{what} {op.get('Name') or op['Id']!r} failed ({reason})",
                                            handled_failure=True)

    def excuse_early_completion(self, expected_ops: list[dict[str, Any]], chaotic_ops: list[dict[str, Any]]) -> None:
        """Declare the change when a map/parallel that completes early ends with other items done.

        With ``min_successful``, a tolerated failure count or a ``should_complete`` predicate, the
        SDK completes the batch as soon as the criterion holds and leaves the items still running
        as STARTED; which items those are depends on timing, and a fault that delays one item
        (a retry, a crash) legitimately changes the set. Declared as a handled change, so an
        effect the fault-free run made still must not repeat.
        """
        early = ("MIN_SUCCESSFUL_REACHED", "FAILURE_TOLERANCE_EXCEEDED", "CUSTOM_COMPLETION_")
        expected = {op["Id"]: op for op in expected_ops}
        if not self.fired:
            return
        for op in chaotic_ops:
            result = str(op.get("Result") or "")
            before = expected.get(op["Id"])
            if (op.get("Type") != "CONTEXT" or "completionReason" not in result or before is None
                    or not any(reason in result for reason in early) or before.get("Result") == op.get("Result")):
                continue
            self.declare_outcome_change(self.fired[0].fault,
                                        f"batch {op.get('Name') or op['Id']!r} completed early with other items "
                                        "done (which items finish first is timing)", handled_failure=True)

    def not_reached(self) -> list[Fault]:
        """Faults whose coordinates never occurred in the run."""
        return [f for i, f in enumerate(self.schedule.faults) if i not in self._done]

    @staticmethod
    def _site_match(fault: Any, site: CheckpointSite) -> tuple[str, int | None] | None:
        """(where in words, index of the matched update or None for an empty checkpoint), or None."""
        if fault.invocation is not None and fault.invocation != site.invocation:
            return None
        if site.copy != 0:
            return None
        for k, update in enumerate(site.updates):
            if fault.action is not None and update.action.value != fault.action:
                continue
            if not _op_matches(fault.op, update.operation_id, site.names[k], site.paths[k]):
                continue
            if fault.attempt is not None and site.attempts[k] != fault.attempt:
                continue
            # an unnamed operation is shown by id (its path is only '?'); reports put the id in words
            label = (site.paths[k] or site.names[k]) if site.names[k] else update.operation_id
            return f"in invocation {site.invocation} at {update.action.value} of {label!r}", k
        if not site.updates and fault.op is None and fault.action is None and fault.attempt is None:
            return f"in invocation {site.invocation} at an empty (refresh) checkpoint", None
        return None

    # ------------------------------------------------------- engine interceptor
    def before_checkpoint(self, site: CheckpointSite) -> Intervention:
        """Crash before persisting, an API error, or an invocation timeout, at the matched update."""
        for i, fault in self._pending(CrashAtCheckpoint):
            if fault.phase == "before_persist" and (hit := self._site_match(fault, site)) and self._take(i, hit[0]):
                return Intervention("crash", at=hit[1])
        for i, fault in self._pending(CheckpointApiError):
            if fault.error != "no_token" and (hit := self._site_match(fault, site)) and self._take(i, hit[0]):
                return dataclasses.replace(_API_ERRORS[fault.error], at=hit[1])
        for i, fault in self._pending(InvocationTimeout):
            if (hit := self._site_match(fault, site)) and self._take(i, hit[0]):
                return Intervention("timeout", at=hit[1])
        return PROCEED

    def after_checkpoint(self, site: CheckpointSite) -> Intervention:
        """The lost response (crash after persisting the matched update), or a response without a token."""
        for i, fault in self._pending(CrashAtCheckpoint):
            if fault.phase == "after_persist" and (hit := self._site_match(fault, site)) and self._take(i, hit[0]):
                return Intervention("crash", at=hit[1])
        for i, fault in self._pending(CheckpointApiError):
            if fault.error == "no_token" and (hit := self._site_match(fault, site)) and self._take(i, hit[0]):
                return Intervention("no_token", at=hit[1])
        return PROCEED

    def invocation_copies(self, arn: str, invocation: int) -> tuple[int, bool]:
        """Deliver invocation ``invocation`` twice if a DuplicateInvocation targets it."""
        for i, fault in self._pending(DuplicateInvocation):
            if fault.invocation == invocation and self._take(i, f"for invocation {invocation}"):
                return (2, fault.concurrent)
        return (1, False)

    def cold_start(self, arn: str, invocation: int) -> bool:
        """Does this invocation land on a new sandbox (module state reset, empty temp dir)?"""
        for i, fault in self._pending(ColdStart):
            if fault.invocation == invocation and self._take(i, f"before invocation {invocation}"):
                return True
        return False

    def timer_delay_ms(self, arn: str, kind: str, op_name: str | None, op_path: str | None,
                       op_id: str | None = None) -> int:
        """Extra delay for a wait or a retry timer (the operation matched by name, path or id)."""
        label = op_path if op_name else op_id  # an unnamed operation is shown by id (reports put it in words)
        for i, fault in self._pending(LateTimer):
            if _op_matches(fault.op, op_id, op_name, op_path) and self._take(i, f"on the {kind} timer of {label!r}"):
                return round(fault.seconds * 1000)
        return 0

    # --------------------------------------------------------------- effects
    def on_effect(self, name: str, where: Where, mutating: bool = True) -> str:
        """"fail" (a flaky dependency), "crash" (right after the effect) or "proceed".

        A read (``mutating`` False: ``GetItem``, ``GetObject``, an HTTP GET) can only fail: a
        ``TransientFailure`` naming it fires there, a ``CrashAfterEffect`` never does.
        """
        if where.copy != 0:
            return "proceed"
        if self._repeats and self._repeat(name, where):
            return "fail"
        kinds: tuple[tuple[type[Fault], str], ...] = ((TransientFailure, "fail"), (CrashAfterEffect, "crash"))
        for kind, verdict in (kinds if mutating else kinds[:1]):
            for i, fault in self._pending(kind):
                if not fnmatch.fnmatchcase(name, fault.effect or "*"):
                    continue
                if not _op_matches(fault.op, where.op_id, where.op_name, None):
                    continue
                # attempt and invocation are coordinates of step attempts and durable invocations; an
                # effect outside both (a plain invoke target's) is matched by name and operation only.
                if fault.attempt is not None and where.attempt not in (None, fault.attempt):
                    continue
                if fault.invocation is not None and where.invocation not in (None, fault.invocation):
                    continue
                if self._take(i, f"at effect {name!r} ({where.label()})"):
                    if getattr(fault, "times", 1) > 1:
                        with self._lock:
                            self._repeats[i] = fault.times - 1
                    return verdict  # a crash is carried out by kill_after_effect, once the effect is done
        return "proceed"

    def _repeat(self, name: str, where: Where) -> bool:
        """A fired ``TransientFailure(times=N)`` that still has failures left and matches: one is used."""
        with self._lock:
            for i, left in list(self._repeats.items()):
                fault: Any = self.schedule.faults[i]
                if not fnmatch.fnmatchcase(name, fault.effect or "*"):
                    continue
                if not _op_matches(fault.op, where.op_id, where.op_name, None):
                    continue
                if fault.invocation is not None and where.invocation not in (None, fault.invocation):
                    continue
                if left <= 1:
                    del self._repeats[i]
                else:
                    self._repeats[i] = left - 1
                return True
        return False

    def kill_after_effect(self, where: Where) -> None:
        """End the invocation ``where`` belongs to: called right after the crashing effect completed,
        so the next invocation can never race the effect itself."""
        self._kill(where)

    def _kill(self, where: Where) -> None:
        if self.service is None or where.arn is None or where.invocation is None:
            return
        ex = self.service.executions.get(where.arn)
        if ex is not None and 0 < where.invocation <= len(ex.invocations):
            self.service.kill(ex, ex.invocations[where.invocation - 1], "crashed")

    def may_decide_effects(self) -> bool:
        """False when no pending fault can act on an effect: every ``on_effect`` answers "proceed".

        Faults are only ever taken, never added, and an outage's repeats only run out, so once False it stays
        False for this run.
        """
        # a fired TransientFailure(times=N) with failures left still decides: its retries must fail too
        return bool(self._pending(TransientFailure) or self._pending(CrashAfterEffect) or self._repeats)

    def is_crashed(self, where: Where) -> bool:
        """True when ``where`` belongs to an invocation the nemesis crashed (its code must stop)."""
        if self.service is None or where.arn is None or where.invocation is None:
            return False
        ex = self.service.executions.get(where.arn)
        if ex is None or not 0 < where.invocation <= len(ex.invocations):
            return False
        inv = ex.invocations[where.invocation - 1]
        return inv.dead == "crashed" and (where.copy == 0 or inv.concurrent)

    # ------------------------------------------------------------- callbacks
    def callback_fault(self, callback_name: str | None) -> CallbackFault | None:
        """The callback fault (if any) for the next callback with this name; marks it fired."""
        for i, fault in self._pending(CallbackFault):
            named = _op_matches(fault.op, None, callback_name, None) or bool(
                fault.op and callback_name and callback_name.startswith(fault.op + " "))
            if named and self._take(i, f"on callback {_label(callback_name)!r}"):
                return fault
        return None
