"""Fault provenance: every fault kind and variant is labelled documented, observed or assumed, with its
source; the README's table says the same; the generic strategies draw assumed faults only when asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

import chaosdurable
from chaosdurable import (
    CallbackFault,
    CheckpointApiError,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    ScheduleError,
    check,
    provenance,
)
from chaosdurable.faults.schedule import (
    FAULT_TYPES,
    PROVENANCE,
    CallbackBehaviour,
    CheckpointErrorKind,
    Fault,
    FaultSchedule,
    Provenance,
    is_assumed,
)
from strategies.callbacks import callback_faults
from strategies.schedules import DEFAULT_KINDS, OperationSpace, fault_schedules
from tests.zoo import world as w
from tests.zoo.world import client

README = Path(__file__).resolve().parents[2] / "README.md"
#: a space where every fault kind can be drawn (callbacks, timers, more than one invocation)
SPACE = OperationSpace(steps=("charge", "ship"), operations=("charge", "approval", "ship", "cool-off"),
                       effects=("charge",), callbacks=("approval",), timers=("cool-off",), invocations=2,
                       reads=("aws:dynamodb.GetItem",))
MANY = settings(max_examples=500, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))


def test_every_kind_and_variant_is_labelled_with_a_source() -> None:
    assert set(PROVENANCE) == set(FAULT_TYPES)
    expected = {"checkpoint_error": set(get_args(CheckpointErrorKind)), "callback": set(get_args(CallbackBehaviour)),
                "duplicate_invocation": {"concurrent", "after_end"}}
    for kind, table in PROVENANCE.items():
        assert set(table) - {None} == expected.get(kind, set()), kind
        for variant, p in table.items():
            assert isinstance(p, Provenance) and p.label in ("documented", "observed", "assumed"), (kind, variant)
            assert len(p.source) > 40, (kind, variant)
            assert (p.label == "assumed") == p.source.startswith("assumed: not verified on AWS"), (kind, variant)


def test_the_label_of_a_fault_is_its_variants() -> None:
    assert provenance(DuplicateInvocation(invocation=1, concurrent=False)).label == "assumed"
    assert DuplicateInvocation(invocation=1, concurrent=False).provenance.label == "assumed"
    assert is_assumed(DuplicateInvocation(invocation=1, concurrent=False))
    assert not is_assumed(DuplicateInvocation(invocation=1, concurrent=True))
    assert DuplicateInvocation.provenance == provenance("duplicate_invocation", "concurrent")  # the kind's default
    assert CheckpointApiError(error="no_token").provenance.label == "observed"
    assert CheckpointApiError.provenance.label == "documented"
    assert CallbackFault(behaviour="after_end").provenance.label == "documented"
    assert provenance("transient_failure").label == "documented"
    assert chaosdurable.provenance is provenance
    assert str(provenance("cold_start")).startswith("documented: ")


def test_an_unknown_kind_or_variant_is_refused_by_name() -> None:
    with pytest.raises(ScheduleError, match="unknown fault kind 'nope'"):
        provenance("nope")
    with pytest.raises(ScheduleError, match=r"its variants: .*no_token"):
        provenance("checkpoint_error", "teapot")


def _readme_rows() -> dict[tuple[str, str | None], str]:
    text = README.read_text()
    section = text.split("### Where each fault comes from", 1)[1].split("```", 1)[0]
    rows: dict[tuple[str, str | None], str] = {}
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)`(?: \(([^)]*)\))? \| (?:\*\*)?(\w+)(?:\*\*)? \|", line)
        if m:
            variant = re.match(r"`(\w+)`", m.group(2) or "")
            rows[(m.group(1), variant.group(1) if variant else None)] = m.group(3)
    return rows


def test_the_readme_table_says_what_the_code_says() -> None:
    rows = _readme_rows()
    wanted = {(kind, v) for kind, table in PROVENANCE.items()
              for v in (sorted(x for x in table if x is not None) or [None])}
    assert set(rows) == wanted
    for (kind, variant), label in rows.items():
        assert provenance(kind, variant).label == label, (kind, variant)


def _assumed_in(schedule: FaultSchedule) -> bool:
    return any(is_assumed(f) for f in schedule)


def test_the_default_strategy_never_draws_an_assumed_fault() -> None:
    kinds: set[str] = set()

    @MANY
    @given(fault_schedules(space=SPACE, max_faults=3))
    def never(schedule: FaultSchedule) -> None:
        kinds.update(f.kind for f in schedule)
        assert not _assumed_in(schedule), schedule.describe()

    never()
    # every kind was drawn, only its assumed variants were not (event faults need an EventStream: none here)
    assert kinds == set(DEFAULT_KINDS) - {"event_redelivery", "event_swap"}
    with pytest.raises(NoSuchExample):
        find(fault_schedules(space=SPACE, kinds=["duplicate_invocation"]), _assumed_in,
             settings=settings(MANY, max_examples=200))


def test_opting_in_draws_assumed_faults() -> None:
    found = find(fault_schedules(space=SPACE, assumed=True), _assumed_in, settings=MANY)
    assert all(isinstance(f, DuplicateInvocation) and not f.concurrent for f in found if is_assumed(f))


def test_callback_faults_leave_assumed_behaviours_out_unless_asked() -> None:
    drawn: set[str] = set()

    @MANY
    @given(callback_faults(["approval"]))
    def behaviours(fault: CallbackFault) -> None:
        drawn.add(fault.behaviour)
        assert not is_assumed(fault)

    behaviours()
    allowed = {b for b in get_args(CallbackBehaviour) if provenance("callback", b).label != "assumed"}
    assert drawn == allowed


def test_given_passes_assumed_to_the_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    """``given(assumed=...)`` and ``--chaos-assumed-faults`` reach ``fault_schedules``."""
    import chaosdurable.strategies.schedules as schedules
    from chaosdurable import pytest_plugin
    from tests.checks import handlers

    seen: list[Any] = []
    real = schedules.fault_schedules

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("assumed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(schedules, "fault_schedules", spy)
    monkeypatch.setattr(pytest_plugin._State, "profile", "dev")
    monkeypatch.setattr(pytest_plugin, "FRESH_INTERPRETER_SHARE", 0)
    for session, asked, want in ((False, None, False), (True, None, True), (True, False, False), (False, True, True)):
        monkeypatch.setattr(pytest_plugin._State, "assumed", session)

        @chaosdurable.given(handler=handlers.two_steps, input=None, assumed=asked, max_faults=1)
        def prop() -> None:
            pass

        seen.clear()
        prop()
        assert seen == [want], (session, asked)


def test_the_run_command_takes_assumed_faults() -> None:
    import argparse

    from chaosdurable.search import command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    for argv, want in ((["run"], False), (["run", "--assumed-faults"], True)):
        args = parser.parse_args(argv)
        assert command._plan(args, [], 1).assumed is want


@durable_execution
def mark_settled(event: Any, context: DurableContext) -> str:
    """Two blind writes, each in its own step: correct under every fault the real service documents."""
    def mark(state: str) -> Any:
        def body(_: StepContext) -> str:
            client("dynamodb").put_item(TableName="payments", Item={"pk": {"S": "pay-1"}, "state": {"S": state}})
            return state
        return body

    context.step(mark("pending"), name="mark-pending")
    context.step(mark("settled"), name="mark-settled")
    return "settled"


@pytest.mark.parametrize("fault", [
    DuplicateInvocation(invocation=1, concurrent=True),
    CrashAfterEffect(effect="aws:dynamodb.PutItem", op="mark-pending"),
    CrashAtCheckpoint(op="mark-settled", action="SUCCEED"),
    DuplicateInvocation(invocation=1, concurrent=False),
], ids=lambda f: f"{f.kind}-{f.variant() or getattr(f, 'op', '')}")
def test_only_the_assumed_redelivery_flags_blind_writes_in_steps(fault: Fault) -> None:
    """Why the redelivery after the end is kept out by default: it re-runs the first step's write after the
    second one, which no documented fault does."""
    v = check(mark_settled, None, FaultSchedule((fault,)), setup=w.payments)
    assert v.fired, v.report()
    assert v.ok is (not is_assumed(fault)), v.report()
