"""Execution ARNs read behind the AWS gate (stubbed boto3, never the network); saving a corpus; the pytest helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chaosdurable.deployed.safety import Allowlist
from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay import HistoryError, parametrize_histories, replay_history, save
from chaosdurable.replay.corpus import assert_replays
from chaosdurable.replay.load import load_histories
from tests.replay import handlers

ALLOW = {"CHAOSDURABLE_ALLOW_AWS": "1"}


def _arn(history: dict[str, Any]) -> str:
    exec_id = history["Events"][0]["Id"]
    return f"arn:aws:lambda:us-east-1:123456789012:function:handler:$LATEST/durable-execution/{exec_id}/{exec_id}"


def _client() -> Any:
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _boto_event(event: dict[str, Any]) -> dict[str, Any]:
    """An engine event restricted to what the botocore model declares (the Stubber validates responses)."""
    shape = _client().meta.service_model.shape_for("Event")
    out = {k: v for k, v in event.items() if k in shape.members}
    for key, value in list(out.items()):
        member = shape.members[key]
        if key.endswith("Details") and hasattr(member, "members"):
            out[key] = {k: v for k, v in value.items() if k in member.members}
    return out


def test_execution_arn_is_read_page_by_page_through_the_gate(completed: dict[str, Any]) -> None:
    client, arn = _client(), _arn(completed)
    events = [_boto_event(e) for e in completed["Events"]]
    with Stubber(client) as stub:
        stub.add_response("get_durable_execution_history", {"Events": events[:6], "NextMarker": "m1"},
                          {"DurableExecutionArn": arn, "IncludeExecutionData": True})
        stub.add_response("get_durable_execution_history", {"Events": events[6:]},
                          {"DurableExecutionArn": arn, "IncludeExecutionData": True, "Marker": "m1"})
        aws = {"client": client, "environ": ALLOW, "allowlist": Allowlist(frozenset({("123456789012", "handler")}))}
        report = replay_history(arn, handlers.longer_wait, aws=aws)
        stub.assert_no_pending_responses()
    assert report.divergence is not None and report.divergence.path == "cool-down", report.report()
    assert report.results[0].source == arn


@pytest.mark.parametrize(("environ", "allowlist", "words"), [
    ({}, None, "CHAOSDURABLE_ALLOW_AWS=1"),
    (ALLOW, Allowlist(frozenset({("123456789012", "other")})), "not on"),
])
def test_execution_arn_refused_by_the_gate_sends_nothing(completed: dict[str, Any], environ: dict[str, str],
                                                         allowlist: Any, words: str) -> None:
    client = _client()
    with Stubber(client):  # no responses queued: any call would raise
        report = replay_history(_arn(completed), handlers.v1,
                                aws={"client": client, "environ": environ, "allowlist": allowlist})
    assert report.exit_code == 2 and words in report.report(), report.report()


def test_save_writes_replayable_files_once(tmp_path: Path) -> None:
    runner = DurableRunner(handlers.v1).register_function("scorer", handlers.scorer)
    arn = runner.start(handlers.INPUT)
    first = save(runner.get_execution_history(arn), tmp_path, name="v1-waiting", handler="tests.replay.handlers:v1")
    again = save(runner.get_execution_history(arn), tmp_path, name="v1-waiting", handler="tests.replay.handlers:v1")
    assert first == again and len(list(tmp_path.glob("*.json"))) == 1
    document = json.loads(first[0].read_text())
    assert document["chaosdurable"]["handler"] == "tests.replay.handlers:v1"
    runner.send_callback_success(runner.wait_for_callback(arn), "{}")
    save(runner.wait_for_result(arn), tmp_path, name="v1-done")
    assert len(load_histories(tmp_path)) == 2
    assert replay_history(tmp_path, handlers.v1).ok
    with pytest.raises(AssertionError, match="wait duration"):
        assert_replays(tmp_path, handlers.longer_wait)


def test_save_a_verdicts_runs(tmp_path: Path) -> None:
    from chaosdurable.verdict import check

    verdict = check(handlers.v1, input=handlers.INPUT, targets={"scorer": handlers.scorer},
                    callbacks={"approval": {"approved": True}})
    files = save(verdict, tmp_path, handler="tests.replay.handlers:v1")
    assert len(files) == 2
    report = replay_history(tmp_path, handlers.v1)
    assert report.ok, report.report()


def test_parametrize_histories_makes_one_param_per_file(tmp_path: Path, completed: dict[str, Any]) -> None:
    save(completed, tmp_path, name="one")
    mark = parametrize_histories(tmp_path)
    assert mark.args[0] == "history" and [p.id for p in mark.args[1]] == [p.stem for p in tmp_path.glob("*.json")]
    with pytest.raises(HistoryError, match="no histories in"):
        parametrize_histories(tmp_path / "empty")
