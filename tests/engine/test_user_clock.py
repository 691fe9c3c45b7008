"""``virtual_clock=True``: the handler's own clock reads follow virtual time (issue 8 §5)."""

from __future__ import annotations

import datetime
import json
import time
from datetime import UTC, timedelta
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from chaosdurable import check
from chaosdurable.engine import DurableRunner, user_clock
from chaosdurable.engine.clock import DEFAULT_EPOCH_MS
from chaosdurable.engine.errors import ExecutionStuckError

EPOCH_S = DEFAULT_EPOCH_MS / 1000
DAY = 86_400
MODES: list[dict[str, Any]] = [{}, {"threaded_branches": True}, {"faithful": True}]
MODE_IDS = ["fast", "threaded", "faithful"]


def _reads() -> dict[str, float]:
    return {"time": time.time(), "time_ns": time.time_ns() / 1e9,
            "now": datetime.datetime.now(UTC).timestamp(),
            "utcnow": datetime.datetime.utcnow().replace(tzinfo=UTC).timestamp()}


@durable_execution
def clock_reader(event: Any, context: DurableContext) -> Any:
    before = _reads()  # outside a step: re-read on every replay
    in_step = context.step(lambda _: _reads(), name="in-step")
    context.wait(Duration.from_days(1), name="day")
    return {"before": before, "in_step": in_step, "after": _reads()}


def test_clock_reads_are_the_virtual_clock_frozen_at_the_invocations_start() -> None:
    result = DurableRunner(clock_reader, virtual_clock=True).run(None)
    assert result.status == "SUCCEEDED", result.error
    out = result.result
    assert set(out["in_step"].values()) == {EPOCH_S}, "the step ran in the first invocation, at the virtual start"
    # The last invocation replays the handler a day later: code outside steps reads that day.
    assert set(out["before"].values()) == set(out["after"].values()) == {EPOCH_S + DAY}
    assert time.time() > EPOCH_S + 300 * DAY, "the real clock is back once the run is over"


def test_without_virtual_clock_handler_code_reads_the_real_clock() -> None:
    out = DurableRunner(clock_reader).run(None).result
    assert abs(out["after"]["time"] - time.time()) < 60, "a day of virtual time is milliseconds of real time"


def test_monotonic_and_perf_counter_stay_real_during_an_invocation() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        m, p = time.monotonic(), time.perf_counter()
        deadline = m + 0.001
        while time.monotonic() < deadline:  # a bounded real wait still ends
            pass
        return [time.monotonic() > m, time.perf_counter() > p, time.time() == time.time()]

    assert DurableRunner(handler, virtual_clock=True, hang_timeout=10).run(None).result == [True, True, True]


# --------------------------------------------------------------------- the deadline bug
def _open(_: StepContext) -> dict[str, str]:
    return {"deadline": (datetime.datetime.now(UTC) + timedelta(hours=1)).isoformat()}


@durable_execution
def deadline_outside_a_step(event: Any, context: DurableContext) -> str:
    """BUG: the deadline check reads the clock outside a step, so a replay a day later takes another path."""
    order = context.step(_open, name="open")
    for day in range(2):
        if datetime.datetime.now(UTC) > datetime.datetime.fromisoformat(order["deadline"]):
            return context.step(lambda _: "cancelled", name="cancel")
        context.step(lambda _: "reminded", name=f"remind-{day}")
        context.wait(Duration.from_days(1), name=f"day-{day}")
    return "done"


@durable_execution
def deadline_in_a_step(event: Any, context: DurableContext) -> str:
    """The correct twin: the check itself is a step, so every replay reads its checkpointed answer."""
    order = context.step(_open, name="open")
    for day in range(2):
        deadline = datetime.datetime.fromisoformat(order["deadline"])
        if context.step(lambda _, d=deadline: datetime.datetime.now(UTC) > d, name=f"late-{day}"):
            return context.step(lambda _: "cancelled", name="cancel")
        context.step(lambda _: "reminded", name=f"remind-{day}")
        context.wait(Duration.from_days(1), name=f"day-{day}")
    return "done"


def test_a_deadline_checked_outside_a_step_after_a_day_is_caught_only_with_virtual_clock() -> None:
    # tripwire=False: the tripwire flags the read in both modes; here the replay itself must diverge.
    real = check(deadline_outside_a_step, None, tripwire=False, virtual_clock=False)
    assert real.ok, real.report()
    assert real.reference.result == "done", "on the real clock the day never passes for the handler"
    assert "virtual_clock=False" in real.replay and "--real-clock" in real.command

    virtual = check(deadline_outside_a_step, None, tripwire=False)  # the default
    assert not virtual.ok
    assert any(v.checker == "determinism" and "non-deterministic" in v.message.lower()
               for v in virtual.violations), virtual.report()
    assert "virtual_clock" not in virtual.replay and "--real-clock" not in virtual.command


def test_its_correct_twin_passes_and_the_day_passes_for_it() -> None:
    real = check(deadline_in_a_step, None, virtual_clock=False)
    virtual = check(deadline_in_a_step, None)
    assert real.ok, real.report()
    assert virtual.ok, virtual.report()
    assert (real.reference.result, virtual.reference.result) == ("done", "cancelled")


@durable_execution
def stamped_step_name(event: Any, context: DurableContext) -> str:
    """BUG: a step name carries the date read outside a step; the replay a day later names it anew."""
    context.wait(Duration.from_hours(1), name="settle")
    context.step(lambda _: "sent", name=f"report-{datetime.datetime.now(UTC):%Y-%m-%d}")
    context.wait(Duration.from_days(1), name="next-day")
    return "ok"


