"""Conformance handlers for the parallel requirements (8-1 .. 8-22).

Each handler is written from the requirement's prose. Where the prose fixes a
serial order, ``max_concurrency=1`` makes the per-branch events deterministic.
Every requirement's Input is null; the branches are the ones the prose names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import BatchResult, DurableContext, ParallelBranch, durable_execution
from aws_durable_execution_sdk_python.config import CompletionConfig, Duration, NestingType, ParallelConfig
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext

from tests.conformance.case import Case

Branch = Callable[[DurableContext], Any]
SERIAL = ParallelConfig(max_concurrency=1)


def _serial(completion: CompletionConfig) -> ParallelConfig:
    """A serial parallel config with the given completion config."""
    return ParallelConfig(max_concurrency=1, completion_config=completion)


def _returns(value: Any) -> Branch:
    """A branch returning ``value`` directly, without any durable operation."""
    return lambda _: value


def _step_returns(value: Any) -> Branch:
    """A branch running one step that returns ``value``."""
    return lambda ctx: ctx.step(lambda _: value)


def _fails(index: int) -> Branch:
    """A branch raising an error directly."""

    def branch(ctx: DurableContext) -> Any:
        raise RuntimeError(f"branch {index} failed")

    return branch


def _projection(result: BatchResult[Any], *fields: str) -> dict[str, Any]:
    """The requested subset of {completionReason, status, successCount, failureCount, totalCount}."""
    everything: dict[str, Any] = {
        "completionReason": result.completion_reason.value,
        "status": result.status.value,
        "successCount": result.success_count,
        "failureCount": result.failure_count,
        "totalCount": result.total_count,
    }
    return {name: everything[name] for name in fields}


ALL_FIELDS = ("completionReason", "status", "successCount", "failureCount", "totalCount")
NO_STATUS = ("completionReason", "successCount", "failureCount", "totalCount")


# 8-1 ---------------------------------------------------------------------------------------------
@durable_execution
def basic(event: Any, context: DurableContext) -> list[Any]:
    """Parallel named "parallel": each branch's step returns task-1 / task-2."""
    branches = [_step_returns("task-1"), _step_returns("task-2")]
    return context.parallel(branches, name="parallel", config=SERIAL).get_results()


# 8-2 ---------------------------------------------------------------------------------------------
@durable_execution
def branches_only(event: Any, context: DurableContext) -> list[Any]:
    """Parallel without a name; branches return alpha / beta directly."""
    return context.parallel([_returns("alpha"), _returns("beta")], config=SERIAL).get_results()


# 8-3 ---------------------------------------------------------------------------------------------
@durable_execution
def named_branches(event: Any, context: DurableContext) -> list[Any]:
    """Branches are ParallelBranch objects named "first" and "second"."""
    branches = [
        ParallelBranch(func=_returns("one"), name="first"),
        ParallelBranch(func=_returns("two"), name="second"),
    ]
    return context.parallel(branches, name="named", config=SERIAL).get_results()


# 8-4 ---------------------------------------------------------------------------------------------
@durable_execution
def heterogeneous(event: Any, context: DurableContext) -> list[Any]:
    """Branches return a string, a number and an object."""
    branches = [_returns("hello"), _returns(42), _returns({"k": "v"})]
    return context.parallel(branches, name="hetero", config=SERIAL).get_results()


# 8-5 ---------------------------------------------------------------------------------------------
@durable_execution
def empty(event: Any, context: DurableContext) -> list[Any]:
    """Parallel with no branches."""
    return context.parallel([], name="empty").get_results()


# 8-6 ---------------------------------------------------------------------------------------------
@durable_execution
def fail_fast(event: Any, context: DurableContext) -> dict[str, Any]:
    """Fail-fast: branch 0 returns "ok", branch 1 fails, branch 2 never starts."""
    branches = [_returns("ok"), _fails(1), _returns("never")]
    result = context.parallel(
        branches, name="failfast", config=_serial(CompletionConfig(tolerated_failure_count=0))
    )
    return _projection(result, *ALL_FIELDS)


# 8-7 ---------------------------------------------------------------------------------------------
@durable_execution
def throw_if_error(event: Any, context: DurableContext) -> list[Any]:
    """Fail-fast: branch 0 fails; the handler rethrows it through the batch result."""
    result = context.parallel(
        [_fails(0), _returns("never")],
        name="throwing",
        config=_serial(CompletionConfig(tolerated_failure_count=0)),
    )
    result.throw_if_error()
    return result.get_results()


