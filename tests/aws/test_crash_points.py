"""Each crash point of the plugin fires exactly once on the loopback deployment, and the
harness reads back which fault fired from the fire-once table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdurable.backends.base import Guards, Limits, Workload
from chaosdurable.faults.schedule import CheckpointApiError, CrashAtCheckpoint, Fault, FaultSchedule
from tests.aws.conftest import backend
from tests.aws.harness import handlers
from tests.aws.harness.stack import FIRES_TABLE

POINTS: list[Fault] = [
    CrashAtCheckpoint(op="charge", action="START"),
    CrashAtCheckpoint(op="charge", action="SUCCEED"),
    CrashAtCheckpoint(op="charge", action="SUCCEED", phase="after_persist"),
    CheckpointApiError(error="server_error", op="charge", action="SUCCEED"),
]


@pytest.mark.parametrize("fault", POINTS, ids=lambda f: f.describe())
def test_crash_point_fires_once(stack, world, allow, tmp_path: Path, fault: Fault) -> None:
    aws = backend(stack, "correct", tmp_path)
    crashed = stack.door.counters.crashed
    workload = Workload(handlers.correct, callbacks={"approval": "ok"}, setup=handlers.setup)
    record, nemesis = aws.run(workload, json.dumps({"order": "o1"}), FaultSchedule((fault,)), Limits(), Guards(), world,
                              "chaotic")
    assert record.status == "SUCCEEDED", record
    assert [f.fault for f in nemesis.fired] == [fault]
    markers = [i["key"]["S"] for i in stack.client("dynamodb").scan(TableName=FIRES_TABLE)["Items"]
               if i["key"]["S"].startswith(record.arn + "|fault")]
    assert len(markers) == 1, markers
    # one sandbox died (a crash) or one invocation failed on the injected 5xx: never a second time
    assert stack.door.counters.crashed - crashed == 1
