"""The handler's draws from ``random`` follow the seed under ``check()`` (``history.randomness``)."""

from __future__ import annotations

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
