"""``uninterrupted``: a fault-free execution ends the same way straight through its waits as suspended at them.

The bug it exists for: a step body that stores its value in a closure instead of returning it, with a
wait after it. Every run (fault-free or not) loses the value the same way after the suspension, so
no comparing checker sees it; only a run that never suspends shows what the code meant.
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import check
from chaosdurable.checks.uninterrupted import NAME
from chaosdurable.engine.knobs import Knobs
from chaosdurable.faults.schedule import FaultSchedule
from chaosdurable.run import RunConfig, execute

ORDER = {"order": "o-77", "lines": [{"sku": "a", "cents": 1200}, {"sku": "b", "cents": 800}]}


@durable_execution
def total_in_closure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """BUG: the total is stored in a dict around the step; after the cooling-off wait the replay skips the
    step body, so the invoice always says 0 (with or without faults)."""
    totals: dict[str, int] = {}

    def price(_: Any) -> str:
        totals["cents"] = sum(line["cents"] for line in event["lines"])
        return "priced"

    context.step(price, name="price")
    context.wait(Duration.from_hours(2), name="cooling-off")
    invoice = context.step(lambda _: f"inv-{event['order']}-{totals.get('cents', 0)}", name="invoice")
    return {"invoice": invoice, "cents": totals.get("cents", 0)}


@durable_execution
def total_returned(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The twin: the step returns the total; a uuid minted in a step (new in every execution) is fine too."""
    cents = context.step(lambda _: sum(line["cents"] for line in event["lines"]), name="price")
    context.wait(Duration.from_hours(2), name="cooling-off")
    ref = context.step(lambda _: str(uuid.uuid4()), name="mint-ref")
    invoice = context.step(lambda _: f"inv-{event['order']}-{cents}", name="invoice")
    return {"invoice": invoice, "cents": cents, "ref": ref}


def test_a_value_kept_in_a_closure_across_a_wait_is_reported_without_any_fault() -> None:
    v = check(total_in_closure, ORDER)
    assert v.reference.result == v.chaotic.result, v.report()  # every run is wrong the same way
    (found,) = v.by_checker(NAME)
    text = found.describe()
    assert "the result at $.cents differs" in text, text
    assert "suspended and replayed (2 invocations): 0" in text and "straight through (1 invocation(s)):  2000" in text
    assert "instead of returning it" in text
    # the step whose body ran before the wait and was replayed after it is named (trial8 b02: neither step nor
    # line was), and the twin's steps are not suspects of anything
    assert "replayed from their checkpoints after it (only their returned values came back): 'price' (" in text, text
    assert not v.ok


def test_the_twin_that_returns_its_values_passes() -> None:
    v = check(total_returned, ORDER)
    assert v.ok and not v.by_checker(NAME), v.report()


def test_the_oracle_run_completes_waits_in_one_invocation_and_takes_their_time() -> None:
    slow, straight = (execute(total_returned, '{"order": "o", "lines": []}', FaultSchedule(), RunConfig(knobs=k))[0]
                      for k in (Knobs(), Knobs(complete_waits_inline=True)))
    assert (len(slow.invocations), len(straight.invocations)) == (2, 1)
    assert straight.virtual_ms == slow.virtual_ms >= 2 * 3600 * 1000  # the wait's time passes all the same
    assert straight.status == slow.status == "SUCCEEDED"


def test_it_can_be_switched_off_like_any_checker() -> None:
    from chaosdurable.checks import ALL_CHECKERS

    others = {name: c for name, c in ALL_CHECKERS.items() if name != NAME}
    assert check(total_in_closure, ORDER, checkers=others).ok


def test_in_subprocess_mode_too() -> None:
    v = check(total_in_closure, ORDER, backend="subprocess")
    assert v.by_checker(NAME), v.report()


@durable_execution
def elapsed_across_the_wait(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Correct: the time a wait took, from two timestamps minted in steps (read from the handler's clock)."""
    import time

    started = context.step(lambda _: time.time(), name="started")
    context.wait(Duration.from_hours(2), name="cooling-off")
    ended = context.step(lambda _: time.time(), name="ended")
    return {"waited_s": round(ended - started)}


def test_the_handlers_clock_moves_with_a_wait_completed_at_once_in_a_subprocess_child_too() -> None:
    # the oracle completes the wait inside the invocation; the child's frozen clock must move with it
    # (the answer to that checkpoint carries the new instant), or the straight run reads 0 s and is flagged
    for backend in ("inprocess", "subprocess"):
        v = check(elapsed_across_the_wait, None, backend=backend)
        assert v.reference.result == {"waited_s": 7200}, v.report()
        assert v.ok and not v.by_checker(NAME), v.report()
