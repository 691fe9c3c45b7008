"""A clock read outside steps whose value flows into a later step's body (trial6 b08): the shifted replay
changes that step's result although the step reads no clock itself, which confirms the suspicion. A
step that reads the clock itself may legitimately return another value, and stays excused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import check


@durable_execution
def value_date_from_a_read_outside(event: dict[str, Any], context: Any) -> str:
    """BUG: the trade date is read outside steps; the settlement replay two days later books another date."""
    trade_date = date.today()
    context.step(lambda _: "BOOKED", name="book")
    context.wait(Duration.from_days(2), name="until-value-date")
    return str(context.step(lambda _: (trade_date + timedelta(days=2)).isoformat(), name="settle"))


@durable_execution
def value_date_from_a_checkpoint(event: dict[str, Any], context: Any) -> str:
    """The twin: the trade date is read in a step, so every replay gets the checkpointed one."""
    trade_date = date.fromisoformat(context.step(lambda _: date.today().isoformat(), name="trade-date"))
    context.step(lambda _: "BOOKED", name="book")
    context.wait(Duration.from_days(2), name="until-value-date")
    return str(context.step(lambda _: (trade_date + timedelta(days=2)).isoformat(), name="settle"))


@durable_execution
def stamps_in_the_step_and_logs_outside(event: dict[str, Any], context: Any) -> str:
    """Correct: the clock outside steps only goes to a log line; the step stamps its own time."""
    print(f"run at {datetime.now().isoformat()}")
    context.wait(Duration.from_days(2), name="cool-off")
    return str(context.step(lambda _: datetime.now().isoformat(), name="stamp"))


def test_a_date_read_outside_steps_and_written_by_a_later_step_is_confirmed() -> None:
    v = check(value_date_from_a_read_outside, {})
    (hit,) = v.by_checker("tripwire")
    text = hit.describe()
    assert "confirmed:" in text and "step 'settle''s result (its body reads no clock itself)" in text, text


def test_the_twin_that_checkpoints_the_date_passes() -> None:
    v = check(value_date_from_a_checkpoint, {})
    assert v.ok, v.report()


def test_a_step_that_reads_the_clock_itself_is_still_excused() -> None:
    v = check(stamps_in_the_step_and_logs_outside, {})
    assert v.ok, v.report()
    assert any("took the same path" in d for d in v.chaotic.diagnostics), v.chaotic.diagnostics


def test_in_subprocess_mode_too() -> None:
    v = check(value_date_from_a_read_outside, {}, backend="subprocess",
              import_path="tests.checks.test_clock_into_step_inputs:value_date_from_a_read_outside")
    assert v.by_checker("tripwire") and "confirmed:" in v.by_checker("tripwire")[0].describe(), v.report()


def test_a_confirmed_headline_says_it_took_another_path() -> None:
    (hit,) = check(value_date_from_a_read_outside, {}).by_checker("tripwire")
    assert hit.message.endswith("and took another path (confirmed below)"), hit.message


def test_map_items_are_called_map_items_in_locations() -> None:
    from chaosdurable.history.record import Where

    where = Where(arn="arn:x", invocation=1, op_type="CONTEXT", sub_type="MapIteration", op_name="hive-a")
    assert where.label().startswith("map item 'hive-a' (outside any step)"), where.label()
