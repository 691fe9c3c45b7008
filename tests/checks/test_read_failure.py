"""A step that turns an injected read failure into "missing" returns another result, and the handler
branches on it: that is the finding (a different result, an overwritten item), not a replay that is
non-deterministic (trial b12 showed a misleading [determinism] line as well)."""

from __future__ import annotations

from chaosdurable import CrashAtCheckpoint, FaultSchedule, TransientFailure, check
from tests.checks import read_failure_handlers as handlers

USER = {"user": "user-7"}


def test_a_branch_on_a_different_step_result_is_not_a_determinism_finding() -> None:
    verdict = check(handlers.read_failure_overwrite, USER,
                    FaultSchedule((TransientFailure(effect="aws:dynamodb.GetItem", attempt=1),)),
                    setup=handlers.profiles_world)
    assert verdict.fired
    assert verdict.by_checker("determinism") == [], verdict.report()
    (world,) = verdict.by_checker("idempotency")
    assert "dynamodb:profiles: - " in "\n".join(world.detail)  # the enterprise profile was overwritten
    assert verdict.by_checker("resumption"), verdict.report()


def test_a_branch_outside_steps_after_an_equal_result_is_still_one() -> None:
    # the crash after 'load-profile' makes a replay that enters the handler again: same read, other path
    handlers._REPLAYS["n"] = 0
    schedule = FaultSchedule((CrashAtCheckpoint(op="load-profile", action="SUCCEED", phase="after_persist"),))
    verdict = check(handlers.branches_on_replays, USER, schedule, setup=handlers.profiles_world)
    assert verdict.fired
    # the replay right after the fault-free run enters the handler once more and takes the other path there
    assert verdict.by_checker("determinism") or verdict.by_checker("final_replay"), verdict.report()
