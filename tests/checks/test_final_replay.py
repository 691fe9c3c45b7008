"""``final_replay``: the fault-free run, replayed from its finished history, must end the same way.

Each bug here is visible without any fault: the handler computes its result outside steps from
state that no checkpoint holds, so a replay from the same checkpoints returns something else.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import check
from chaosdurable.backends import Subprocess

_numbers = itertools.count(1001)
_CONFIG: dict[str, str] = {}


@durable_execution
def invoice_from_module_counter(event: Any, context: DurableContext) -> dict[str, str]:
    """BUG: the invoice number comes from a module-level counter, re-read on every replay."""
    number = f"INV-{next(_numbers)}"
    context.step(lambda _: number, name="create-invoice")
    context.wait(Duration.from_days(30), name="payment-terms")
    return {"invoice": number, "status": context.step(lambda _: "SETTLED", name="settle")}


@durable_execution
def invoice_from_step(event: Any, context: DurableContext) -> dict[str, str]:
    """Correct twin: the number is minted in a step; configuration is cached in module state."""
    if not _CONFIG:
        _CONFIG["prefix"] = os.environ.get("INVOICE_PREFIX", "INV")
    number = context.step(lambda _: f"{_CONFIG['prefix']}-{next(_numbers)}", name="create-invoice")
    context.wait(Duration.from_days(30), name="payment-terms")
    return {"invoice": number, "status": context.step(lambda _: "SETTLED", name="settle")}


@durable_execution
def coupon_into_closure(event: Any, context: DurableContext) -> dict[str, int]:
    """BUG: the coupon step writes the discount into the order dict instead of returning it: a replay,
    which does not run the step again, sees the full total."""
    order = {"total": event["total"]}

    def apply_coupon(_: Any) -> None:
        order["total"] -= 500

    context.step(apply_coupon, name="apply-coupon")
    charged = context.step(lambda _: order["total"], name="charge")
    return {"charged": charged, "total": order["total"]}


@durable_execution
def coupon_returned(event: Any, context: DurableContext) -> dict[str, int]:
    """Correct twin: the discounted total is the coupon step's result."""
    total = context.step(lambda _: event["total"] - 500, name="apply-coupon")
    charged = context.step(lambda _: total, name="charge")
    return {"charged": charged, "total": total}


def test_a_module_counter_read_outside_steps_is_caught_without_faults() -> None:
    verdict = check(invoice_from_module_counter, {})
    found = verdict.by_checker("final_replay")
    assert found, verdict.report()
    text = "\n".join([found[0].message, *found[0].detail])
    assert "result" in found[0].message and "INV-" in text
    assert "_numbers: count(" in text, text  # the global the replay itself moved on


def test_a_step_writing_into_a_closure_is_caught_without_faults() -> None:
    verdict = check(coupon_into_closure, {"total": 5000})
    assert verdict.by_checker("final_replay"), verdict.report()


def test_the_correct_twins_pass() -> None:
    for handler, event in ((invoice_from_step, {}), (coupon_returned, {"total": 5000})):
        verdict = check(handler, event)
        assert verdict.ok, verdict.report()


def test_subprocess_mode_replays_in_this_process_a_cold_sandbox() -> None:
    verdict = check(invoice_from_module_counter, {}, backend=Subprocess())
    assert verdict.by_checker("final_replay"), verdict.report()
    assert check(invoice_from_step, {}, backend=Subprocess()).ok


def test_it_can_be_left_out() -> None:
    assert check(invoice_from_module_counter, {}, checkers=["resumption", "determinism"]).ok


def test_a_read_outside_steps_is_named_with_its_line() -> None:
    """trial7: the final replay's report names the call made outside any step that explains it."""
    import boto3
    from aws_durable_execution_sdk_python import durable_execution

    def setup() -> None:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="pets", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="pets", Item={"id": {"S": "p"}, "visits": {"N": "1"}})

    @durable_execution
    def counts_visits(event: Any, context: Any) -> int:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        visits = int(ddb.get_item(TableName="pets", Key={"id": {"S": "p"}})["Item"]["visits"]["N"])  # BUG
        context.step(lambda _: bool(ddb.put_item(TableName="pets", Item={"id": {"S": "p"},
                                                                       "visits": {"N": str(visits + 1)}})),
                     name="bump")
        return visits

    v = check(counts_visits, {}, setup=setup, import_path=None)
    (found,) = v.by_checker("final_replay")
    assert "calls the recorded run made outside any step" in found.describe()
    assert "aws:dynamodb.GetItem at " in found.describe(), found.describe()


@pytest.mark.parametrize("backend", ["inprocess", "subprocess"])
def test_a_cache_filled_before_the_replay_is_named_as_its_cause(backend: str) -> None:
    # trial8 b06: the replay found the divergence, then said "no module global changed" (true: the replay
    # changed nothing) while the cause was the token the run had cached, which the replay started with
    from tests.checks import cache_handlers

    cache_handlers._AUTH.clear()
    if backend == "subprocess":  # the runs start fresh in children; this process ran the handler before
        cache_handlers._AUTH["token"] = "tok-1"
    v = check(cache_handlers.cached_token, None, backend=backend)
    (found,) = v.by_checker("final_replay")
    text = found.describe()
    assert "no module global changed" not in text, text
    assert "_AUTH" in text and "tok-1" in text, text
    expected = ("the recorded run ran in fresh processes" if backend == "subprocess"
                else "module globals differ between the start of the recorded run and the start of this replay")
    assert expected in text, text
