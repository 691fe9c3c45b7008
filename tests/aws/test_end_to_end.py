"""The aws backend against the loopback stack: a buggy handler is caught, a correct one passes."""

from __future__ import annotations

import json
from pathlib import Path

from chaosdurable.backends.base import Workload
from chaosdurable.faults.schedule import CrashAtCheckpoint, FaultSchedule
from tests.aws.checking import judge
from tests.aws.conftest import backend
from tests.aws.harness import handlers

PAYLOAD = json.dumps({"order": "o1"})
CRASH_BEFORE_CHARGE = FaultSchedule((CrashAtCheckpoint(op="charge", action="SUCCEED"),))


def test_buggy_handler_is_caught(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "buggy", tmp_path)
    judged = judge(aws, Workload(handlers.buggy, callbacks={"approval": "ok"}), PAYLOAD, CRASH_BEFORE_CHARGE, world)
    assert judged.reference.status == "SUCCEEDED", judged.reference
    assert [f.fault.kind for f in judged.nemesis.fired] == ["crash_at_checkpoint"]
    assert judged.chaotic.world == {"dynamodb:charges": ['{"charged": {"N": "2"}, "id": {"S": "o1"}}']}
    assert any(v.checker == "idempotency" for v in judged.violations), judged.describe()


def test_correct_handler_passes(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path)
    judged = judge(aws, Workload(handlers.correct, callbacks={"approval": "ok"}), PAYLOAD, CRASH_BEFORE_CHARGE,
                   world)
    assert judged.chaotic.status == "SUCCEEDED"
    assert [f.fault.kind for f in judged.nemesis.fired] == ["crash_at_checkpoint"]
    assert judged.violations == [], judged.describe()
