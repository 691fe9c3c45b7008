"""Conformance handlers for the ``wait_for_callback`` category (requirements 7-1 .. 7-15).

``context.wait_for_callback(submitter, name=..., config=...)`` runs, in a child
context of subtype WaitForCallback, a callback (``"<name> create callback id"``)
and a submitter step (``"<name> submitter"``), then blocks on the callback (see
``wait_for_callback_handler`` in ``aws_durable_execution_sdk_python/operation/
callback.py``). The harness answers the callback (``CallbackName: '*'``), so the
submitters here just accept the callback id and do nothing durable.

Python SDK note: without ``serdes`` the callback result is the raw payload text
(``PASS_THROUGH_SERDES``), e.g. ``'"abc"'`` for the JSON string ``"abc"``.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import (
    CallbackError,
    CallbackTimeoutError,
    DurableContext,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, WaitForCallbackConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import JsonSerDes
from aws_durable_execution_sdk_python.types import StepContext, WaitForCallbackContext

from tests.conformance.case import Case


def _seconds(n: int) -> Duration:
    return Duration.from_seconds(n)


def register_callback(callback_id: str, context: WaitForCallbackContext) -> None:
    """Submitter that receives the callback id and does nothing durable with it."""
    return None


class SubmitterRejected(Exception):
    """Raised by the 7-7 submitter on every attempt."""


def failing_submitter(callback_id: str, context: WaitForCallbackContext) -> None:
    """Submitter that always throws (7-7)."""
    raise SubmitterRejected(f"submitter failed for callback {callback_id}")


# --------------------------------------------------------------------------- 7-1


@durable_execution
def h_7_1(event: Any, context: DurableContext) -> Any:
    """One wait_for_callback named after the input; return the callback result."""
    return context.wait_for_callback(register_callback, name=event)


# --------------------------------------------------------------------------- 7-2


@durable_execution
def h_7_2(event: Any, context: DurableContext) -> Any:
    """One wait_for_callback with the static name "approval"."""
    return context.wait_for_callback(register_callback, name="approval")


# --------------------------------------------------------------------------- 7-3


@durable_execution
def h_7_3(event: Any, context: DurableContext) -> Any:
    """One wait_for_callback with only an inline anonymous submitter and no name."""
    return context.wait_for_callback(lambda callback_id, submit_context: None)


# --------------------------------------------------------------------------- 7-4


@durable_execution
def h_7_4(event: Any, context: DurableContext) -> Any:
    """The callback is answered with a failure which the handler does not catch."""
    return context.wait_for_callback(register_callback, name=event)


# --------------------------------------------------------------------------- 7-5


@durable_execution
def h_7_5(event: Any, context: DurableContext) -> Any:
    """3 s timeout, nobody answers; the timeout error is not caught."""
    return context.wait_for_callback(
        register_callback, name=event, config=WaitForCallbackConfig(timeout=_seconds(3))
    )


# --------------------------------------------------------------------------- 7-6


@durable_execution
def h_7_6(event: Any, context: DurableContext) -> Any:
    """The callback fails; the handler catches the error and returns "recovered"."""
    try:
        return context.wait_for_callback(register_callback, name=event)
    except CallbackError:
        return "recovered"


# --------------------------------------------------------------------------- 7-7


@durable_execution
def h_7_7(event: Any, context: DurableContext) -> Any:
    """The submitter always throws; 2 attempts with a 1 s delay, then the execution fails."""
    retry = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=2,
            initial_delay=_seconds(1),
            backoff_rate=1,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return context.wait_for_callback(
        failing_submitter, name=event, config=WaitForCallbackConfig(retry_strategy=retry)
    )


# --------------------------------------------------------------------------- 7-8


@durable_execution
def h_7_8(event: Any, context: DurableContext) -> Any:
    """A wait_for_callback inside a child context named "wrapper"."""

    def wrapper(child: DurableContext) -> Any:
        return child.wait_for_callback(register_callback, name=event)

    return context.run_in_child_context(wrapper, name="wrapper")


# --------------------------------------------------------------------------- 7-9


@durable_execution
def h_7_9(event: Any, context: DurableContext) -> Any:
    """Two sequential wait_for_callback operations "first" and "second"; return the second."""
    context.wait_for_callback(register_callback, name="first")
    return context.wait_for_callback(register_callback, name="second")


# --------------------------------------------------------------------------- 7-10


def fixed_data(step_context: StepContext) -> dict[str, Any]:
    """Top-level step of 7-10 that returns fixed data."""
    return {"prepared": True}


@durable_execution
def h_7_10(event: Any, context: DurableContext) -> Any:
    """1 s wait, then a top-level step, then one wait_for_callback; return the callback result."""
    context.wait(_seconds(1))
    context.step(fixed_data)
    return context.wait_for_callback(register_callback, name=event)


# --------------------------------------------------------------------------- 7-11


@durable_execution
def h_7_11(event: Any, context: DurableContext) -> Any:
    """Deserialize the callback payload as JSON and return its "status" field."""
    result = context.wait_for_callback(
        register_callback, name=event, config=WaitForCallbackConfig(serdes=JsonSerDes())
    )
    return result["status"]


# --------------------------------------------------------------------------- 7-12


@durable_execution
def h_7_12(event: Any, context: DurableContext) -> Any:
    """5 s heartbeat timeout; no heartbeat arrives; the error is not caught."""
    return context.wait_for_callback(
        register_callback, name=event, config=WaitForCallbackConfig(heartbeat_timeout=_seconds(5))
    )


# --------------------------------------------------------------------------- 7-13


@durable_execution
def h_7_13(event: Any, context: DurableContext) -> Any:
    """10 s heartbeat timeout; a heartbeat then a success arrive."""
    return context.wait_for_callback(
        register_callback, name=event, config=WaitForCallbackConfig(heartbeat_timeout=_seconds(10))
    )


# --------------------------------------------------------------------------- 7-14


@durable_execution
def h_7_14(event: Any, context: DurableContext) -> Any:
    """3 s timeout, nobody answers; the handler catches it and returns "timed-out-handled"."""
    try:
        return context.wait_for_callback(
            register_callback, name=event, config=WaitForCallbackConfig(timeout=_seconds(3))
        )
    except CallbackTimeoutError:
        return "timed-out-handled"


# --------------------------------------------------------------------------- 7-15


@durable_execution
def h_7_15(event: Any, context: DurableContext) -> Any:
    """The callback succeeds with no payload; return the (None) result."""
    return context.wait_for_callback(register_callback, name=event)


_RAW_NOTE = (
    "Without serdes the Python SDK returns the raw payload text (PASS_THROUGH_SERDES), so the "
    "handler returns e.g. '\"abc\"'; the requirement wildcards the result."
)

CASES: dict[str, Case] = {
    "7-1": Case(handler=h_7_1, note=_RAW_NOTE),
    "7-2": Case(handler=h_7_2, note=_RAW_NOTE),
    "7-3": Case(
        handler=h_7_3,
        note="An inline lambda has no _original_name, so the operation has no Name; the inner "
        "callback and submitter step are then named 'create callback id' and 'submitter'. " + _RAW_NOTE,
    ),
    "7-4": Case(handler=h_7_4),
    "7-5": Case(handler=h_7_5),
    "7-6": Case(
        handler=h_7_6,
        note="Catches CallbackError (the SDK raises CallbackExternalError, re-raised past the "
        "WaitForCallback child context).",
    ),
    "7-7": Case(
        handler=h_7_7,
        note="Retry policy: create_retry_strategy(max_attempts=2, initial_delay=1 s, backoff 1, no "
        "jitter) passed as WaitForCallbackConfig.retry_strategy, which the SDK applies to the "
        "submitter step. The execution fails with CallbackSubmitterError.",
    ),
    "7-8": Case(handler=h_7_8, note=_RAW_NOTE),
    "7-9": Case(handler=h_7_9, note=_RAW_NOTE),
    "7-10": Case(handler=h_7_10, note="The top-level step returns {'prepared': True}. " + _RAW_NOTE),
    "7-11": Case(
        handler=h_7_11,
        note="JSON deserialization via WaitForCallbackConfig(serdes=JsonSerDes()); the SDK also "
        "passes that serdes to the submitter step, whose None result then checkpoints as 'null'.",
    ),
    "7-12": Case(handler=h_7_12, note="Only heartbeat_timeout is set; the general timeout stays 0 (none)."),
    "7-13": Case(handler=h_7_13, note=_RAW_NOTE),
    "7-14": Case(handler=h_7_14, note="Catches CallbackTimeoutError specifically."),
    "7-15": Case(handler=h_7_15, note="A success with no Result makes callback.result() return None."),
}
