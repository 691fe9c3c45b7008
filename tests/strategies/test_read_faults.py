"""Faults on reads: a ``TransientFailure`` naming a read (``GetItem``, ``GetObject``) fires on it, the
handler sees a botocore ``ClientError`` as for a failing write, the failed read is not counted as an
effect, and the generic ``fault_schedules`` draws read failures for the reads a probe saw in steps.

The zoo's ``activate_subscription`` takes a failing read for a missing item and overwrites the
subscription: the generic strategies must catch it, and its twin that lets the step retry must pass."""

from __future__ import annotations

import contextlib
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chaosdurable import CrashAfterEffect, FaultSchedule, TransientFailure, check
from chaosdurable.history.world import World
from strategies.schedules import OperationSpace, fault_schedules
from tests.zoo import buggy, correct
from tests.zoo import world as w
from tests.zoo.world import client

SUB = {"subscription": "sub-9"}
GET = "aws:dynamodb.GetItem"
#: a derandomized search (the same draws every run) over the default fault kinds
SEARCH = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@durable_execution
def read_and_report(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Reports what a failing read raises inside a step (and reads the bucket too)."""
    def look(_: StepContext) -> dict[str, Any]:
        try:
            client("dynamodb").get_item(TableName="subscriptions", Key={"pk": {"S": "sub-9"}})
        except ClientError as exc:
            return {"type": type(exc).__name__, "code": exc.response["Error"]["Code"],
                    "status": exc.response["ResponseMetadata"]["HTTPStatusCode"], "op": exc.operation_name}
        return {"type": None}

    return context.step(look, name="look")


def test_the_probe_lists_reads_in_steps_apart_from_effects() -> None:
    space = OperationSpace.probe(buggy.activate_subscription, SUB, setup=w.subscriptions)
    assert space.reads == (GET,)
    assert GET not in space.effects and "aws:dynamodb.UpdateItem" in space.effects


def test_a_failing_read_raises_a_botocore_client_error_in_the_step() -> None:
    v = check(read_and_report, None, FaultSchedule((TransientFailure(effect=GET),)), setup=w.subscriptions,
              checkers=[])
    assert [f.fault.kind for f in v.fired] == ["transient_failure"], v.report()
    assert v.chaotic.result == {"type": "ClientError", "code": "ServiceUnavailable", "status": 503, "op": "GetItem"}
    assert v.reference.result == {"type": None}
    # the failed read did not happen: it is not in the ledger; the one that did is, as a read
    reads = [e for e in v.chaotic.effects if e.name == GET]
    assert len(reads) == 0 and all(not e.mutating for e in v.reference.effects if e.name == GET)


def test_a_crash_after_effect_never_fires_on_a_read() -> None:
    v = check(correct.activate_subscription, SUB, FaultSchedule((CrashAfterEffect(effect=GET),)),
              setup=w.subscriptions)
    assert not v.fired and v.not_reached, v.report()


def test_a_failed_read_retried_by_the_step_is_no_violation() -> None:
    """The read runs twice (attempt 1 fails, attempt 2 reads): reads are never counted as repeated effects."""
    v = check(correct.activate_subscription, SUB,
              FaultSchedule((TransientFailure(effect=GET, attempt=1), TransientFailure(effect=GET, attempt=2))),
              setup=w.subscriptions)
    assert v.ok, v.report()
    assert len(v.fired) == 2
    assert v.chaotic.result == v.reference.result == {"subscription": "sub-9", "plan": "pro"}


def test_the_generic_strategy_draws_read_failures_but_no_crash_on_reads() -> None:
    space = OperationSpace.probe(buggy.activate_subscription, SUB, setup=w.subscriptions)
    seen: set[tuple[str, str]] = set()

    @settings(SEARCH, max_examples=300)
    @given(fault_schedules(space=space))
    def draws(schedule: FaultSchedule) -> None:
        for f in schedule:
            if getattr(f, "effect", None):
                seen.add((f.kind, f.effect))  # type: ignore[attr-defined]

    draws()
    assert ("transient_failure", GET) in seen
    assert ("crash_after_effect", GET) not in seen


def _search(handler: Any) -> list[FaultSchedule]:
    """Run the generic property (default kinds) over ``handler``; the failing schedules, in order."""
    space = OperationSpace.probe(handler, SUB, setup=w.subscriptions)
    failures: list[FaultSchedule] = []
    fired_reads = [0]
    with World(w.subscriptions) as world:
        reference: list[Any] = [None]

        @SEARCH
        @given(schedule=fault_schedules(space=space), data=st.data())
        def prop(schedule: FaultSchedule, data: Any) -> None:
            v = check(handler, SUB, schedule, world=world, reference=reference[0])
            reference[0] = v.reference
            fired_reads[0] += sum(1 for f in v.fired if getattr(f.fault, "effect", None) == GET)
            if v.violations:  # a drawn fault may miss: no failure
                failures.append(schedule)
                raise AssertionError(v.report())

        with contextlib.suppress(AssertionError):  # a failing example: ``failures`` holds its schedule
            prop()
    if not failures:
        assert fired_reads[0] > 0, "no read failure was injected: the search proves nothing"
    return failures


def test_the_generic_strategies_catch_a_read_failure_taken_for_a_missing_item() -> None:
    failures = _search(buggy.activate_subscription)
    assert failures, "the generic search missed the bug"
    assert any(isinstance(f, TransientFailure) and f.effect == GET for f in failures[-1]), failures[-1].describe()


def test_the_twin_that_lets_the_step_retry_passes_the_generic_strategies() -> None:
    assert _search(correct.activate_subscription) == []


def test_a_read_failure_that_outlasts_the_steps_retries_is_a_legitimate_change() -> None:
    """Every attempt's read fails: the step runs out of its retries and the execution fails, as in production."""
    faults = tuple(TransientFailure(effect=GET, attempt=n) for n in range(1, 7))
    v = check(correct.activate_subscription, SUB, FaultSchedule(faults), setup=w.subscriptions)
    assert v.chaotic.status == "FAILED" and len(v.fired) == 6
    assert not v.by_checker("resumption") and not v.by_checker("idempotency"), v.report()


@durable_execution
def price_lookup(event: dict[str, Any], context: DurableContext) -> Any:
    """Reads a price over HTTP in a step (a GET: a read, never counted, but a fault target)."""
    import requests

    return context.step(lambda _: requests.get(event["url"] + "/price", timeout=5).json(), name="price")


def test_a_failing_http_get_raises_and_the_step_retries() -> None:
    import responses

    url = "https://prices.example.test"
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.GET, url + "/price", json={"eur": 12})
    v = check(price_lookup, {"url": url}, FaultSchedule((TransientFailure(effect="http:GET */price"),)), http=mock)
    assert v.ok and [f.fault.kind for f in v.fired] == ["transient_failure"], v.report()
    assert v.chaotic.result == {"eur": 12}
    step = next(op for op in v.chaotic.operations if op.get("Name") == "price")
    assert step["Attempt"] == 2, v.report()  # attempt 1 failed (requests.ConnectionError), the retry read it
    assert "ConnectionError" in str(v.chaotic.history), v.report()
    assert OperationSpace.probe(price_lookup, {"url": url}, http=mock).reads == ("http:GET prices.example.test/price",)


def test_a_read_failure_is_injected_in_subprocess_mode() -> None:
    for handler, ok in ((buggy.activate_subscription, False), (correct.activate_subscription, True)):
        v = check(handler, SUB, FaultSchedule((TransientFailure(effect=GET),)), setup=w.subscriptions,
                  backend="subprocess")
        assert v.fired and v.ok is ok, v.report()
