"""The handler's draws from ``random`` follow the seed under ``check()`` (``history.randomness``)."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from chaosdurable import CrashAtCheckpoint, check
from chaosdurable.backends import InProcess, Subprocess
from chaosdurable.history.randomness import UserRandom, derive
from tests.checks.seeded_random_handlers import mints_a_random_order_number as handler

BACKENDS = [pytest.param(InProcess(), id="inprocess"), pytest.param(Subprocess(), id="subprocess")]


def _history(verdict: object) -> str:
    run = verdict.chaotic  # type: ignore[attr-defined]
    return json.dumps([run.history, run.operations, run.checkpoints], sort_keys=True, default=str)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_seed_gives_the_same_draws_and_a_byte_identical_history(backend: object) -> None:
    first = check(handler, {}, backend=backend, seed=3)
    again = check(handler, {}, backend=backend, seed=3)
    assert first.ok and again.ok, first.report()
    assert first.chaotic.result == again.chaotic.result
    assert _history(first) == _history(again)
    assert check(handler, {}, backend=backend, seed=4).chaotic.result != first.chaotic.result


def test_both_backends_draw_the_same_values() -> None:
    assert check(handler, {}, seed=3).chaotic.result == check(handler, {}, backend=Subprocess(), seed=3).chaotic.result


def test_a_step_a_fault_runs_again_draws_anew_and_that_is_no_violation() -> None:
    crash = CrashAtCheckpoint(op="order-number", action="SUCCEED", phase="before_persist")
    verdict = check(handler, {}, [crash], seed=3)
    assert verdict.ok, verdict.report()
    assert verdict.chaotic.result != verdict.reference.result, "the re-run step drew another number"
    assert len(verdict.chaotic.invocations) == 2


def test_the_callers_own_random_stream_is_left_as_it_was() -> None:
    random.seed(5)
    expected = [random.random() for _ in range(3)]
    random.seed(5)
    check(handler, {}, seed=3)
    assert [random.random() for _ in range(3)] == expected


def test_seeds_are_a_pure_function_of_their_parts() -> None:
    assert derive(1, "run", "x") == derive(1, "run", "x") != derive(1, "witness", "x")
    a, b = UserRandom(1), UserRandom(1, "witness")
    assert a.invocation_seed("arn:aws:lambda:f/e1", 1) != b.invocation_seed("arn:aws:lambda:f/e1", 1)
    assert UserRandom.from_json(a.to_json()).invocation_seed("x/y", 2) == a.invocation_seed("x/y", 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_body_a_fault_moved_to_a_later_invocation_draws_what_it_drew_without_faults(backend: object) -> None:
    # trial8 c07: seeded by invocation, 'draw-panel' drew another jury in invocation 2 after a crash at the
    # step before it, and the world's invitations differed from the fault-free run's: a false alarm
    from tests.checks.seeded_random_handlers import draws_a_jury_after_registering, setup

    crash = CrashAtCheckpoint(op="register", action="SUCCEED", phase="before_persist")
    verdict = check(draws_a_jury_after_registering, {}, [crash], setup=setup, backend=backend, seed=5)
    assert verdict.fired, verdict.report()
    assert verdict.chaotic.result == verdict.reference.result, verdict.report()
    assert verdict.ok, verdict.report()


def test_the_runs_so_far_travel_to_a_child_process() -> None:
    from chaosdurable.history.record import BodyRun, Where

    parent = UserRandom(7)
    where = Where(arn="arn:x/exec-1", op_id="op-1", attempt=1, invocation=1, copy=0)
    child = UserRandom.from_json(json.loads(json.dumps(parent.to_json([BodyRun(1, where)]))))
    local = UserRandom(7)
    local.at_body(where)  # the run the parent's ledger holds
    child.at_body(dataclasses.replace(where, invocation=2))
    in_child = random.random()
    local.at_body(dataclasses.replace(where, invocation=2))
    assert random.random() == in_child  # the child's second run draws as this process's second run


@pytest.mark.parametrize("seed", [0, 6, 9])
def test_a_step_a_fault_re_runs_draws_anew_and_the_world_it_steers_is_no_finding(seed: int) -> None:
    # seeds where the witness drew the same jury as the reference by chance: the step's own body reads
    # random (the tripwire's in-step record), so its whole result is fresh all the same (was 9 of 40 seeds
    # flagged by resumption and idempotency); the bug twin, which invites inside the drawing step, is caught
    from chaosdurable import InvocationTimeout
    from tests.checks.seeded_random_handlers import draws_a_jury_after_registering, invites_while_drawing, setup

    rerun = [InvocationTimeout(op="draw-panel")]
    verdict = check(draws_a_jury_after_registering, {}, rerun, setup=setup, seed=seed)
    assert verdict.chaotic.result != verdict.reference.result, "the re-run drew another jury"
    assert verdict.ok, verdict.report()
    buggy = check(invites_while_drawing, {}, rerun, setup=setup, seed=seed)
    assert buggy.by_checker("idempotency"), buggy.report()
