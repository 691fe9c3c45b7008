"""Tripwire hits are suspicions, confirmed or cleared by a shifted, reseeded replay (issue 9 §4)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import check
from chaosdurable.backends import InProcess, Subprocess
from chaosdurable.checks.confirm import differences, divergence
from tests.checks import tripwire_confirm_handlers as handlers

BACKENDS = [pytest.param(InProcess(), id="inprocess"), pytest.param(Subprocess(), id="subprocess")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clock_read_that_steers_a_replay_is_a_confirmed_violation(backend: object) -> None:
    verdict = check(handlers.greets_by_the_hour, {}, backend=backend)
    hits = verdict.by_checker("tripwire")
    assert hits, verdict.report()
    assert all(any(d.startswith("confirmed: the handler reads the clock outside a step") for d in v.detail)
               for v in hits), verdict.report()


def test_a_confirmed_clock_read_says_where_and_what_the_later_replay_did() -> None:
    # trial b05: the report read "the execution ended SUCCEEDED (no error) instead of FAILED"
    verdict = check(handlers.routes_by_business_hours, {"case": "c-5"})
    (hit,) = verdict.by_checker("tripwire")
    line = next(i for i, d in enumerate(hit.detail) if d.startswith("confirmed:"))
    head, pairs = hit.detail[line], hit.detail[line + 1:]
    assert re.search(r"the handler reads the clock outside a step \(datetime\.now\(\) at "
                     r"\S*tripwire_confirm_handlers\.py:\d+\), and when the same execution was replayed "
                     r"1 day 13 h 13 min 17 s later .*, it took a different path:$", head), head
    on_time = [d for d in pairs if ", replayed on time:" in d]
    later = [d for d in pairs if ", replayed later:" in d]
    assert on_time and len(on_time) == len(later), pairs
    # each pair names the same thing, fault-free replay first, then the shifted one
    for a, b in zip(on_time, later, strict=True):
        assert a.split(",")[0] == b.split(",")[0]
    assert not any("instead of" in d for d in hit.detail), hit.detail
    assert "instead of" not in verdict.report()


def test_the_twin_reading_the_hour_in_a_step_is_not_flagged() -> None:
    verdict = check(handlers.routes_by_business_hours_in_a_step, {"case": "c-5"})
    assert verdict.ok, verdict.report()


def test_a_random_draw_outside_steps_stays_a_violation_unconfirmed() -> None:
    # a draw may steer only one replay in ten: one reseeded replay would clear it most of the time
    verdict = check(handlers.routes_by_a_die, {})
    (hit,) = verdict.by_checker("tripwire")
    assert hit.message.startswith("random.randint()")
    assert not any(d.startswith("confirmed") for d in hit.detail)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("handler", [handlers.waits_until_the_deadline, handlers.logs_when_it_ran],
                         ids=["time-left", "log-line"])
def test_a_read_that_changes_no_path_is_a_note_not_a_violation(handler: object, backend: object) -> None:
    verdict = check(handler, {}, backend=backend)
    assert verdict.ok, verdict.report()
    notes = [d for d in verdict.chaotic.diagnostics if d.startswith("note: ")]
    assert notes and "took the same path" in notes[0], verdict.chaotic.diagnostics


def test_divergence_names_the_first_operation_that_differs() -> None:
    base = check(handlers.logs_when_it_ran, {}).chaotic
    other = check(handlers.greets_by_the_hour, {}).chaotic
    assert divergence(base, base) is None
    assert differences(base, base) == []
    # the real clock decides which greeting, so either may show; the first step also returned something
    # else, so nothing after it (the result included) is compared: it may follow from that result
    assert re.match(r"operation 1: step 'charge' \(succeeded\) replayed on time, "
                    r"step '(morning|afternoon)' \(succeeded\) replayed later$",
                    str(divergence(base, other)))
    assert [what for what, _, _ in differences(base, other)] == ["operation 1"]


def test_the_zoos_former_wait_from_the_clock_bug_is_a_note() -> None:
    # computing the time left until a deadline a step saved, then waiting that long, is correct: the
    # started wait is never re-armed on replay, even when the replay comes a day and a half later
    from chaosdurable import LateTimer
    from chaosdurable.engine.clock import DEFAULT_EPOCH_MS
    from tests.zoo import buggy

    due = DEFAULT_EPOCH_MS / 1000 + 30 * 86_400  # a month after the virtual clock's start
    verdict = check(buggy.dunning_reminder, {"due_epoch": due, "invoice": "inv-9"},
                    [LateTimer(op="until-due", seconds=120)])
    assert verdict.ok, verdict.report()
    assert any(d.startswith("note: time.time()") for d in verdict.chaotic.diagnostics)


def test_a_clock_read_whose_replay_on_time_the_sdk_rejects_is_confirmed_not_cleared() -> None:
    # trial b15: both virtual-clock replays failed the SDK's replay check alike, so "the same path" cleared
    # the hit as a note ("note: note: ..."), next to a "1 finding(s) left out ... ()" that left nothing out
    from tests.checks import timestamp_handlers

    verdict = check(timestamp_handlers.step_name_from_clock, {"tenant": "acme"})
    (hit,) = verdict.by_checker("tripwire")
    text = "\n".join(hit.detail)
    assert "replayed after its own waits had moved the clock on, it took a different path, and the SDK detected" \
        in text, verdict.report()
    assert "replayed on time: FAILED with NonDeterministicExecutionError" in text
    (found,) = verdict.by_checker("determinism")  # one finding, not one per run
    assert found.message.startswith("the SDK detected a non-deterministic replay in the fault-free run (and again "
                                    "in the chaotic run): ")
    report = verdict.report()
    assert "note: note:" not in report and "left out" not in report, report


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_log_line_read_beside_a_deadline_checked_in_a_step_is_a_note(backend: object) -> None:
    """Trial3 c04: the shifted replay re-runs a step that reads the clock itself (a deadline check) and then
    takes the other branch; that follows from the step's result, not from the log line's read outside steps."""
    from chaosdurable.engine.clock import DEFAULT_EPOCH_MS

    # due between the day's wait replayed on time and replayed 1 day 13 h later (virtual time, as confirmed)
    due = {"due_epoch": DEFAULT_EPOCH_MS / 1000 + 1.5 * 86_400}
    verdict = check(handlers.deadline_checked_in_a_step, due, backend=backend)
    assert verdict.ok, verdict.report()
    assert any(d.startswith("note: ") for d in verdict.chaotic.diagnostics), verdict.chaotic.diagnostics
    buggy = check(handlers.deadline_checked_outside_steps, due, backend=backend)
    (hit,) = buggy.by_checker("tripwire")
    assert any(d.startswith("confirmed") for d in hit.detail), buggy.report()


def test_an_effect_repeated_once_more_is_not_another_path() -> None:
    import dataclasses

    from chaosdurable.history.record import Effect, Where

    base = dataclasses.replace(check(handlers.logs_when_it_ran, {}).chaotic,
                               effects=[Effect(1, "mail", "ada", "explicit", Where(op_name="send"))])
    repeated = dataclasses.replace(base, effects=[*base.effects, base.effects[-1]])
    assert differences(base, repeated) == []  # a re-run step's call once more: idempotency's business
    renamed = dataclasses.replace(base, effects=[*base.effects[:-1],
                                                 dataclasses.replace(base.effects[-1], key="another")])
    (what, on_time, later), = differences(base, renamed)
    assert what == "effects" and "another" in later and "another" not in on_time


@durable_execution
def two_reads_one_steers(event: Any, context: Any) -> str:
    """BUG: a deadline checked on the clock outside steps; a second read only feeds a log line."""
    import datetime as dt

    opened = context.step(lambda _: dt.datetime.now(dt.UTC).isoformat(), name="open")
    for day in range(2):
        print(f"reminder run at {dt.datetime.now(dt.UTC):%H:%M}")
        if dt.datetime.now(dt.UTC) > dt.datetime.fromisoformat(opened) + dt.timedelta(hours=30):
            return str(context.step(lambda _: "cancelled", name="cancel"))
        context.step(lambda _, d=day: f"reminded {d}", name=f"remind-{day}")
        context.wait(Duration.from_days(1), name=f"day-{day}")
    return "done"


def test_two_clock_reads_one_replay_cannot_tell_apart_are_one_finding() -> None:
    # trial8 b05: each read got its own confirmed violation saying the same thing, the log line's included
    v = check(two_reads_one_steers, None)
    hits = v.by_checker("tripwire")
    assert len(hits) == 1, v.report()
    text = hits[0].describe()
    assert "confirmed" in text and "the handler's other clock reads outside steps, any of which may have steered it: " \
        "datetime.now() at " in text, text
