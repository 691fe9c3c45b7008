"""The checkpoint API failing for the deployed function: the plugin answers the SDK's own boto3
client with an error response (``bridge`` lets the engine serve that client in-process)."""

from __future__ import annotations

import json

import pytest

from chaosdurable import DurableRunner
from tests.deployed import bridge
from tests.deployed.conftest import Deployed, error_events


def _run(deployed: Deployed, input: object = None) -> tuple[object, dict[str, object]]:
    handlers = deployed.load_plugin()
    runner = bridge.lambda_shaped(DurableRunner(handlers.pay))
    result = runner.run({"amount": 3} if input is None else input)
    return result, runner.get_execution_history(result.arn)


@pytest.mark.parametrize("error", ["throttle", "server_error", "stale_token"])
def test_a_retryable_checkpoint_error_reruns_the_invocation_once(deployed: Deployed, error: str) -> None:
    deployed.schedule({"kind": "checkpoint_error", "error": error, "op": "charge", "action": "SUCCEED"})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert deployed.runs() == ["charge", "charge", "confirm"]   # nothing of the batch was persisted
    assert len(error_events(history)) == 1                      # one failed invocation, then no refire
    assert len(deployed.markers()) == 1


def test_a_4xx_from_the_checkpoint_api_fails_the_execution(deployed: Deployed) -> None:
    deployed.schedule({"kind": "checkpoint_error", "error": "client_error", "op": "charge", "action": "SUCCEED"})
    result, _ = _run(deployed)
    assert result.status == "FAILED"
    assert "ValidationException" in json.dumps(result.error)
    assert deployed.runs() == ["charge"]


def test_an_answer_without_a_token_is_survived(deployed: Deployed) -> None:
    deployed.schedule({"kind": "checkpoint_error", "error": "no_token", "op": "charge", "action": "SUCCEED"})
    result, _ = _run(deployed)
    assert result.status == "SUCCEEDED"
    assert deployed.runs() == ["charge", "confirm"]   # the batch was persisted; only the token was lost
    assert len(deployed.markers()) == 1


def test_an_input_schedule_needs_the_function_to_be_armed(deployed: Deployed) -> None:
    chaos = {"amount": 3, "__chaos__": [{"kind": "checkpoint_error", "error": "throttle", "op": "charge"}]}
    result, history = _run(deployed, chaos)
    assert result.status == "SUCCEEDED" and error_events(history) == []   # ignored: not armed
    assert deployed.runs() == ["charge", "confirm"]

    deployed.monkeypatch.setenv("CHAOSDURABLE_FAULTS_FROM_INPUT", "1")
    deployed.ledger.unlink()
    result, history = _run(deployed, chaos)
    assert result.status == "SUCCEEDED" and len(error_events(history)) == 1
    assert deployed.runs() == ["charge", "charge", "confirm"]


def test_the_marker_can_live_in_dynamodb(deployed: Deployed) -> None:
    import boto3
    from moto import mock_aws

    deployed.monkeypatch.delenv("CHAOSDURABLE_FIRE_ONCE_DIR")
    deployed.monkeypatch.setenv("CHAOSDURABLE_FIRE_ONCE_TABLE", "chaos-fires")
    deployed.schedule({"kind": "checkpoint_error", "error": "server_error", "op": "charge", "action": "SUCCEED"})
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(TableName="chaos-fires", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}])
        result, history = _run(deployed)
        items = dynamodb.scan(TableName="chaos-fires")["Items"]
    assert result.status == "SUCCEEDED" and len(error_events(history)) == 1
    assert deployed.runs() == ["charge", "charge", "confirm"]
    assert [item["key"]["S"].split("|")[1] for item in items] == ["fault0"]


@pytest.mark.parametrize(("attempt", "runs"), [(1, ["fetch-1", "fetch-1", "fetch-2"]),
                                               (2, ["fetch-1", "fetch-2", "fetch-2"])])
def test_the_attempt_coordinate_picks_the_attempt(deployed: Deployed, attempt: int, runs: list[str]) -> None:
    # attempt 1 ends in a RETRY checkpoint, attempt 2 in SUCCEED
    deployed.schedule({"kind": "checkpoint_error", "error": "server_error", "op": "fetch", "attempt": attempt,
                       "action": "RETRY" if attempt == 1 else "SUCCEED"})
    handlers = deployed.load_plugin()
    runner = bridge.lambda_shaped(DurableRunner(handlers.flaky))
    result = runner.run({})
    assert result.status == "SUCCEEDED" and result.result == "fetched"
    assert deployed.runs() == runs
    assert len(error_events(runner.get_execution_history(result.arn))) == 1


def test_harness_faults_in_the_schedule_are_left_to_the_harness(deployed: Deployed) -> None:
    deployed.schedule({"kind": "duplicate_invocation", "invocation": 1},
                      {"kind": "checkpoint_error", "error": "throttle", "op": "charge", "action": "SUCCEED"})
    result, history = _run(deployed)
    assert result.status == "SUCCEEDED" and len(error_events(history)) == 1
    files = sorted(p.name for p in deployed.fired_dir.iterdir())
    assert len(files) == 1 and "fault1" in files[0]   # the checkpoint fault; no invocation counter
