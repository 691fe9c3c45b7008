"""The catalogue's contract: four scenarios, each with a correct variant and at least two buggy ones
described in one sentence, importable handlers, faker inputs that are JSON, samples the correct variant
handles without faults, invariants turned into checkers."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosdurable import check
from chaosdurable.checks import ALL_CHECKERS, Ledger
from chaosdurable.history.record import RunRecord
from chaosdurable.scenarios.catalog import SCENARIO_MODULES, Scenario, all_scenarios, find, invariant_checkers

SCENARIOS = all_scenarios()
IDS = [s.name for s in SCENARIOS]


def test_the_four_bundled_scenarios() -> None:
    assert [s.name for s in SCENARIOS] == ["order-saga", "user-onboarding", "ai-pipeline", "fanout-batch"]
    assert len(SCENARIO_MODULES) == 4
    assert find("ai-pipeline").name == "ai-pipeline"
    with pytest.raises(KeyError, match="order-saga"):
        find("nope")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_variants_invariants_and_import_paths(scenario: Scenario) -> None:
    correct = [v for v in scenario.variants if not v.buggy]
    buggy = [v for v in scenario.variants if v.buggy]
    assert len(correct) == 1 and len(buggy) >= 2
    for variant in buggy:
        sentence = (variant.bug or "").strip()
        assert sentence.endswith(".") and sentence.count(". ") == 0, f"{variant.name}: one sentence, please"
    for variant in scenario.variants:
        module, attribute = variant.import_path.split(":")
        assert getattr(importlib.import_module(module), attribute) is variant.handler
    assert scenario.invariants and scenario.setup is not None
    assert scenario.variant("correct") is correct[0]
    with pytest.raises(KeyError, match="correct"):
        scenario.variant("missing")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_inputs_are_json_and_realistic(scenario: Scenario) -> None:
    seen: list[Any] = []

    @settings(max_examples=15, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data: Any) -> None:
        value = data.draw(scenario.inputs())
        assert json.loads(json.dumps(value, allow_nan=False)) == value
        seen.append(value)

    draw()
    assert len({json.dumps(v, sort_keys=True) for v in seen}) > 3  # faker makes them differ
    assert json.dumps(scenario.sample)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_correct_variant_on_its_sample_without_faults(scenario: Scenario) -> None:
    variant = scenario.variant("correct")
    verdict = check(variant.handler, scenario.sample, setup=scenario.setup, callbacks=scenario.callbacks,
                    http=scenario.http() if scenario.http else None,
                    checkers={**ALL_CHECKERS, **invariant_checkers(scenario, scenario.sample)})
    assert verdict.ok, verdict.report()
    assert verdict.reference.status == "SUCCEEDED"
    assert any(name.startswith("invariant:") for name in verdict.checkers)


def _record(world: dict[str, list[str]]) -> RunRecord:
    return RunRecord(label="chaotic", status="SUCCEEDED", result=None, result_payload=None, error=None, history=[],
                     operations=[], world=world)


def test_invariant_checkers_name_the_run_that_broke_the_rule() -> None:
    saga = find("order-saga")
    checkers = invariant_checkers(saga, saga.sample)
    assert set(checkers) == {"invariant:charged_once_refunded_iff_cancelled", "invariant:stock_conserved",
                             "invariant:warehouse_told_once"}
    good = _record({"sqs:warehouse.fifo": ["pick ord-1001"], "dynamodb:orders": []})
    bad = _record({"sqs:warehouse.fifo": ["pick ord-1001", "pick ord-1001"], "dynamodb:orders": []})
    told = checkers["invariant:warehouse_told_once"]
    assert told(good, good, Ledger()) == []
    found = told(good, bad, Ledger())
    assert [v.checker for v in found] == ["invariant:warehouse_told_once"]
    assert "asked to pick order ord-1001 2 times (under faults)" in found[0].message
    assert "(without faults)" in told(bad, bad, Ledger())[0].message  # reported once, for the reference


def test_an_invariant_that_crashes_is_not_a_violation() -> None:
    def broken(event: Any, run: Any) -> None:
        raise KeyError("oops")

    scenario = Scenario("x", "x", st.none, None, (), invariants=(broken,))
    checker = invariant_checkers(scenario, None)["invariant:broken"]
    with pytest.raises(KeyError):
        checker(_record({}), _record({}), Ledger())
