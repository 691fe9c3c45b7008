"""The faults only the harness can cause on a deployment: callback timing, duplicate starts,
stop -- and the bookkeeping that stops every execution a run started, Ctrl-C included.

Contract of ``CallbackDriver``: each open callback gets one plan when first seen (the
workload's answer for it, ``chaosdurable.events.CallbackAnswers``: by name, in turn, by function or
the next event of an ``EventStream``, redelivered or reordered by the schedule's event faults;
changed by the schedule's ``CallbackFault`` through the ``Nemesis``); ``tick(now)`` sends what is
due (heartbeats every half heartbeat timeout unless the fault says to miss them, the answer once
its delay has passed, twice for a duplicate) and logs every send with whether the service
accepted it. Delays are the ``Answer``'s seconds times
``time_scale`` (real seconds on a deployment). ``after_end`` answers are sent by ``finish``.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chaosdurable.backends.aws_client import DurableApi
from chaosdurable.backends.aws_history import OpenCallback
from chaosdurable.engine.runner import callback_label
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.run import Answer

FAILURE = {"ErrorType": "CallbackFailure", "ErrorMessage": "injected failure"}


@dataclass
class _Plan:
    cb: OpenCallback
    answer: Answer
    due: float
    sends: int = 1
    heartbeats: bool = True
    next_heartbeat: float | None = None
    wait_closed: bool = False
    late: bool = False
    done: bool = False
    #: what the answer is, in words (``event #1 of stream 'webhook'``), for the log
    what: str = ""


@dataclass
class CallbackDriver:
    """Answers one execution's callbacks as the workload and the schedule say."""

    api: DurableApi
    nemesis: Nemesis
    answers: Mapping[str, Any] | None
    time_scale: float = 1.0
    log: list[dict[str, Any]] = field(default_factory=list)
    _plans: dict[str, _Plan] = field(default_factory=dict)
    _answers: Any = None

    def see(self, open_callbacks: list[OpenCallback], closed: set[str], now: float) -> None:
        """Plan every callback seen for the first time; fire the plans waiting for a close."""
        for cb in open_callbacks:
            if cb.callback_id not in self._plans:
                self._plans[cb.callback_id] = self._plan(cb, now)
        for callback_id in closed:
            plan = self._plans.get(callback_id)
            if plan is not None and plan.wait_closed and not plan.done:
                plan.wait_closed, plan.due = False, now

    def _plan(self, cb: OpenCallback, now: float) -> _Plan:
        from chaosdurable.events import CallbackAnswers

        if self._answers is None:
            self._answers = CallbackAnswers(self.answers, self.nemesis)
        delivery = self._answers.next(cb.name, callback_label(cb.name), timeout_s=cb.timeout_s or 0,
                                      heartbeat_timeout_s=cb.heartbeat_timeout_s or 0,
                                      operation_id=cb.operation_id, callback_id=cb.callback_id)
        if delivery.answer is None:  # an event stream with no event left: the callback waits
            return _Plan(cb, Answer(), now, heartbeats=False, done=True)
        for fault, how in delivery.changes:  # a redelivered or reordered event: the control flow may differ
            self.nemesis.declare_outcome_change(fault, how, handled_failure=True)
        answer = delivery.answer
        plan = _Plan(cb, answer, now + answer.delay * self.time_scale, what=delivery.note)
        if cb.heartbeat_timeout_s:
            plan.next_heartbeat = now + cb.heartbeat_timeout_s * self.time_scale / 2
        fault = self.nemesis.callback_fault(cb.name)
        if fault is None:
            return plan
        if fault.behaviour == "delay":
            plan.due += fault.seconds * self.time_scale
            if cb.timeout_s and answer.delay + fault.seconds >= cb.timeout_s:
                self.nemesis.declare_outcome_change(fault, f"the answer came after the callback's {cb.timeout_s}s "
                                                           "timeout")
        elif fault.behaviour == "duplicate":
            plan.sends = 2
        elif fault.behaviour == "failure":
            plan.answer = Answer(failure=dict(FAILURE), delay=answer.delay)
        elif fault.behaviour in ("after_timeout", "miss_heartbeats"):
            plan.heartbeats = fault.behaviour != "miss_heartbeats"
            if cb.timeout_s or cb.heartbeat_timeout_s:
                plan.wait_closed = True  # answer once the service says the callback timed out
            else:
                plan.due += fault.seconds * self.time_scale
        elif fault.behaviour == "after_end":
            plan.late = True
        return plan

    def tick(self, now: float) -> None:
        """Send every heartbeat and answer that is due."""
        for plan in self._plans.values():
            if plan.done:
                continue
            if plan.heartbeats and plan.next_heartbeat is not None and now >= plan.next_heartbeat:
                self._send(plan, "heartbeat", functools.partial(self.api.callback_heartbeat, plan.cb.callback_id))
                plan.next_heartbeat = now + (plan.cb.heartbeat_timeout_s or 1) * self.time_scale / 2
            if not plan.wait_closed and now >= plan.due:
                for copy in range(plan.sends):
                    self._answer(plan, " (duplicate)" if copy else "")
                plan.done = True

    def finish(self) -> None:
        """After the end: the ``after_end`` answers."""
        for plan in self._plans.values():
            if plan.late:
                self._answer(plan, " after the execution ended")

    def _answer(self, plan: _Plan, note: str) -> None:
        if plan.answer.failure is not None:
            failure = plan.answer.failure
            self._send(plan, "failure" + note, lambda: self.api.callback_failure(plan.cb.callback_id, failure))
        else:
            result = json.dumps(plan.answer.result).encode()
            self._send(plan, "success" + note, lambda: self.api.callback_success(plan.cb.callback_id, result))

    def _send(self, plan: _Plan, what: str, call: Callable[[], None]) -> None:
        label = callback_label(plan.cb.name) or plan.cb.name
        about = f"{plan.what}: " if plan.what and what.split(" ")[0] in ("success", "failure") else ""
        entry: dict[str, Any] = {"callback_id": plan.cb.callback_id, "note": f"callback {label!r}: {about}{what}",
                                 "outcome": what.split(" ")[0]}
        try:
            call()
            entry["accepted"] = True
        except ClientError as exc:
            entry["accepted"] = False
            entry["error"] = exc.response.get("Error", {}).get("Code", "ClientError")
        self.log.append(entry)


class Inflight:
    """The executions a backend started and has not seen end; ``stop_all`` stops them (bounded)."""

    def __init__(self) -> None:
        self._arns: dict[str, DurableApi] = {}
        self._lock = threading.Lock()
        self.stopped: list[str] = []

    def add(self, arn: str, api: DurableApi) -> None:
        """Remember a started execution."""
        with self._lock:
            self._arns[arn] = api

    def done(self, arn: str) -> None:
        """The execution ended (or was stopped)."""
        with self._lock:
            self._arns.pop(arn, None)

    def __len__(self) -> int:
        return len(self._arns)

    def stop(self, arn: str, reason: str) -> bool:
        """Stop one execution; False when the service refused (it had already ended, say)."""
        with self._lock:
            api = self._arns.pop(arn, None)
        if api is None:
            return False
        try:
            api.stop(arn, reason)
        except ClientError:
            return False
        self.stopped.append(arn)
        return True

    def stop_all(self, reason: str) -> int:
        """Stop every remembered execution; how many were stopped."""
        with self._lock:
            arns = list(self._arns)
        return sum(self.stop(arn, reason) for arn in arns)
