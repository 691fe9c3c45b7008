"""The in-function plugin and the engine's own nemesis, given the same schedule, give the same run:
the same outcome, the same step body runs, the same history (event types, names, invocation errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaosdurable import DurableRunner, FaultSchedule
from chaosdurable.faults.nemesis import Nemesis
from tests.deployed import bridge
from tests.deployed.conftest import Deployed

SCHEDULES = {
    "crash-before": ({"kind": "crash_at_checkpoint", "op": "charge", "action": "SUCCEED"}, "subprocess"),
    "crash-after": ({"kind": "crash_at_checkpoint", "op": "charge", "action": "SUCCEED",
                     "phase": "after_persist"}, "subprocess"),
    "throttle": ({"kind": "checkpoint_error", "error": "throttle", "op": "charge", "action": "SUCCEED"}, "inprocess"),
    "4xx": ({"kind": "checkpoint_error", "error": "client_error", "op": "confirm", "action": "START"}, "inprocess"),
    "no-token": ({"kind": "checkpoint_error", "error": "no_token", "op": "charge", "action": "SUCCEED"}, "inprocess"),
    "no-token-start": ({"kind": "checkpoint_error", "error": "no_token", "op": "charge", "action": "START"},
                       "inprocess"),
}


def _shape(history: dict[str, Any]) -> list[tuple[Any, ...]]:
    out = []
    for e in history["Events"]:
        error = (e.get("InvocationCompletedDetails") or {}).get("Error")
        out.append((e["EventType"], e.get("Name"), error["Payload"]["ErrorType"] if error else None))
    return out


def _run(handler: Any, mode: str, native: FaultSchedule | None, lambda_shaped: bool) -> tuple[Any, Any]:
    runner = DurableRunner(handler, seed=3, mode=mode, hang_timeout=60, max_invocations=20)  # type: ignore[arg-type]
    if lambda_shaped:
        bridge.lambda_shaped(runner)
    if native is not None:
        runner.service.interceptor = Nemesis(native, runner.service)
    result = runner.run({"amount": 3})
    return result, _shape(runner.get_execution_history(result.arn))


UNHOOKED = pytest.mark.xfail(strict=True, reason=(
    "known divergence: in subprocess mode the SDK's checkpoint client is the engine's pipe, not boto3, so "
    "the plugin falls back to crashing in on_user_function_end; an asynchronous START still queued then is "
    "lost, where the engine (and the plugin on a boto3 client) sends it first (Intervention.at)"))


NO_TOKEN_OUTPUT = pytest.mark.xfail(strict=True, reason=(
    "known divergence, not yet understood: with the token dropped from a boto3 answer to the SUCCEED, the "
    "invocation ends Runtime.InvalidOutput (the execution still succeeds on the next one), where the engine's "
    "answer without a token ends it cleanly"))
MARKS = {"crash-before": UNHOOKED, "no-token": NO_TOKEN_OUTPUT}


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS[n]) if n in MARKS else n for n in sorted(SCHEDULES)])
def test_the_plugin_matches_the_engine(deployed: Deployed, name: str) -> None:
    fault, mode = SCHEDULES[name]
    schedule = FaultSchedule.from_json(json.dumps([fault]))
    lambda_shaped = mode == "inprocess"

    handlers = deployed.load_plugin(on=False)
    _, fault_free = _run(handlers.pay, mode, None, lambda_shaped)
    deployed.ledger.unlink()
    engine_result, engine_history = _run(handlers.pay, mode, schedule, lambda_shaped)
    engine_runs = deployed.runs()
    deployed.ledger.unlink()

    deployed.schedule(fault)
    handlers = deployed.load_plugin(on=True)
    plugin_result, plugin_history = _run(handlers.pay, mode, None, lambda_shaped)

    assert engine_history != fault_free   # the fault did fire in the engine
    assert plugin_result.status == engine_result.status
    assert deployed.runs() == engine_runs
    assert plugin_history == engine_history
