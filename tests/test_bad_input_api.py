"""Bad input to the Python API is a clear error naming the fix (or, where unambiguous, accepted),
and the printed reproduction of a factory-built handler is Python that runs.

Found by the independent new-user trial (``misuse/bad_inputs.py``, claim c).
"""

from __future__ import annotations

import decimal
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from chaosdurable import CrashAtCheckpoint, FaultSchedule, check
from chaosdurable.engine.errors import PayloadNotJsonError
from chaosdurable.faults.schedule import CallbackFault, ScheduleError

FACTORY = '''
from aws_durable_execution_sdk_python import durable_execution


def make_handler(greeting):
    @durable_execution
    def _h(event, context):
        msg = context.step(lambda _: f"{greeting}, {event['name']}", name="greet")
        return context.step(lambda _: msg + "!", name="finish")
    return _h


def make_setup():
    def _setup():
        pass
    return _setup


h = make_handler("Hello")
world = make_setup()
'''


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module whose handler and setup are built by factories and held by module-level attributes."""
    (tmp_path / "ux_factory_mod.py").write_text(textwrap.dedent(FACTORY))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("ux_factory_mod")
    yield module
    sys.modules.pop("ux_factory_mod", None)


CRASH = CrashAtCheckpoint(op="greet", action="SUCCEED")


def test_the_snippet_of_a_factory_built_handler_runs_and_gives_the_same_verdict(factory: ModuleType) -> None:
    verdict = check(factory.h, {"name": "Ada"}, FaultSchedule((CRASH,)), setup=factory.world)
    assert "from ux_factory_mod import h" in verdict.replay
    assert "from ux_factory_mod import world" in verdict.replay and "setup=world" in verdict.replay
    assert "<locals>" not in verdict.replay and "<locals>" not in verdict.command
    assert "--setup ux_factory_mod:world" in verdict.command
    assert verdict.spec["setup"] == "ux_factory_mod:world"
    scope: dict[str, object] = {}
    exec(verdict.replay.replace("print(verdict.report())", ""), scope)  # a fresh namespace
    again = scope["verdict"]
    assert again.ok == verdict.ok  # type: ignore[attr-defined]
    assert [f.describe() for f in again.fired] == [f.describe() for f in verdict.fired]  # type: ignore[attr-defined]
    assert again.chaotic.result_payload == verdict.chaotic.result_payload  # type: ignore[attr-defined]


def test_the_snippet_uses_import_path_when_given(factory: ModuleType) -> None:
    verdict = check(factory.h, {"name": "Ada"}, import_path="ux_factory_mod:h")
    assert "from ux_factory_mod import h" in verdict.replay and "check(h," in verdict.replay


@pytest.mark.parametrize("given", [
    [CRASH],
    (CRASH,),
    CRASH,
    {"faults": [{"kind": "crash_at_checkpoint", "op": "greet", "action": "SUCCEED"}]},
    [{"kind": "crash_at_checkpoint", "op": "greet", "action": "SUCCEED"}],
], ids=["list", "tuple", "one-fault", "json-dict", "list-of-dicts"])
def test_a_schedule_in_an_obvious_form_is_accepted(given: object) -> None:
    assert FaultSchedule.coerce(given) == FaultSchedule((CRASH,))


def test_check_runs_a_schedule_given_as_a_list(factory: ModuleType) -> None:
    verdict = check(factory.h, {"name": "Ada"}, [CRASH])
    assert verdict.schedule == FaultSchedule((CRASH,)) and len(verdict.fired) == 1


def test_a_forgotten_tuple_means_the_same_schedule() -> None:
    other = CallbackFault(behaviour="failure")
    assert FaultSchedule(CRASH) == FaultSchedule((CRASH,))
    assert FaultSchedule(CRASH, other) == FaultSchedule((CRASH, other))
    assert FaultSchedule(faults=(CRASH,)) == FaultSchedule((CRASH,))
    assert FaultSchedule() == FaultSchedule(())


@pytest.mark.parametrize("given, says", [
    ('{"faults": []}', "FaultSchedule.from_json(text)"),
    ({"fault": []}, '{"faults": [{"kind": "crash_at_checkpoint"'),
    ({"faults": [], "seed": 1}, "got keys ['faults', 'seed']"),
    (3, "FaultSchedule((CrashAtCheckpoint("),
    (["crash"], "'crash' (str) is not a fault"),
    ([CrashAtCheckpoint], "CrashAtCheckpoint is a fault class"),
])
def test_a_schedule_that_is_not_one_is_refused_with_the_spelling(given: object, says: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        FaultSchedule.coerce(given, "check()")
    assert says in str(caught.value)


def test_check_refuses_a_bad_schedule_before_running(factory: ModuleType) -> None:
    with pytest.raises(ScheduleError, match=r"check\(\): the schedule must be a FaultSchedule"):
        check(factory.h, {"name": "Ada"}, 42)  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="not a fault"):
        FaultSchedule(("crash",))
    with pytest.raises(ScheduleError, match="from_json"):
        FaultSchedule('{"faults": []}')


def test_setup_as_module_function_text_is_imported(factory: ModuleType) -> None:
    verdict = check(factory.h, {"name": "Ada"}, setup="ux_factory_mod:world")
    assert verdict.ok and verdict.spec["setup"] == "ux_factory_mod:world"


@pytest.mark.parametrize("options, says", [
    ({"setup": 3}, "check(setup=...) takes a function (or 'module:function' naming one), got int 3"),
    ({"setup": "ux_factory_mod:nope"}, "has no 'nope'"),
    ({"setup": "ux_factory_mod"}, "takes a function, or 'module:function'"),
    ({"callbacks": ["approval"]}, "callbacks={'approval': {'ok': True}}"),
    ({"targets": [print]}, "targets={'issue-card': issue_card}"),
    ({"targets": {"issue-card": 5}}, "check(targets['issue-card']=...) takes a function"),
])
def test_bad_workload_options_name_the_fix(factory: ModuleType, options: dict[str, object], says: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        check(factory.h, {"name": "Ada"}, **options)  # type: ignore[arg-type]
    assert says in str(caught.value)


def test_a_decimal_input_says_how_to_convert_it(factory: ModuleType) -> None:
    with pytest.raises(PayloadNotJsonError, match="convert Decimal to int, float or str"):
        check(factory.h, {"name": decimal.Decimal("1.5")})


def test_an_unknown_checker_suggests_the_closest(factory: ModuleType) -> None:
    with pytest.raises(ValueError, match="did you mean 'idempotency'"):
        check(factory.h, {"name": "Ada"}, checkers=["idempotence"])
