"""Crashes inside the deployed function (``os._exit``), each once, through the real SDK in a fresh
process per invocation, with the plugin loaded from its entry point by ``DURABLE_EXECUTION_PLUGINS``."""

from __future__ import annotations

from chaosdurable import DurableRunner
from tests.deployed.conftest import Deployed, error_events


def _run(deployed: Deployed) -> tuple[object, dict[str, object]]:
    handlers = deployed.load_plugin()
    runner = DurableRunner(handlers.pay, mode="subprocess", hang_timeout=60, max_invocations=20)
    result = runner.run({"amount": 3})
    return result, runner.get_execution_history(result.arn)


def test_crash_before_the_charge_is_persisted_runs_the_charge_twice(deployed: Deployed) -> None:
    deployed.schedule({"kind": "crash_at_checkpoint", "op": "charge", "action": "SUCCEED",
                       "phase": "before_persist"})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert deployed.runs() == ["charge", "charge", "confirm"]   # the at-least-once bug, seen outside
    assert error_events(history) == ["Runtime.ExitError"]       # one crash: the re-invocation did not refire
    assert len(deployed.markers()) == 1


def test_crash_after_the_charge_is_persisted_runs_it_once(deployed: Deployed) -> None:
    deployed.schedule({"kind": "crash_at_checkpoint", "op": "charge", "action": "SUCCEED",
                       "phase": "after_persist"})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert deployed.runs() == ["charge", "confirm"]
    assert error_events(history) == ["Runtime.ExitError"]
    names = [e.get("Name") for e in history["Events"] if e["EventType"] == "StepSucceeded"]
    assert names == ["charge", "confirm"]


def test_crash_before_a_start_is_queued(deployed: Deployed) -> None:
    deployed.schedule({"kind": "crash_at_checkpoint", "op": "confirm", "action": "START"})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert deployed.runs() == ["charge", "confirm"]   # charge was persisted before; confirm never started
    assert error_events(history) == ["Runtime.ExitError"]


def test_a_fault_for_invocation_two_waits_for_it(deployed: Deployed) -> None:
    # invocation 1 runs charge and confirm and suspends in the wait; invocation 2 resumes after it
    deployed.schedule({"kind": "crash_at_checkpoint", "op": "charge", "action": "SUCCEED", "invocation": 2})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert error_events(history) == []                # charge never checkpoints in invocation 2: not reached
    assert deployed.markers() == []
