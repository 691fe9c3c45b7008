"""Histories recorded from ``handlers.v1`` on the engine, shared by the replay tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaosdurable.engine.runner import DurableRunner
from tests.replay import handlers


def record_v1() -> tuple[dict[str, Any], dict[str, Any]]:
    """(in-flight history waiting on the approval callback, completed history) of ``v1``."""
    runner = DurableRunner(handlers.v1).register_function("scorer", handlers.scorer)
    arn = runner.start(handlers.INPUT)
    callback_id = runner.wait_for_callback(arn, name="approval")
    in_flight = runner.get_execution_history(arn)
    runner.send_callback_success(callback_id, json.dumps({"approved": True}))
    result = runner.wait_for_result(arn)
    assert result.status == "SUCCEEDED", result.error
    return in_flight, runner.get_execution_history(arn)


@pytest.fixture(scope="session")
def v1_histories() -> tuple[dict[str, Any], dict[str, Any]]:
    """Recorded once per session: the in-flight and the completed history of ``v1``."""
    return record_v1()


@pytest.fixture(scope="session")
def completed(v1_histories: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """The completed history of ``v1`` (ExecutionSucceeded last)."""
    return v1_histories[1]


@pytest.fixture(scope="session")
def in_flight(v1_histories: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """The history of ``v1`` suspended on its approval callback."""
    return v1_histories[0]
