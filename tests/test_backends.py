"""The backend seam: check() takes a backend value, options resolve into values, a new backend is a
new class (nothing else changes), and a backend refuses faults it cannot apply."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chaosdurable import CrashAtCheckpoint, FaultSchedule, check
from chaosdurable.backends import Guards, InProcess, Limits, Subprocess, UnsupportedFault, Workload, from_spec
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.history.record import RunRecord
from chaosdurable.history.world import World
from chaosdurable.options import resolve
from tests.checks import handlers

CRASH = FaultSchedule((CrashAtCheckpoint(op="validate", action="SUCCEED"),))


@dataclasses.dataclass(frozen=True)
class Recording(InProcess):
    """A third backend in a few lines: the engine, plus a log of what it was asked to run."""

    calls: list[str] = dataclasses.field(default_factory=list, compare=False)

    def run(self, workload: Workload, payload: str, schedule: FaultSchedule, limits: Limits, guards: Guards,
            world: World | None = None, label: str = "run") -> tuple[RunRecord, Nemesis]:
        self.calls.append(f"{label}:{len(schedule.faults)} fault(s):tripwire={guards.tripwire}")
        return super().run(workload, payload, schedule, limits, guards, world, label)


@dataclasses.dataclass(frozen=True)
class HarnessOnly(InProcess):
    """A backend that, like a deployment, cannot crash at a checkpoint."""

    @property
    def fault_kinds(self) -> frozenset[str]:
        return frozenset({"duplicate_invocation", "callback"})


def test_a_new_backend_is_one_class_and_check_runs_through_it() -> None:
    backend = Recording()
    verdict = check(handlers.names_step_after_request, None, CRASH, backend=backend)
    assert backend.calls == ["reference:0 fault(s):tripwire=True", "witness:0 fault(s):tripwire=False",
                             "chaotic:1 fault(s):tripwire=False"]
    assert verdict.fired and verdict.by_checker("determinism")


def test_a_backend_refuses_fault_kinds_it_cannot_apply() -> None:
    with pytest.raises(UnsupportedFault, match="cannot inject crash_at_checkpoint"):
        check(handlers.names_step_after_request, None, CRASH, backend=HarnessOnly())


def test_backend_value_and_older_mode_keyword_give_the_same_history() -> None:
    by_value = check(handlers.names_step_after_request, None, CRASH, backend=Subprocess(), seed=2)
    with pytest.warns(DeprecationWarning, match="backend=chaosdurable.backends.Subprocess"):
        by_mode = check(handlers.names_step_after_request, None, CRASH, mode="subprocess", seed=2)
    assert by_value.chaotic.history == by_mode.chaotic.history
    assert by_value.spec["backend"] == {"name": "subprocess"} and by_value.spec["mode"] == "subprocess"


def test_values_and_shorthands_resolve_the_same() -> None:
    def setup() -> None: ...

    shorthand = resolve(handlers.names_step_after_request, None, None, None,
                        {"seed": 4, "hang_timeout": 5.0, "setup": setup, "tripwire": False, "faithful": True})
    values = resolve(Workload(handlers.names_step_after_request, setup=setup), InProcess(faithful=True),
                     Limits(seed=4, hang_timeout=5.0), Guards(tripwire=False), {})
    assert shorthand == values


def test_an_unknown_keyword_names_the_closest_one() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'sed'; did you mean 'seed'"):
        check(handlers.names_step_after_request, None, sed=3)


def test_engine_options_do_not_apply_to_other_backends() -> None:
    class Remote:
        name = "remote"

    with pytest.raises(TypeError, match="apply to the engine backends only"):
        resolve(handlers.names_step_after_request, Remote(), None, None, {"faithful": True})  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [None, "inprocess", {"name": "subprocess", "threaded_branches": True},
                                  {"name": "inprocess", "faithful": True, "virtual_clock": True}])
def test_specs_round_trip(spec: Any) -> None:
    backend = from_spec(spec)
    assert from_spec(backend.spec()) == backend


def test_a_backend_name_that_does_not_exist_is_named() -> None:
    with pytest.raises(ValueError, match="unknown backend 'lambda'; choose one of inprocess, subprocess, aws"):
        from_spec("lambda")


def test_check_saves_replayable_histories_that_replay_identically(tmp_path: Any) -> None:
    from chaosdurable.replay import replay_history

    schedule = FaultSchedule((CrashAtCheckpoint(op="charge", action="SUCCEED"),))
    verdict = check(handlers.clean_order, {"id": "o-1"}, schedule, save_histories=tmp_path)
    assert verdict.reference.status == "SUCCEEDED" and verdict.fired
    saved = sorted(tmp_path.glob("*.json"))
    assert len(saved) == 2  # the fault-free run and the chaotic one (its history has the crashed invocation)
    for path in saved:
        assert replay_history(str(path), handlers.clean_order).ok
        assert not replay_history(str(path), handlers.two_steps).ok  # other code diverges


def test_the_runner_takes_a_backend_value() -> None:
    from chaosdurable import DurableRunner

    runner = DurableRunner(handlers.two_steps, backend=Subprocess(faithful=True))
    assert (runner.mode, runner.faithful) == ("subprocess", True)
    assert runner.run(None).result == 3
    class Deployed:
        name = "aws"

    with pytest.raises(ValueError, match="runs the engine backends"):
        DurableRunner(handlers.two_steps, backend=Deployed())
