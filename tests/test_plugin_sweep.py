"""given() sweeps the one-fault schedules before it searches (``chaosdurable.strategies.sweep``).

Trials 6, 7 and 8 each missed a bug that one particular fault shows (an outage longer than one step's
retry budget on the one effect that matters), because 100 random examples never drew it. The sweep
tries each such fault once, in a fixed order, so the bug is found on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import chaosdurable
from chaosdurable import (
    CallbackFault,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    TransientFailure,
)
from chaosdurable.strategies.schedules import OperationSpace
from chaosdurable.strategies.sweep import single_fault_sweep
from tests.checks.test_unhandled import ORDER, reserve_then_charge, reserve_then_charge_or_release

ONE_EXAMPLE = settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _property(handler: Any, sweep: bool) -> Any:
    @chaosdurable.given(handler, ORDER, kinds=["transient_failure"], sweep=sweep)
    def prop() -> None:
        pass

    return prop


@pytest.fixture
def one_example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The search gets one example (the simplest: no fault), so only the sweep can find the bug."""
    from chaosdurable import pytest_plugin

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pytest_plugin, "_settings", lambda: ONE_EXAMPLE)


def test_the_sweep_finds_an_outage_the_search_did_not_draw(one_example: None) -> None:
    _property(reserve_then_charge, sweep=False)()  # the search alone: its one example has no fault
    with pytest.raises(AssertionError, match=r"\[unhandled_failure\] step 'charge'") as failure:
        _property(reserve_then_charge, sweep=True)()
    assert "make effect 'charge' fail 3 times in a row" in str(failure.value)
    assert "chaosdurable replay .chaosdurable/failures/" in str(failure.value)  # saved like any failure


def test_the_handled_twin_passes_the_sweep(one_example: None, tmp_path: Path) -> None:
    _property(reserve_then_charge_or_release, sweep=True)()
    assert not (tmp_path / ".chaosdurable").exists()


SPACE = OperationSpace(steps=("reserve", "charge"), operations=("reserve", "charge", "approval"),
                       effects=("charge", "reserve"), callbacks=("approval",), timers=(), invocations=2)


def test_the_sweep_lists_one_fault_per_target_in_a_fixed_order() -> None:
    faults = [s.faults[0] for s in single_fault_sweep(SPACE)]
    assert faults == [
        TransientFailure(effect="charge", times=3), TransientFailure(effect="reserve", times=3),
        CrashAfterEffect(effect="charge"), CrashAfterEffect(effect="reserve"),
        CrashAtCheckpoint(op="reserve", action="SUCCEED"), CrashAtCheckpoint(op="charge", action="SUCCEED"),
        CallbackFault(op="approval", behaviour="failure"), CallbackFault(op="approval", behaviour="after_timeout"),
        CallbackFault(op="approval", behaviour="duplicate"),
        DuplicateInvocation(invocation=1, concurrent=True), ColdStart(invocation=2)]
    assert single_fault_sweep(SPACE) == single_fault_sweep(SPACE)  # a pure function of its arguments


def test_the_sweep_keeps_to_the_kinds_asked_for_and_to_its_limit() -> None:
    assert {s.faults[0].kind for s in single_fault_sweep(SPACE, kinds=["crash_after_effect"])} == {"crash_after_effect"}
    assert len(single_fault_sweep(SPACE, limit=3)) == 3
    assert single_fault_sweep(SPACE, kinds=["late_timer"]) == []


def _permit_mock() -> Any:
    import re

    import responses

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.PUT, re.compile(r"https://permits\.example\.test/v1/permits/.*"), json={"ok": True})
    return mock


def test_an_effect_whose_url_holds_an_id_minted_per_run_is_still_a_target() -> None:
    # trial8 c05: the probe's effect name held the permit id a step minted (uuid4, new in every run), so no
    # fault drawn from it ever matched an effect of a later run
    from chaosdurable import check
    from chaosdurable.strategies.schedules import target_name
    from tests.cli_http_handlers import puts_a_minted_permit

    assert target_name("http:PUT permits.example.test/v1/permits/PRM-3f2a9c1e") == \
        "http:PUT permits.example.test/v1/permits/*"
    assert target_name("http:POST bank.example/v1/transfers") == "http:POST bank.example/v1/transfers"
    space = OperationSpace.probe(puts_a_minted_permit, {}, http=_permit_mock())
    assert space.effects == ("http:PUT permits.example.test/v1/permits/*",)
    outage = single_fault_sweep(space, kinds=["transient_failure"])[0]
    verdict = check(puts_a_minted_permit, {}, outage, http=_permit_mock())
    assert verdict.fired, verdict.report()