# 8-8 ---------------------------------------------------------------------------------------------
@durable_execution
def min_successful(event: Any, context: DurableContext) -> dict[str, Any]:
    """min-successful=2 of 4: branches 2 and 3 never start."""
    branches = [_returns(f"b{index}") for index in range(4)]
    result = context.parallel(
        branches, name="min-successful", config=_serial(CompletionConfig(min_successful=2))
    )
    return _projection(result, "completionReason", "successCount", "totalCount")


# 8-9 ---------------------------------------------------------------------------------------------
@durable_execution
def tolerated_within(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-count=1: branch 1 fails, all three branches run."""
    branches = [_returns("ok"), _fails(1), _returns("ok")]
    result = context.parallel(
        branches, name="tolerated", config=_serial(CompletionConfig(tolerated_failure_count=1))
    )
    return _projection(result, *ALL_FIELDS)


# 8-10 --------------------------------------------------------------------------------------------
@durable_execution
def tolerated_exceeded(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-count=1: branches 0 and 1 fail, branch 2 never starts."""
    branches = [_fails(0), _fails(1), _returns("never")]
    result = context.parallel(
        branches, name="tolerated-exceeded", config=_serial(CompletionConfig(tolerated_failure_count=1))
    )
    return _projection(result, *NO_STATUS)


# 8-11 --------------------------------------------------------------------------------------------
@durable_execution
def concurrent(event: Any, context: DurableContext) -> list[Any]:
    """max-concurrency=2; results come back in branch order."""
    branches = [_returns(f"r{index}") for index in range(3)]
    return context.parallel(
        branches, name="concurrent", config=ParallelConfig(max_concurrency=2)
    ).get_results()


# 8-12 --------------------------------------------------------------------------------------------
@durable_execution
def flat(event: Any, context: DurableContext) -> list[Any]:
    """FLAT nesting: each branch's step is checkpointed directly under the Parallel context."""
    config = ParallelConfig(max_concurrency=1, nesting_type=NestingType.FLAT)
    return context.parallel(
        [_step_returns("fa"), _step_returns("fb")], name="flat", config=config
    ).get_results()


# 8-13 --------------------------------------------------------------------------------------------
@durable_execution
def tolerated_percentage_exceeded(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-percentage=25 of 4: branches 0 and 1 fail (50%), 2 and 3 never start."""
    branches = [_fails(0), _fails(1), _returns("never"), _returns("never")]
    result = context.parallel(
        branches, name="tolerated-pct", config=_serial(CompletionConfig(tolerated_failure_percentage=25))
    )
    return _projection(result, *NO_STATUS)


# 8-14 --------------------------------------------------------------------------------------------
def _wait_then_b1(ctx: DurableContext) -> str:
    """Wait two seconds, then return "b1"."""
    ctx.wait(Duration.from_seconds(2))
    return "b1"


@durable_execution
def replay_across_wait(event: Any, context: DurableContext) -> list[Any]:
    """Branch 0's step returns "b0"; branch 1 waits 2s then returns "b1"."""
    branches = [_step_returns("b0"), _wait_then_b1]
    return context.parallel(branches, name="replay", config=SERIAL).get_results()


# 8-15 --------------------------------------------------------------------------------------------
class EnvelopeSerDes(SerDes[Any]):
    """Per-branch serdes: v is stored as {"wrapped": v} and read back as v."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        """Wrap the value in an envelope."""
        return json.dumps({"wrapped": value})

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        """Unwrap the envelope."""
        return json.loads(data)["wrapped"]


@durable_execution
def item_serdes(event: Any, context: DurableContext) -> list[Any]:
    """Branch results go through a wrapping per-branch serdes."""
    config = ParallelConfig(max_concurrency=1, item_serdes=EnvelopeSerDes())
    return context.parallel([_returns("x"), _returns("y")], name="serde", config=config).get_results()


# 8-16 --------------------------------------------------------------------------------------------
@durable_execution
def all_fail_within_tolerance(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-count=3: all three branches fail and all run."""
    result = context.parallel(
        [_fails(index) for index in range(3)],
        name="all-fail",
        config=_serial(CompletionConfig(tolerated_failure_count=3)),
    )
    return _projection(result, *ALL_FIELDS)


# 8-17 --------------------------------------------------------------------------------------------
@durable_execution
def min_successful_not_reached(event: Any, context: DurableContext) -> dict[str, Any]:
    """min-successful=3: branch 1 fails, so only two succeed; all three run."""
    branches = [_returns("ok"), _fails(1), _returns("ok")]
    result = context.parallel(
        branches, name="min-not-reached", config=_serial(CompletionConfig(min_successful=3))
    )
    return _projection(result, *ALL_FIELDS)


# 8-18 --------------------------------------------------------------------------------------------
@durable_execution
def combined_completion(event: Any, context: DurableContext) -> dict[str, Any]:
    """min-successful=3 with tolerated-failure-count=1: branches 0 and 1 fail, 2 and 3 never start."""
    branches = [_fails(0), _fails(1), _returns("never"), _returns("never")]
    completion = CompletionConfig(min_successful=3, tolerated_failure_count=1)
    result = context.parallel(branches, name="combined", config=_serial(completion))
    return _projection(result, *NO_STATUS)


# 8-19 --------------------------------------------------------------------------------------------
@durable_execution
def invalid_max_concurrency(event: Any, context: DurableContext) -> list[Any]:
    """max-concurrency=0 is rejected with a ValidationError before any branch runs."""
    branches = [_returns("a"), _returns("b")]
    return context.parallel(
        branches, name="bad-concurrency", config=ParallelConfig(max_concurrency=0)
    ).get_results()


# 8-20 --------------------------------------------------------------------------------------------
@durable_execution
def accessors(event: Any, context: DurableContext) -> dict[str, Any]:
    """A projection built from has_failure, succeeded(), failed() and get_errors()."""
    branches = [_returns("ok"), _fails(1), _returns("ok")]
    result = context.parallel(
        branches, name="accessors", config=_serial(CompletionConfig(tolerated_failure_count=1))
    )
    return {
        "hasFailure": result.has_failure,
        "successCount": len(result.succeeded()),
        "failureCount": len(result.failed()),
        "errorCount": len(result.get_errors()),
    }


# 8-21 --------------------------------------------------------------------------------------------
def _inner_parallel(ctx: DurableContext) -> list[Any]:
    """Branch A: an inner serial parallel whose two branches' steps return i1 / i2."""
    inner = ctx.parallel([_step_returns("i1"), _step_returns("i2")], name="inner", config=SERIAL)
    return inner.get_results()


@durable_execution
def nested(event: Any, context: DurableContext) -> list[Any]:
    """An outer parallel with one branch that runs an inner parallel."""
    return context.parallel([_inner_parallel], name="outer", config=SERIAL).get_results()


# 8-22 --------------------------------------------------------------------------------------------
@durable_execution
def tolerated_percentage_boundary(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-percentage=25 of 4: only branch 0 fails (exactly 25%), all four run."""
    branches = [_fails(0), _returns("ok"), _returns("ok"), _returns("ok")]
    result = context.parallel(
        branches, name="pct-boundary", config=_serial(CompletionConfig(tolerated_failure_percentage=25))
    )
    return _projection(result, *ALL_FIELDS)


CASES: dict[str, Case] = {
    "8-1": Case(basic),
    "8-2": Case(branches_only),
    "8-3": Case(named_branches),
    "8-4": Case(heterogeneous),
    "8-5": Case(empty),
    "8-6": Case(fail_fast),
    "8-7": Case(throw_if_error),
    "8-8": Case(
        min_successful, note="Each branch returns b<index>; the prose says only 'a constant string'."
    ),
    "8-9": Case(tolerated_within),
    "8-10": Case(tolerated_exceeded),
    "8-11": Case(concurrent),
    "8-12": Case(flat),
    "8-13": Case(tolerated_percentage_exceeded),
    "8-14": Case(replay_across_wait),
    "8-15": Case(item_serdes, note="The per-branch serdes is ParallelConfig.item_serdes."),
    "8-16": Case(all_fail_within_tolerance),
    "8-17": Case(min_successful_not_reached),
    "8-18": Case(combined_completion),
    "8-19": Case(
        invalid_max_concurrency,
        note="In the Python SDK ParallelConfig(max_concurrency=0) raises ValidationError when the "
        "config is built, inside the handler, so no operation is checkpointed.",
    ),
    "8-20": Case(accessors),
    "8-21": Case(nested),
    "8-22": Case(tolerated_percentage_boundary),
}
