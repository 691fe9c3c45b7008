"""The checkpoint protocol: tokens, terminal operations, pagination and service limits."""

from __future__ import annotations

from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.lambda_service import OperationAction, OperationType, OperationUpdate

from chaosdurable.engine import DurableRunner, Knobs, Limits
from chaosdurable.engine.execution import CheckpointRejected


@durable_execution
def awaits_callback(event: Any, context: DurableContext) -> Any:
    context.step(lambda _sc: 1, name="one")
    return context.create_callback(name="approve").result()


# PROBE["runner"] is set by the test; the handler pokes the service from inside a live invocation.
PROBE: dict[str, Any] = {}


def _try_checkpoint(token: str | None, updates: list[OperationUpdate]) -> str | None:
    runner: DurableRunner = PROBE["runner"]
    (ex,) = runner.service.executions.values()
    try:
        runner.service.checkpoint(ex.arn, token, updates, ex.live_invocation.index)
    except CheckpointRejected as rejected:
        return rejected.message
    return None


@durable_execution
def probes_service(event: Any, context: DurableContext) -> Any:
    context.step(lambda _sc: "original", name="done-step")
    runner: DurableRunner = PROBE["runner"]
    (ex,) = runner.service.executions.values()
    index = ex.live_invocation.index
    if index == 1:
        # the step's SUCCEED was synchronous, so nothing else is checkpointing right now
        step = next(op for op in ex.ops.values() if op.name == "done-step")
        token, events = ex.token, len(ex.history)
        again = OperationUpdate(operation_id=step.id, operation_type=OperationType.STEP,
                                action=OperationAction.SUCCEED, name="done-step", sub_type="Step",
                                payload='"overwritten"')
        PROBE["terminal"] = _try_checkpoint(token, [again])
        PROBE["token_kept"] = ex.token == token
        PROBE["history_kept"] = len(ex.history) == events
        PROBE["result_kept"] = step.result
    elif index == 2:
        PROBE["stale_in_flight"] = _try_checkpoint(ex.invocations[0].token, [])
    context.wait(Duration.from_seconds(1), name="pause")
    return "finished"


@durable_execution
def ten_steps(event: Any, context: DurableContext) -> Any:
    out = [context.step(lambda _sc, i=i: i * i, name=f"s{i}") for i in range(5)]
    context.wait(Duration.from_seconds(30), name="between")
    out += [context.step(lambda _sc, i=i: i * i, name=f"s{i}") for i in range(5, 10)]
    return out


@durable_execution
def big_step(event: Any, context: DurableContext) -> Any:
    return context.step(lambda _sc: "x" * 2000, name="big")


# ------------------------------------------------------------------------------ tokens


def test_stale_token_rejected_after_invocation_ends() -> None:
    runner = DurableRunner(awaits_callback)
    arn = runner.start()
    ex = runner.service.get(arn)
    assert ex.status == "RUNNING" and ex.live_invocation is None
    (first,) = ex.invocations
    assert first.token is not None
    with pytest.raises(CheckpointRejected, match="Invalid checkpoint token"):
        runner.service.checkpoint(arn, first.token, [], first.index)
    # the rejection changed nothing: the execution still completes normally
    (cb,) = runner.pending_callbacks(arn)
    runner.send_callback_success(cb.callback_id, '"ok"')
    result = runner.wait_for_result(arn)
    assert result.status == "SUCCEEDED"
    with pytest.raises(CheckpointRejected, match="Invalid checkpoint token"):
        runner.service.checkpoint(arn, ex.invocations[-1].token, [], ex.invocations[-1].index)


def test_old_token_rejected_while_newer_invocation_is_live() -> None:
    PROBE.clear()
    PROBE["runner"] = DurableRunner(probes_service)
    result = PROBE["runner"].run()
    assert result.status == "SUCCEEDED" and result.result == "finished"
    assert PROBE["stale_in_flight"] is not None and "Invalid checkpoint token" in PROBE["stale_in_flight"]


def test_terminal_operation_rejects_further_updates() -> None:
    PROBE.clear()
    PROBE["runner"] = DurableRunner(probes_service)
    result = PROBE["runner"].run()
    message = PROBE["terminal"]
    assert message is not None
    assert "already SUCCEEDED" in message and "terminal operation" in message
    # all-or-nothing: a rejected batch neither rotates the token nor writes history nor changes the op
    assert PROBE["token_kept"] and PROBE["history_kept"]
    assert PROBE["result_kept"] == '"original"'
    assert result.status == "SUCCEEDED"
    assert result.get_operation("done-step")["Result"] == '"original"'
    assert sum(e["EventType"] == "StepSucceeded" for e in result.history) == 1


# -------------------------------------------------------------------------- pagination


def test_paginated_state_replays_to_the_same_result() -> None:
    paged = DurableRunner(ten_steps, knobs=Knobs(limits=Limits(state_page_size=3)))
    pages: list[int] = []
    original = paged.service.get_execution_state

    def counting(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        pages.append(len(out.operations))
        return out

    paged.service.get_execution_state = counting  # type: ignore[method-assign]
    with_pages = paged.run()
    without = DurableRunner(ten_steps).run()
    assert without.status == with_pages.status == "SUCCEEDED"
    assert with_pages.result == without.result == [i * i for i in range(10)]
    assert pages, "the replay never fetched a further page: pagination was not exercised"
    assert all(n <= 3 for n in pages)
    assert with_pages.history_json() == without.history_json()


# ------------------------------------------------------------------------------ limits


def test_operation_limit_fails_execution() -> None:
    result = DurableRunner(ten_steps, knobs=Knobs(limits=Limits(max_operations=5))).run()
    assert result.status == "FAILED"
    assert "exceed 5 operations" in result.error["ErrorMessage"]
    assert len(result.operations) <= 5
    assert sum(e["EventType"] == "StepSucceeded" for e in result.history) < 10


def test_payload_limit_fails_execution() -> None:
    result = DurableRunner(big_step, knobs=Knobs(limits=Limits(max_payload_bytes=1000))).run()
    assert result.status == "FAILED"
    message = result.error["ErrorMessage"]
    assert "big" in message and "2002 bytes" in message and "at most 1000 bytes" in message
    assert "StepSucceeded" not in [e["EventType"] for e in result.history]
    # the same payload fits under the default limit
    assert DurableRunner(big_step).run().result == "x" * 2000
