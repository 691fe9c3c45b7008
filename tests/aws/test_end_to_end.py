"""The public API on the aws backend: ``check(..., backend=Aws(...), setup=..., world=...)`` against
the loopback deployment catches the buggy handler (a non-idempotent write in an at-least-once step,
under a crash before its SUCCEED checkpoint) and passes its correct twin."""

from __future__ import annotations

from pathlib import Path

from chaosdurable import check
from chaosdurable.faults.schedule import CrashAtCheckpoint, FaultSchedule
from tests.aws.conftest import backend
from tests.aws.harness import handlers

ORDER = {"order": "o1"}
CRASH_BEFORE_CHARGE = FaultSchedule((CrashAtCheckpoint(op="charge", action="SUCCEED"),))
CALLBACKS = {"approval": "ok"}


def test_buggy_handler_is_caught(stack, world, allow, tmp_path: Path) -> None:
    verdict = check(handlers.buggy, ORDER, CRASH_BEFORE_CHARGE, backend=backend(stack, "buggy", tmp_path),
                    setup=handlers.setup, world=world, callbacks=CALLBACKS)
    assert verdict.reference.status == "SUCCEEDED", verdict.reference
    assert [f.fault.kind for f in verdict.fired] == ["crash_at_checkpoint"]
    assert verdict.chaotic.world == {"dynamodb:charges": ['{"charged": {"N": "2"}, "id": {"S": "o1"}}']}
    assert not verdict.ok and verdict.by_checker("idempotency"), verdict.report()
    assert verdict.spec["backend"]["name"] == "aws" and "aws" in verdict.report()


def test_correct_handler_passes(stack, world, allow, tmp_path: Path) -> None:
    verdict = check(handlers.correct, ORDER, CRASH_BEFORE_CHARGE, backend=backend(stack, "correct", tmp_path),
                    setup=handlers.setup, world=world, callbacks=CALLBACKS)
    assert verdict.chaotic.status == "SUCCEEDED"
    assert [f.fault.kind for f in verdict.fired] == ["crash_at_checkpoint"]
    assert verdict.chaotic.world == {"dynamodb:charges": ['{"charged": {"N": "1"}, "id": {"S": "o1"}}']}
    assert verdict.ok, verdict.report()


def test_setup_without_a_deployed_world_is_refused(stack, allow, tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="runs setup= against the deployment's world"):
        check(handlers.correct, ORDER, backend=backend(stack, "correct", tmp_path), setup=handlers.setup,
              callbacks=CALLBACKS)


def test_a_crash_at_the_start_checkpoint_gives_what_the_engine_gives(stack, world, allow, tmp_path: Path) -> None:
    """An at-least-once step's START is asynchronous: the body may run before it reaches the service.
    Both the engine and the deployed plugin crash at the checkpoint call, so both see the body run
    twice (the plugin no longer crashes before the START is even queued)."""
    schedule = FaultSchedule((CrashAtCheckpoint(op="charge"),))
    deployed = check(handlers.buggy, ORDER, schedule, backend=backend(stack, "buggy", tmp_path),
                     setup=handlers.setup, world=world, callbacks=CALLBACKS)
    engine = check(handlers.buggy, ORDER, schedule, setup=handlers.setup, callbacks=CALLBACKS)
    assert deployed.fired and engine.fired
    assert deployed.chaotic.world == {"dynamodb:charges": ['{"charged": {"N": "2"}, "id": {"S": "o1"}}']}
    assert bool(deployed.by_checker("idempotency")) == bool(engine.by_checker("idempotency")) is True
