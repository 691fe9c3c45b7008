"""Values minted inside steps are not false alarms, whatever the draw or the machine's load (found by
the independent trial: a coin flip in a step flagged 2 in 12 fault-free checks; a wait computed in a
step from a deadline a step saved flagged under duplicate or timed-out invocations on a loaded machine).

The draws here come from a counter (no real randomness or time), so each test is deterministic and
reproduces the bad case every time: the reference and the witness draw the same low-entropy value and
the chaotic run another; or a fault re-runs the step, which then mints another wait length. Each has
a twin that mints the value outside a step, a real bug that must still be reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import CrashAtCheckpoint, FaultSchedule, check


def _draws() -> Callable[[], bool]:
    """False, False, True, False, False, True...: runs 1 and 2 (reference, witness) agree, run 3 differs."""
    counter = itertools.count()
    return lambda: next(counter) % 3 == 2


def _coin_in_step() -> Any:
    draw = _draws()

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        discount = context.step(lambda _: draw(), name="flip")
        amount = 100
        if discount:
            amount = context.step(lambda _: 90, name="discount")
        return context.step(lambda _: {"charged": amount}, name="invoice")

    return handler


def _coin_outside_step() -> Any:
    # outside a step the draw is made on every entry: the reference, the replay of its finished history
    # (final_replay), the witness, then the chaotic run. False, False, False, True: only the chaotic run differs
    counter = itertools.count()

    def draw() -> bool:
        return next(counter) % 4 == 3

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        discount = draw()  # BUG: minted outside a step, so every execution and replay draws anew
        context.step(lambda _: "flipped", name="flip")
        amount = 100
        if discount:
            amount = context.step(lambda _: 90, name="discount")
        return context.step(lambda _: {"charged": amount}, name="invoice")

    return handler


def test_a_draw_in_a_step_that_only_the_chaotic_run_differs_on_is_not_flagged() -> None:
    for _ in range(4):
        v = check(_coin_in_step(), None)
        flips = [op["Result"] for run in (v.reference, v.chaotic) for op in run.operations if op.get("Name") == "flip"]
        assert flips == ["false", "true"]  # the bad case, every time: the witness drew like the reference
        assert v.ok, v.report()


def test_a_draw_outside_a_step_is_still_flagged() -> None:
    for _ in range(2):
        v = check(_coin_outside_step(), None)
        assert {x.checker for x in v.violations} >= {"determinism", "resumption"}, v.report()


def _wait_length() -> Callable[[], int]:
    counter = itertools.count()
    # a deadline minus "now", read promptly by the reference and the witness (3600, 3600), later by the
    # chaotic run (3599, then 3598 when a fault re-runs the step), as under load
    return lambda: 3600 - max(0, next(counter) - 1)


def _wait_computed_in_step() -> Any:
    remaining = _wait_length()

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.step(lambda _: "opened", name="open")
        seconds = context.step(lambda _: remaining(), name="remaining")
        context.wait(Duration.from_seconds(seconds), name="until-deadline")
        return context.step(lambda _: "closed", name="close")

    return handler


def _wait_computed_outside_step() -> Any:
    remaining = _wait_length()

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.step(lambda _: "opened", name="open")
        context.step(lambda _: "computed", name="remaining")
        seconds = remaining()  # BUG: computed outside a step, so each replay waits another length
        context.wait(Duration.from_seconds(seconds), name="until-deadline")
        return context.step(lambda _: "closed", name="close")

    return handler


RERUN = FaultSchedule((CrashAtCheckpoint(op="remaining", action="SUCCEED", phase="before_persist"),))


def test_a_wait_length_minted_in_a_step_that_a_fault_reruns_is_not_flagged() -> None:
    for _ in range(3):
        v = check(_wait_computed_in_step(), None, RERUN)
        assert [f.fault.kind for f in v.fired] == ["crash_at_checkpoint"]
        waits = [u["WaitOptions"] for run in (v.reference, v.chaotic) for cp in run.checkpoints
                 for u in cp["updates"] if u.get("Name") == "until-deadline" and u.get("Action") == "START"]
        assert waits[0] != waits[1]  # the re-run minted another length, and the wait carries it
        assert v.ok, v.report()


def test_a_wait_length_computed_outside_a_step_is_still_flagged() -> None:
    for _ in range(2):
        v = check(_wait_computed_outside_step(), None, RERUN)
        assert [x.message for x in v.by_checker("determinism")
                if "'until-deadline' was started with different values" in x.message], v.report()
