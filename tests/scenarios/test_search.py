"""Every buggy variant of every bundled scenario is caught by the generic search (scenario inputs x
``fault_schedules`` over the probed operation space, no hand-written schedule) within a small example
budget, by the checker or invariant that owns its bug; every correct variant passes its budget with
faults actually injected. Seeds are fixed, so a run is reproducible."""

from __future__ import annotations

import pytest

from chaosdurable.scenarios.catalog import all_scenarios, find, search

#: (scenario, buggy variant, who must catch it, example budget); the first failure is taken (no shrinking)
BUGS = [
    ("order-saga", "charge-key-per-attempt", "invariant:charged_once_refunded_iff_cancelled", 40),
    ("order-saga", "release-not-idempotent", "invariant:stock_conserved", 40),
    ("user-onboarding", "kit-counter", "invariant:one_welcome_kit", 40),
    ("user-onboarding", "verification-timeout-unhandled", "invariant:account_settled", 40),
    ("ai-pipeline", "version-from-uuid", "determinism", 10),
    ("ai-pipeline", "training-unkeyed", "invariant:one_training_job", 80),  # seed 1: first failure at 59
    ("fanout-batch", "rejections-in-memory", "final_replay", 40),
    ("fanout-batch", "total-counter", "invariant:valid_records_stored_once", 40),
]
SEED = 1
CORRECT_BUDGET = 12


def test_every_buggy_variant_is_listed() -> None:
    listed = {(s, v) for s, v, _, _ in BUGS}
    assert listed == {(s.name, v.name) for s in all_scenarios() for v in s.variants if v.buggy}


@pytest.mark.parametrize(("scenario", "variant", "catcher", "budget"), BUGS, ids=[f"{s}:{v}" for s, v, _, _ in BUGS])
def test_buggy_variant_is_caught(scenario: str, variant: str, catcher: str, budget: int) -> None:
    result = search(find(scenario), variant, examples=budget, seed=SEED, inputs=4, shrink=False)
    assert result.caught, f"{scenario}:{variant} not caught in {result.examples} examples ({result.faults} faults)"
    assert catcher in result.checkers, result.verdict.report() if result.verdict else ""
    assert result.first_failure is not None and result.first_failure <= budget


@pytest.mark.parametrize("scenario", [s.name for s in all_scenarios()])
def test_correct_variant_passes(scenario: str) -> None:
    result = search(find(scenario), "correct", examples=CORRECT_BUDGET, seed=SEED, inputs=3)
    assert not result.caught, result.verdict.report() if result.verdict else ""
    assert result.examples >= CORRECT_BUDGET and result.faults > 0


def test_search_shrinks_and_reproduces() -> None:
    """A shrunk failure is a verdict whose spec replays it; the uuid bug needs no fault at all."""
    result = search(find("ai-pipeline"), "version-from-uuid", examples=10, seed=SEED, inputs=2)
    assert result.verdict is not None and result.input is not None
    assert not result.verdict.schedule.faults
    assert "determinism" in result.checkers
    assert result.verdict.spec["handler"] == "chaosdurable.scenarios.ai_pipeline:pipeline_version_from_uuid"
