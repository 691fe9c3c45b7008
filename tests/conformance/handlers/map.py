"""Conformance handlers for the map requirements (9-1 .. 9-20).

Each handler is written from the requirement's prose. Where the prose fixes a
serial order, ``max_concurrency=1`` makes the per-iteration events
deterministic. Map functions have the SDK's signature
``fn(ctx, item, index, items)``. Where the requirement's Input is null, the
items are the ones the prose names (``i0``, ``i1``, ...).
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import BatchItemStatus, BatchResult, DurableContext, durable_execution
from aws_durable_execution_sdk_python.concurrency.models import BatchItem, CompletionReason
from aws_durable_execution_sdk_python.config import CompletionConfig, Duration, MapConfig, NestingType
from aws_durable_execution_sdk_python.serdes import EXTENDED_TYPES_SERDES, SerDes, SerDesContext

from tests.conformance.case import Case

ONE_SECOND = Duration.from_seconds(1)
SERIAL = MapConfig(max_concurrency=1)


def _items(count: int) -> list[str]:
    """The placeholder items i0, i1, ... of a requirement with a null Input."""
    return [f"i{index}" for index in range(count)]


def _serial(completion: CompletionConfig) -> MapConfig:
    """A serial map config with the given completion config."""
    return MapConfig(max_concurrency=1, completion_config=completion)


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


def _fail(index: int) -> Any:
    """Raise the error a failing item raises."""
    raise RuntimeError(f"item {index} failed")


# 9-1 ---------------------------------------------------------------------------------------------
@durable_execution
def basic(event: list[str], context: DurableContext) -> list[str]:
    """Map named "map": each item's step returns "Hello, <item>!"."""

    def greet(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        return ctx.step(lambda _: f"Hello, {item}!")

    return context.map(event, greet, name="map", config=SERIAL).get_results()


# 9-2 ---------------------------------------------------------------------------------------------
@durable_execution
def items_only(event: list[int], context: DurableContext) -> list[int]:
    """Map without a name; each item is doubled directly."""

    def double(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
        return item * 2

    return context.map(event, double, config=SERIAL).get_results()


# 9-3 ---------------------------------------------------------------------------------------------
@durable_execution
def item_and_index(event: list[int], context: DurableContext) -> list[int]:
    """Each item returns item + index."""

    def add_index(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
        return item + index

    return context.map(event, add_index, name="indexed", config=SERIAL).get_results()


# 9-4 ---------------------------------------------------------------------------------------------
@durable_execution
def empty(event: list[Any], context: DurableContext) -> list[Any]:
    """Map over an empty list."""

    def identity(ctx: DurableContext, item: Any, index: int, items: list[Any]) -> Any:
        return item

    return context.map(event, identity, name="empty").get_results()


# 9-5 ---------------------------------------------------------------------------------------------
@durable_execution
def fail_fast(event: Any, context: DurableContext) -> dict[str, Any]:
    """Fail-fast: item 0 returns "ok", item 1 fails, item 2 never starts."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        if index == 1:
            _fail(index)
        return "ok"

    result = context.map(
        _items(3), body, name="failfast", config=_serial(CompletionConfig(tolerated_failure_count=0))
    )
    return _projection(result, "completionReason", "status", "successCount", "failureCount", "totalCount")


# 9-6 ---------------------------------------------------------------------------------------------
@durable_execution
def throw_if_error(event: Any, context: DurableContext) -> Any:
    """Fail-fast: item 0 fails; the handler rethrows it through the batch result."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        _fail(index)
        return "unreachable"

    result = context.map(
        _items(2), body, name="throwing", config=_serial(CompletionConfig(tolerated_failure_count=0))
    )
    result.throw_if_error()
    return result.get_results()


# 9-7 ---------------------------------------------------------------------------------------------
@durable_execution
def min_successful(event: Any, context: DurableContext) -> dict[str, Any]:
    """min-successful=2 of 4: items 2 and 3 never start."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        return "done"

    result = context.map(
        _items(4), body, name="min-successful", config=_serial(CompletionConfig(min_successful=2))
    )
    return _projection(result, "completionReason", "successCount", "totalCount")


# 9-8 ---------------------------------------------------------------------------------------------
@durable_execution
def tolerated_within(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-count=1: item 1 fails, all three items run."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        if index == 1:
            _fail(index)
        return "ok"

    result = context.map(
        _items(3), body, name="tolerated", config=_serial(CompletionConfig(tolerated_failure_count=1))
    )
    return _projection(result, "completionReason", "status", "successCount", "failureCount", "totalCount")


# 9-9 ---------------------------------------------------------------------------------------------
@durable_execution
def tolerated_exceeded(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-count=1: items 0 and 1 fail, item 2 never starts."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        _fail(index)
        return "unreachable"

    result = context.map(
        _items(3),
        body,
        name="tolerated-exceeded",
        config=_serial(CompletionConfig(tolerated_failure_count=1)),
    )
    return _projection(result, "completionReason", "successCount", "failureCount", "totalCount")


# 9-10 --------------------------------------------------------------------------------------------
@durable_execution
def tolerated_percentage_exceeded(event: Any, context: DurableContext) -> dict[str, Any]:
    """tolerated-failure-percentage=25 of 4: items 0 and 1 fail (50%), items 2 and 3 never start."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        _fail(index)
        return "unreachable"

    result = context.map(
        _items(4),
        body,
        name="tolerated-pct",
        config=_serial(CompletionConfig(tolerated_failure_percentage=25)),
    )
    return _projection(result, "completionReason", "successCount", "failureCount", "totalCount")


# 9-11 --------------------------------------------------------------------------------------------
@durable_execution
def concurrent(event: Any, context: DurableContext) -> list[str]:
    """max-concurrency=2; results come back in index order."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        return f"r{index}"

    return context.map(_items(3), body, name="concurrent", config=MapConfig(max_concurrency=2)).get_results()


# 9-12 --------------------------------------------------------------------------------------------
@durable_execution
def flat(event: Any, context: DurableContext) -> list[str]:
    """FLAT nesting: each item's step is checkpointed directly under the Map context."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        return ctx.step(lambda _: item)

    config = MapConfig(max_concurrency=1, nesting_type=NestingType.FLAT)
    return context.map(["fa", "fb"], body, name="flat", config=config).get_results()


# 9-13 --------------------------------------------------------------------------------------------
@durable_execution
def item_namer(event: list[int], context: DurableContext) -> list[int]:
    """Iterations are named "item-<item>" by a custom namer; each returns item * 10."""

    def times_ten(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
        return item * 10

    config = MapConfig(max_concurrency=1, item_namer=lambda item, index: f"item-{item}")
    return context.map(event, times_ten, name="named-items", config=config).get_results()


# 9-14 --------------------------------------------------------------------------------------------
class WrappedSerDes(SerDes[str]):
    """Per-item serdes: "X" is stored as "wrapped:X" and read back as "X"."""

    PREFIX = "wrapped:"

    def serialize(self, value: str, serdes_context: SerDesContext) -> str:
        """Prefix the value."""
        return f"{self.PREFIX}{value}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> str:
        """Strip the prefix."""
        if not data.startswith(self.PREFIX):
            raise ValueError(f"not a wrapped value: {data!r}")
        return data[len(self.PREFIX) :]


def _upper(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
    """Return the uppercased item."""
    return item.upper()


@durable_execution
def item_serdes(event: Any, context: DurableContext) -> list[str]:
    """Each iteration's uppercased result goes through the per-item serdes."""
    config = MapConfig(max_concurrency=1, item_serdes=WrappedSerDes())
    return context.map(["x", "y"], _upper, name="serdes", config=config).get_results()


# 9-15 --------------------------------------------------------------------------------------------
@durable_execution
def suspend_inside_iteration(event: Any, context: DurableContext) -> list[str]:
    """Iteration 0 runs a step; iteration 1 waits 1s, then runs a step."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        if index == 1:
            ctx.wait(ONE_SECOND)
        return ctx.step(lambda _: item)

    return context.map(["r0", "r1"], body, name="suspend", config=SERIAL).get_results()


# 9-16 --------------------------------------------------------------------------------------------
LARGE_ITEM_CHARS = 70 * 1024  # four of these exceed the 256KB checkpoint limit together


@durable_execution
def large_aggregate(event: Any, context: DurableContext) -> dict[str, Any]:
    """Four ~70KB item results whose aggregate exceeds the checkpoint limit."""

    def produce(ctx: DurableContext, item: int, index: int, items: list[int]) -> str:
        return chr(ord("a") + index) * LARGE_ITEM_CHARS

    result = context.map([0, 1, 2, 3], produce, name="large", config=SERIAL)
    return _projection(result, "successCount", "totalCount")


# 9-17 --------------------------------------------------------------------------------------------
@durable_execution
def wait_after_success(event: Any, context: DurableContext) -> list[str]:
    """A successful map, then a 1s wait; replay skips the map."""
    results = context.map(["a", "b"], _upper, name="then-wait", config=SERIAL).get_results()
    context.wait(ONE_SECOND)
    return results


# 9-18 --------------------------------------------------------------------------------------------
@durable_execution
def wait_after_failure(event: Any, context: DurableContext) -> dict[str, Any]:
    """A map with one tolerated failure (not rethrown), then a 1s wait."""

    def body(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
        if item == "fail":
            _fail(index)
        return item

    result = context.map(
        ["ok", "fail"],
        body,
        name="fail-then-wait",
        config=_serial(CompletionConfig(tolerated_failure_count=1)),
    )
    context.wait(ONE_SECOND)
    return _projection(result, "completionReason", "status", "successCount", "failureCount", "totalCount")


# 9-19 / 9-20 -------------------------------------------------------------------------------------
class OpSerDes(SerDes[BatchResult[str]]):
    """Whole-result serdes: a batch of successes ["X", "Y"] is stored as "OPSERDE:X,Y"."""

    PREFIX = "OPSERDE:"

    def serialize(self, value: BatchResult[str], serdes_context: SerDesContext) -> str:
        """Encode the ordered successful results."""
        return self.PREFIX + ",".join(value.get_results())

    def deserialize(self, data: str, serdes_context: SerDesContext) -> BatchResult[str]:
        """Rebuild an all-succeeded batch result from the encoding."""
        if not data.startswith(self.PREFIX):
            raise ValueError(f"not an OPSERDE payload: {data!r}")
        body = data[len(self.PREFIX) :]
        values = body.split(",") if body else []
        items = [
            BatchItem(index=index, status=BatchItemStatus.SUCCEEDED, result=value)
            for index, value in enumerate(values)
        ]
        return BatchResult(items, CompletionReason.ALL_COMPLETED)


def _op_serdes_config() -> MapConfig:
    """Serial map whose whole result uses OpSerDes while items keep the SDK's default serdes."""
    return MapConfig(max_concurrency=1, serdes=OpSerDes(), item_serdes=EXTENDED_TYPES_SERDES)


@durable_execution
def op_serdes(event: Any, context: DurableContext) -> list[str]:
    """The whole map result is serialized as "OPSERDE:X,Y"."""
    return context.map(["x", "y"], _upper, name="op-serde", config=_op_serdes_config()).get_results()


@durable_execution
def op_serdes_replay(event: Any, context: DurableContext) -> list[str]:
    """As 9-19, then a 1s wait; on replay the map result is deserialized through OpSerDes."""
    result = context.map(["x", "y"], _upper, name="op-serde-replay", config=_op_serdes_config())
    context.wait(ONE_SECOND)
    return result.get_results()


_OP_SERDES_NOTE = (
    "MapConfig.serdes alone would also serialize every item (SDK backward compatibility: "
    "item_serdes or serdes), so item_serdes is set to the SDK default (EXTENDED_TYPES_SERDES) to "
    "keep per-item payloads default, as the prose says. OpSerDes encodes the successful results "
    "and decodes them to an all-SUCCEEDED BatchResult with ALL_COMPLETED."
)

CASES: dict[str, Case] = {
    "9-1": Case(basic),
    "9-2": Case(items_only, note="The map function is a plain function, so the Map has no Name."),
    "9-3": Case(item_and_index),
    "9-4": Case(empty),
    "9-5": Case(fail_fast, note="Input is null; the items are i0, i1, i2."),
    "9-6": Case(throw_if_error, note="Input is null; the items are i0, i1."),
    "9-7": Case(min_successful, note="Input is null; the items are i0..i3, each returns 'done'."),
    "9-8": Case(tolerated_within),
    "9-9": Case(tolerated_exceeded),
    "9-10": Case(tolerated_percentage_exceeded),
    "9-11": Case(concurrent, note="Items i0..i2; each returns r<index> directly."),
    "9-12": Case(flat),
    "9-13": Case(item_namer, note="item_namer gives 'item-<item>' (item-1, item-2)."),
    "9-14": Case(item_serdes),
    "9-15": Case(suspend_inside_iteration),
    "9-16": Case(
        large_aggregate,
        note="Items are indexes 0..3; each returns a 70KiB string of one letter, 280KiB in all.",
    ),
    "9-17": Case(wait_after_success),
    "9-18": Case(wait_after_failure),
    "9-19": Case(op_serdes, note=_OP_SERDES_NOTE),
    "9-20": Case(op_serdes_replay, note=_OP_SERDES_NOTE),
}
