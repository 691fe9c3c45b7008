"""Issue 9 §3b: cold versus warm is a drawn dimension for every handler.

The first execution in a process is the cold one and ``given()``'s probe uses it up, so without
``ColdStart`` at invocation 1 (and for handlers whose fault-free run has a single invocation) a
warm-state bug such as an in-memory record of processed ids was never seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import chaosdurable
from chaosdurable import ColdStart
from chaosdurable.strategies.schedules import OperationSpace, fault_schedules
from tests.strategies import warm_state_handlers as handlers


def test_a_single_invocation_handler_gets_cold_starts_drawn_at_its_first_invocation_too() -> None:
    space = OperationSpace.probe(handlers.config_cached, {"order_id": "o-1"})
    assert space.invocations == 1
    drawn: set[int] = set()

    @settings(max_examples=60, database=None)
    @given(fault_schedules(space=space, kinds=["cold_start"], min_faults=1, max_faults=1))
    def collect(schedule: chaosdurable.FaultSchedule) -> None:
        drawn.update(f.invocation for f in schedule.faults if isinstance(f, ColdStart))

    collect()
    assert drawn == {1, 2}


def _property(handler: object) -> object:
    @chaosdurable.given(handler=handler, input={"order_id": "o-1"}, kinds=["cold_start"], min_faults=1)
    def prop() -> None:
        pass

    return prop


def test_an_in_memory_dedupe_record_fails_on_a_new_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match="cold start") as failure:
        _property(handlers.dedupe_in_memory)()  # type: ignore[operator]
    report = str(failure.value)
    assert '[resumption] the execution returned a different result' in report
    # the module was reloaded by the cold start; the reproduction still imports the handler by name
    assert "from tests.strategies.warm_state_handlers import dedupe_in_memory" in report


def test_configuration_cached_per_sandbox_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _property(handlers.config_cached)()  # type: ignore[operator]
