"""Registered without a schedule, the plugin changes nothing: the history is byte-identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python.lambda_service import LambdaClient
from aws_durable_execution_sdk_python.plugin_discovery import load_configured_plugins

from chaosdurable import DurableRunner
from chaosdurable.deployed import plugin
from tests.deployed import bridge
from tests.deployed.conftest import Deployed


def test_the_sdk_finds_the_plugin_by_its_entry_point_name() -> None:
    found = load_configured_plugins(None, environment={"DURABLE_EXECUTION_PLUGINS": "chaosdurable-faults"})
    assert found == [plugin.FACTORY]


def _history(deployed: Deployed, on: bool, mode: str) -> str:
    handlers = deployed.load_plugin(on)
    runner = DurableRunner(handlers.pay, seed=7, mode=mode, hang_timeout=60)  # type: ignore[arg-type]
    return runner.run({"amount": 3}).history_json()


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_without_a_schedule_the_history_is_byte_identical(deployed: Deployed, mode: str) -> None:
    without = _history(deployed, on=False, mode=mode)
    runs_without = deployed.runs()
    deployed.ledger.unlink()
    with_plugin = _history(deployed, on=True, mode=mode)
    assert with_plugin == without
    assert deployed.runs() == runs_without == ["charge", "confirm"]
    assert deployed.markers() == []


def test_without_a_schedule_nothing_is_attached_to_the_sdk_client(deployed: Deployed,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    attached: list[object] = []
    monkeypatch.setattr(plugin, "register_on_client", attached.append)
    handlers = deployed.load_plugin()
    runner = bridge.lambda_shaped(DurableRunner(handlers.pay))
    assert runner.run({"amount": 3}).status == "SUCCEEDED"
    assert LambdaClient._cached_boto_client is not None   # the SDK did build its own client
    assert attached == [] and plugin._ACTIVE == {}


def test_harness_only_faults_leave_the_plugin_idle(deployed: Deployed) -> None:
    deployed.schedule({"kind": "duplicate_invocation", "invocation": 1},
                      {"kind": "callback", "behaviour": "duplicate"})
    info = plugin.InvocationStartInfo(request_id=None, execution_arn="arn:x", is_first_invocation=True)
    assert plugin.FACTORY.create_plugin(info) is plugin._IDLE


def test_a_malformed_environment_schedule_fails_the_handler_import_loudly(tmp_path: Path) -> None:
    code = ("from aws_durable_execution_sdk_python import durable_execution\n"
            "durable_execution(lambda event, context: None)\n")
    env = dict(os.environ, DURABLE_EXECUTION_PLUGINS="chaosdurable-faults",
               CHAOSDURABLE_SCHEDULE='{"faults": [{"kind": "crash_at_checkpoint", "phase": "later"}]}')
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)
    assert done.returncode != 0
    assert "PluginLoadError" in done.stderr and "field 'phase' must be one of" in done.stderr
