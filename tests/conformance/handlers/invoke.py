"""Conformance handlers for the ``invoke`` category (requirements 5-1 .. 5-16).

Targets are registered in ``Case.targets`` under the same function name the
handler passes to ``context.invoke``. Every expected ``ChainedInvokeStarted``
carries ``DurableExecutionArn: '*'`` (the key must be present), which only a
durable target has, so all targets here are ``@durable_execution`` functions
that run as durable child executions. A failing target raises, which fails its
child execution and so the invoke (``ChainedInvokeFailed``).
"""

from __future__ import annotations

import json
from typing import Any

from aws_durable_execution_sdk_python import (
    DurableContext,
    InvokeError,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import Duration, InvokeConfig
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext
from aws_durable_execution_sdk_python.types import StepContext

from tests.conformance.case import Case

ECHO = "echo-target"
FAILING = "failing-target"
LARGE = "large-payload-target"
TARGET_1 = "target-function-1"
TARGET_2 = "target-function-2"


# --------------------------------------------------------------------------- targets


@durable_execution
def echo_target(event: Any, context: DurableContext) -> Any:
    """Durable target that returns whatever it receives."""
    return event


class TargetFailure(Exception):
    """Raised by ``failing_target``."""


@durable_execution
def failing_target(event: Any, context: DurableContext) -> Any:
    """Durable target that always throws."""
    raise TargetFailure("target function failed")


@durable_execution
def large_payload_target(event: Any, context: DurableContext) -> Any:
    """Durable target that receives a large payload and returns a small summary of it."""
    data: str = event["data"]
    return {"received_bytes": len(data), "first": data[:1], "last": data[-1:]}


@durable_execution
def target_function_1(event: Any, context: DurableContext) -> Any:
    """First of the two 5-14 targets."""
    return {"target": 1}


@durable_execution
def target_function_2(event: Any, context: DurableContext) -> Any:
    """Second of the two 5-14 targets."""
    return {"target": 2}


# --------------------------------------------------------------------------- 5-1


@durable_execution
def h_5_1(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target with the event and return its result."""
    return context.invoke(ECHO, event)


# --------------------------------------------------------------------------- 5-2


@durable_execution
def h_5_2(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target with event.payload under the operation name event.name."""
    return context.invoke(ECHO, event["payload"], name=event["name"])


# --------------------------------------------------------------------------- 5-3


@durable_execution
def h_5_3(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target with the nested JSON input and return it unchanged."""
    return context.invoke(ECHO, event)


# --------------------------------------------------------------------------- 5-4


@durable_execution
def h_5_4(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target with a null payload and return the null result."""
    return context.invoke(ECHO, None)


# --------------------------------------------------------------------------- 5-5


@durable_execution
def h_5_5(event: Any, context: DurableContext) -> Any:
    """Invoke a target that throws; the InvokeError is not caught."""
    return context.invoke(FAILING, None)


# --------------------------------------------------------------------------- 5-6


@durable_execution
def h_5_6(event: Any, context: DurableContext) -> Any:
    """Invoke a target that throws; catch the InvokeError and return a fallback."""
    try:
        return context.invoke(FAILING, None)
    except InvokeError:
        return "fallback"


# --------------------------------------------------------------------------- 5-7

# Near, but safely under, the 256 KiB per-operation checkpoint payload limit
# (CHECKPOINT_SIZE_LIMIT_BYTES in aws_durable_execution_sdk_python/constants.py),
# which the ChainedInvokeStarted input must fit in.
LARGE_PAYLOAD_CHARS = 240 * 1024


@durable_execution
def h_5_7(event: Any, context: DurableContext) -> Any:
    """Invoke a target with a payload near the size limit."""
    payload = {"data": "x" * LARGE_PAYLOAD_CHARS}
    return context.invoke(LARGE, payload)


# --------------------------------------------------------------------------- 5-8


@durable_execution
def h_5_8(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target with event.payload and tenant id event.tenantId."""
    return context.invoke(ECHO, event["payload"], config=InvokeConfig(tenant_id=event["tenantId"]))


# --------------------------------------------------------------------------- 5-9


@durable_execution
def h_5_9(event: Any, context: DurableContext) -> Any:
    """Invoke, then wait 1 s; on the last replay the invoke result comes from the checkpoint."""
    result = context.invoke(ECHO, None)
    context.wait(Duration.from_seconds(1))
    return result


# --------------------------------------------------------------------------- 5-10


@durable_execution
def h_5_10(event: Any, context: DurableContext) -> Any:
    """Catch a failed invoke, then wait 1 s; on replay the error is re-raised and caught again."""
    try:
        outcome: Any = context.invoke(FAILING, None)
    except InvokeError as error:
        outcome = f"caught: {error.message}"
    context.wait(Duration.from_seconds(1))
    return outcome


# --------------------------------------------------------------------------- 5-11


def make_greeting(step_context: StepContext) -> str:
    """Step of 5-11 whose result becomes the invoke payload."""
    return "from-step"


@durable_execution
def h_5_11(event: Any, context: DurableContext) -> Any:
    """Run a step, then invoke the echo target with the step result."""
    step_result = context.step(make_greeting)
    return context.invoke(ECHO, step_result)


# --------------------------------------------------------------------------- 5-12


@durable_execution
def h_5_12(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target, then pass its result to a step that returns it."""
    invoke_result = context.invoke(ECHO, None)

    def process(step_context: StepContext) -> Any:
        return {"processed": invoke_result}

    return context.step(process)


# --------------------------------------------------------------------------- 5-13


@durable_execution
def h_5_13(event: Any, context: DurableContext) -> Any:
    """Run a child context that invokes the echo target and returns the result."""

    def child(child_context: DurableContext) -> Any:
        return child_context.invoke(ECHO, None)

    return context.run_in_child_context(child)


# --------------------------------------------------------------------------- 5-14


@durable_execution
def h_5_14(event: Any, context: DurableContext) -> Any:
    """Invoke two target functions one after the other."""
    first = context.invoke(TARGET_1, None)
    second = context.invoke(TARGET_2, None)
    return [first, second]


# --------------------------------------------------------------------------- 5-15


def _upper_strings(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, dict):
        return {key: _upper_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_upper_strings(item) for item in value]
    return value


class UppercasePayloadSerDes(SerDes[Any]):
    """Payload serdes that upper-cases every string before encoding it as JSON."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(_upper_strings(value))

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json.loads(data)


@durable_execution
def h_5_15(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target; a custom payload serdes upper-cases the payload on the way out."""
    return context.invoke(ECHO, event, config=InvokeConfig(serdes_payload=UppercasePayloadSerDes()))


# --------------------------------------------------------------------------- 5-16


class UppercaseResultSerDes(SerDes[str]):
    """Result serdes whose deserializer upper-cases the raw result text."""

    def serialize(self, value: str, serdes_context: SerDesContext) -> str:
        return value

    def deserialize(self, data: str, serdes_context: SerDesContext) -> str:
        return data.upper()


@durable_execution
def h_5_16(event: Any, context: DurableContext) -> Any:
    """Invoke the echo target; a custom result deserializer upper-cases the raw result."""
    return context.invoke(ECHO, event, config=InvokeConfig(serdes_result=UppercaseResultSerDes()))


_ECHO = {ECHO: echo_target}
_FAILING = {FAILING: failing_target}
_DURABLE_TARGET_NOTE = (
    "Targets are durable functions: the expected ChainedInvokeStarted requires a DurableExecutionArn key."
)

CASES: dict[str, Case] = {
    "5-1": Case(handler=h_5_1, targets=_ECHO, note=_DURABLE_TARGET_NOTE),
    "5-2": Case(
        handler=h_5_2,
        targets=_ECHO,
        note="The JS-style invoke(name, fn, payload) maps to Python invoke(fn, payload, name=name).",
    ),
    "5-3": Case(handler=h_5_3, targets=_ECHO),
    "5-4": Case(handler=h_5_4, targets=_ECHO, note="The null payload serializes as 'null'."),
    "5-5": Case(
        handler=h_5_5,
        targets=_FAILING,
        note="'invoke(targetFunctionName)' has no payload; Python requires one, so None is passed. "
        "The target is a durable function that raises.",
    ),
    "5-6": Case(
        handler=h_5_6,
        targets=_FAILING,
        note="Payload None as in 5-5; the fallback value is the string 'fallback'.",
    ),
    "5-7": Case(
        handler=h_5_7,
        targets={LARGE: large_payload_target},
        note="'Near the Lambda payload size limit' is read as a 240 KiB string, just under the SDK's "
        "256 KiB checkpoint limit that the ChainedInvokeStarted input must fit in (the 6 MB sync "
        "invoke limit cannot be approached through a checkpoint). The target returns a short summary.",
    ),
    "5-8": Case(handler=h_5_8, targets=_ECHO, note="tenantId goes to InvokeConfig(tenant_id=...)."),
    "5-9": Case(handler=h_5_9, targets=_ECHO, note="Payload None; wait of 1 s as in the prose."),
    "5-10": Case(handler=h_5_10, targets=_FAILING, note="Payload None; catches InvokeError both times."),
    "5-11": Case(handler=h_5_11, targets=_ECHO, note="The step returns the fixed string 'from-step'."),
    "5-12": Case(
        handler=h_5_12,
        targets=_ECHO,
        note="'invoke(targetFunctionName)' has no payload, so None is sent; the step wraps the echoed "
        "result as {'processed': <result>}.",
    ),
    "5-13": Case(
        handler=h_5_13,
        targets=_ECHO,
        note="Unnamed child context (no Name expected); invoke payload None as in the prose.",
    ),
    "5-14": Case(
        handler=h_5_14,
        targets={TARGET_1: target_function_1, TARGET_2: target_function_2},
        note="Two distinct target functions, each invoked with payload None.",
    ),
    "5-15": Case(
        handler=h_5_15,
        targets=_ECHO,
        note="The custom payload serdes upper-cases every string value: {'data': 'hello'} is sent as "
        '\'{"data": "HELLO"}\' and echoed back.',
    ),
    "5-16": Case(
        handler=h_5_16,
        targets=_ECHO,
        note="The result deserializer upper-cases the raw result text '\"hello\"', giving the string "
        "'\"HELLO\"' (quotes included), which is what ExpectedResult '\"HELLO\"' asserts after one "
        "json.loads of the execution result.",
    ),
}
