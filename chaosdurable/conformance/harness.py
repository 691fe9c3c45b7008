"""Run one conformance requirement against a handler on ``DurableRunner`` and judge it.

The harness plays the suite's external world in virtual time: it starts the execution with
the requirement's ``Input``, answers callbacks by name as ``CallbackActions`` say (after
their ``Delay`` in virtual seconds), and otherwise lets the clock run to the next timer.
Then it checks ``ExpectedExecutionHistory``, ``ExpectedResult`` and ``ExpectedLogs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.conformance.logs import check_logs
from chaosdurable.conformance.matching import Bindings, match_history, strict_extras
from chaosdurable.conformance.suite import Requirement
from chaosdurable.engine.errors import ChaosDurableError, UnknownCallbackError
from chaosdurable.engine.invoker import is_durable_handler
from chaosdurable.engine.runner import DurableRunner, Mode

MAX_STEPS = 500


@dataclass
class ConformanceOutcome:
    """The verdict for one requirement. ``passed`` uses the suite's official rules in full
    (history, result, logs, callback actions); ``extra_events`` lists events our stricter
    reading would also reject."""

    requirement: str
    errors: list[str] = field(default_factory=list)
    extra_events: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None

    @property
    def passed(self) -> bool:
        """True when every official rule holds."""
        return not self.errors

    def report(self) -> str:
        """A readable account of what did not match, with the actual history."""
        lines = [f"requirement {self.requirement}: status {self.status}"]
        lines += [f"  - {e}" for e in self.errors + self.extra_events]
        lines.append("  actual history:")
        for e in self.history:
            details = {k: v for k, v in e.items() if k.endswith("Details")}
            lines.append(f"    {e['EventId']:>3} {e['EventType']:<24} {e.get('Name') or ''} {details}")
        return "\n".join(lines)


def _name_matches(pattern: str, name: str) -> bool:
    rx = re.match(r"^\$\{/(.+)/\}$", pattern)
    return pattern in ("*", name) or bool(rx and re.search(rx.group(1), name))


def run_requirement(
    requirement: Requirement,
    handler: Callable[..., Any],
    targets: Mapping[str, Callable[..., Any]] | None = None,
    *,
    mode: Mode = "inprocess",
    faithful: bool = False,
    seed: int = 0,
    execution_timeout: int | None = None,
    hang_timeout: float = 30.0,
) -> ConformanceOutcome:
    """Run ``handler`` as the requirement prescribes and return the verdict."""
    spec = requirement.data
    bindings = Bindings(seed)
    bindings.define(spec.get("Variables"))
    outcome = ConformanceOutcome(requirement.id)
    runner = DurableRunner(handler, mode=mode, faithful=faithful, seed=seed, capture_logs=True,
                           hang_timeout=hang_timeout, execution_timeout=execution_timeout or 31_622_400)
    for name, target in (targets or {}).items():
        if is_durable_handler(target):
            runner.register_durable_function(name, target)
        else:
            runner.register_function(name, target)
    actions = [bindings.substitute(a) for a in spec.get("CallbackActions") or []]
    used: set[int] = set()
    handled: set[str] = set()
    arn = runner.start(bindings.substitute(spec.get("Input")))
    try:
        for _ in range(MAX_STEPS):
            if runner.result(arn).status != "RUNNING":
                break
            if _answer_one_callback(runner, arn, actions, used, handled, outcome):
                continue
            if not runner.advance_to_next_timer():
                outcome.errors.append("execution is stuck: " + runner.describe_stuck(arn))
                break
        else:
            outcome.errors.append(f"execution did not finish within {MAX_STEPS} harness steps")
    except ChaosDurableError as exc:
        outcome.errors.append(f"engine error: {exc}")
    events = runner.get_execution_history(arn)["Events"]
    outcome.history = events
    outcome.status = runner.result(arn).status
    expected = spec.get("ExpectedExecutionHistory") or []
    outcome.errors += match_history(expected, events, bindings)
    outcome.extra_events = strict_extras(expected, events)
    outcome.errors += _check_result(spec.get("ExpectedResult"), runner, arn, bindings)
    outcome.errors += check_logs(spec.get("ExpectedLogs"), runner.logs.records if runner.logs else [], bindings)
    return outcome


def _answer_one_callback(runner: DurableRunner, arn: str, actions: list[dict[str, Any]], used: set[int],
                         handled: set[str], outcome: ConformanceOutcome) -> bool:
    for event in runner.get_execution_history(arn)["Events"]:
        if event["EventType"] != "CallbackStarted":
            continue
        cb_id = event["CallbackStartedDetails"]["CallbackId"]
        if cb_id in handled:
            continue
        index = next((i for i, a in enumerate(actions)
                      if i not in used and _name_matches(str(a.get("CallbackName")), event.get("Name") or "")), None)
        if index is None:
            handled.add(cb_id)
            if actions:
                outcome.errors.append(f"no CallbackAction matches callback {event.get('Name')!r}")
            return True
        action = actions[index]
        used.add(index)
        operation = str(action.get("Operation", "success")).lower()
        if operation != "heartbeat":
            handled.add(cb_id)
        runner.advance(float(action.get("Delay") or 0))
        try:
            if operation == "success":
                payload = action.get("Payload")
                runner.send_callback_success(cb_id, json.dumps(payload) if payload is not None else None)
            elif operation == "failure":
                runner.send_callback_failure(cb_id, dict(action.get("Payload") or {}))
            else:
                runner.send_callback_heartbeat(cb_id)
                runner.run_until_idle()
        except UnknownCallbackError as exc:
            outcome.errors.append(f"callback action {operation} for {event.get('Name')!r} was rejected: {exc}")
        return True
    return False


def _check_result(expected: dict[str, Any] | None, runner: DurableRunner, arn: str, bindings: Bindings) -> list[str]:
    if not expected:
        return []
    execution = runner.get_durable_execution(arn)
    want = expected.get("ExecutionStatus")
    if want and execution["Status"] != want:
        return [f"expected ExecutionStatus {want}, got {execution['Status']} (error: {execution.get('Error')})"]
    if execution["Status"] != "SUCCEEDED" or "Result" not in expected:
        return []
    raw = execution.get("Result")
    try:
        actual = json.loads(raw) if raw is not None else None
    except ValueError:
        actual = raw
    wanted = bindings.substitute(expected["Result"])
    return [] if actual == wanted else [f"expected Result {wanted!r}, got {actual!r}"]