def test_a_timestamp_in_a_step_name_is_caught_only_with_virtual_clock() -> None:
    assert check(stamped_step_name, None, tripwire=False, virtual_clock=False).ok
    virtual = check(stamped_step_name, None, tripwire=False)
    assert any(v.checker == "determinism" for v in virtual.violations), virtual.report()


# ---------------------------------------------------------------------- fresh values
@durable_execution
def stamps_an_order(event: Any, context: DurableContext) -> Any:
    return context.step(lambda _: {"at": datetime.datetime.now(UTC).isoformat(), "epoch": time.time()},
                        name="stamp")


def test_a_timestamp_minted_in_a_step_is_fresh_because_the_witness_starts_later() -> None:
    real = check(stamps_an_order, None, virtual_clock=False)
    assert real.reference.fresh, "on the real clock the two fault-free runs mint different timestamps"
    virtual = check(stamps_an_order, None)
    assert virtual.ok, virtual.report()
    assert virtual.reference.result == {"at": "2026-01-01T00:00:00+00:00", "epoch": EPOCH_S}
    # the witness is another execution, started WITNESS_SHIFT_MS later: both minted values are fresh
    assert {path for _, path in virtual.reference.fresh.paths} == {("v", "at", "v"), ("v", "epoch", "v")}
    again = check(stamps_an_order, None)
    assert json.dumps(again.reference.history, default=str) == json.dumps(virtual.reference.history, default=str)


def test_same_seed_same_history_with_virtual_clock() -> None:
    one, two = (DurableRunner(clock_reader, seed=3, virtual_clock=True).run(None) for _ in range(2))
    assert one.history_json() == two.history_json()
    assert one.result == two.result


# ------------------------------------------------------------ maps waiting in-process
RETRY = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(30),
                                                  jitter_strategy=JitterStrategy.NONE))


def _branch(ctx: DurableContext, item: int, index: int, items: list[int]) -> Any:
    def flaky(sc: StepContext) -> int:
        if sc.attempt < 2:
            raise RuntimeError("transient")
        return item

    ctx.wait(Duration.from_seconds(10 * (item + 1)), name=f"nap-{item}")
    value = ctx.step(flaky, name=f"flaky-{item}", config=StepConfig(retry_strategy=RETRY))
    return [value, time.time()]


@durable_execution
def mapping(event: Any, context: DurableContext) -> Any:
    return context.map([0, 1, 2], _branch, name="fan").get_results()


@pytest.mark.parametrize("lead_days", [0, 800], ids=["virtual-behind-real", "virtual-ahead-of-real"])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_a_map_whose_branches_wait_finishes_with_virtual_clock(mode: dict[str, Any], lead_days: int) -> None:
    started = time.monotonic()
    runner = DurableRunner(mapping, virtual_clock=True, hang_timeout=20, **mode)
    runner.advance(lead_days * DAY)  # 800 days puts the virtual clock ahead of the real one
    result = runner.run(None)
    assert result.status == "SUCCEEDED", (result.error, result.diagnostics)
    assert [value for value, _ in result.result] == [0, 1, 2]
    # Each branch's last step ran after its own nap and retry delay, in virtual time.
    start = EPOCH_S + lead_days * DAY
    assert [at - start for _, at in result.result] == [10 * (i + 1) + 30 for i in range(3)]
    assert not any("did not return" in d for d in result.diagnostics)
    assert time.monotonic() - started < 15, "no branch waited out a timer in real time"


def test_serial_branches_give_the_same_history_as_without_virtual_clock_but_the_stamps() -> None:
    real = DurableRunner(mapping, seed=5).run(None)
    virtual = DurableRunner(mapping, seed=5, virtual_clock=True).run(None)
    assert [e["EventType"] for e in real.history] == [e["EventType"] for e in virtual.history]


# ---------------------------------------------------------------------- what it cannot do
def test_a_handler_that_waits_for_the_clock_to_move_hangs_and_the_report_says_why() -> None:
    @durable_execution
    def spins(event: Any, context: DurableContext) -> str:
        until = time.time() + 1
        while time.time() < until:  # never true on a frozen clock
            pass
        return "done"

    runner = DurableRunner(spins, virtual_clock=True, hang_timeout=0.2)
    with pytest.raises(ExecutionStuckError) as caught:
        runner.run(None)
    assert user_clock.FROZEN_CLOCK_HINT in str(caught.value) + "\n".join(
        getattr(caught.value, "result", None).diagnostics if getattr(caught.value, "result", None) else [])


def test_in_subprocess_mode_the_child_reads_the_same_virtual_clock() -> None:
    result = DurableRunner(clock_reader, mode="subprocess", virtual_clock=True).run(None)
    assert result.status == "SUCCEEDED", result.error
    out = result.result
    assert set(out["in_step"].values()) == {EPOCH_S}
    assert set(out["before"].values()) == set(out["after"].values()) == {EPOCH_S + DAY}
    assert time.time() > EPOCH_S + 300 * DAY, "the real clock is back once the run is over"
    assert result.result == DurableRunner(clock_reader, virtual_clock=True).run(None).result


def test_in_subprocess_mode_without_virtual_clock_the_child_reads_the_real_clock() -> None:
    out = DurableRunner(clock_reader, mode="subprocess").run(None).result
    assert abs(out["after"]["time"] - time.time()) < 60
