"""Tripwire hits are suspicions, confirmed or cleared by a shifted, reseeded replay (issue 9 §4)."""

from __future__ import annotations

import re

import pytest

from chaosdurable import check
from chaosdurable.backends import InProcess, Subprocess
from chaosdurable.checks.confirm import divergence
from tests.checks import tripwire_confirm_handlers as handlers

BACKENDS = [pytest.param(InProcess(), id="inprocess"), pytest.param(Subprocess(), id="subprocess")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clock_read_that_steers_a_replay_is_a_confirmed_violation(backend: object) -> None:
    verdict = check(handlers.greets_by_the_hour, {}, backend=backend)
    hits = verdict.by_checker("tripwire")
    assert hits, verdict.report()
    assert all(any(d.startswith("confirmed: in a replay 1 day 13 h") for d in v.detail) for v in hits), \
        verdict.report()


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
    # operation 1 is the execution itself; the real clock decides which greeting, so either may show
    assert re.fullmatch(r"operation 2 became STEP '(morning|afternoon)' instead of STEP 'charge'",
                        str(divergence(base, other)))


def test_the_zoos_former_wait_from_the_clock_bug_is_a_note() -> None:
    # computing the time left until a deadline a step saved, then waiting that long, is correct: the
    # started wait is never re-armed on replay, even when the replay comes a day and a half later
    from chaosdurable import LateTimer
    from tests.zoo import buggy

    verdict = check(buggy.dunning_reminder, {"due_epoch": 1.8e9, "invoice": "inv-9"},
                    [LateTimer(op="until-due", seconds=120)])
    assert verdict.ok, verdict.report()
    assert any(d.startswith("note: time.time()") for d in verdict.chaotic.diagnostics)
