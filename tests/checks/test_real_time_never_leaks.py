"""Real time never leaks into a verdict (trial6 c08): a step that reads today's date is checkpointed, so it
is correct; but with the real clock, a fault-free run cached before midnight and a chaotic run after it read
different dates, and the comparison flagged the handler. With the virtual clock (the default) every run of
the same seed and schedule reads the same instants, whenever and however fast it runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import time_machine
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import CrashAtCheckpoint, check


@durable_execution
def settles_on_the_value_date(event: dict[str, Any], context: Any) -> str:
    """Correct: the trade date is read inside a step and checkpointed; the value date derives from it."""
    trade_date = context.step(lambda _: date.today().isoformat(), name="capture-trade")
    context.wait(Duration.from_days(2), name="until-value-date")
    value_date = (date.fromisoformat(trade_date) + timedelta(days=2)).isoformat()
    return str(context.step(lambda _: value_date, name="settle"))


SCHEDULE = [CrashAtCheckpoint(op="capture-trade")]


def _across_midnight(**options: Any) -> Any:
    """The fault-free run at 23:59:59.9 (real), the chaotic run reusing it a moment later, after midnight."""
    with time_machine.travel("2026-12-07T23:59:59.900Z", tick=False):
        first = check(settles_on_the_value_date, {}, [], **options)
    with time_machine.travel("2026-12-08T00:00:00.100Z", tick=False):
        return check(settles_on_the_value_date, {}, SCHEDULE, reference=first.reference, **options)


def test_a_run_that_crosses_midnight_gives_the_same_verdict_as_one_that_does_not() -> None:
    verdict = _across_midnight()
    assert verdict.ok, verdict.report()
    assert verdict.reference.result == verdict.chaotic.result == "2026-01-03"  # virtual time: 2026-01-01 + 2 days


def test_with_the_real_clock_the_same_runs_disagree() -> None:
    # what the default removes: the real clock's date changed between the cached run and the chaotic one
    verdict = _across_midnight(virtual_clock=False)
    assert (verdict.reference.result, verdict.chaotic.result) == ("2026-12-09", "2026-12-10")
    assert not verdict.ok, verdict.report()
