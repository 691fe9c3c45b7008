"""Conformance handlers for the ``wait_for_condition`` category (requirements 6-1 .. 6-13).

Polling delays are fixed (1 s unless the requirement names one) with no jitter and
no backoff, built with the SDK's ``create_wait_strategy``; the prose of most
requirements only fixes the continue/stop decision, not the delay.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import (
    DurableContext,
    WaitForConditionError,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext
from aws_durable_execution_sdk_python.types import WaitForConditionCheckContext
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig,
    WaitForConditionDecision,
    WaitStrategyConfig,
    create_wait_strategy,
)

from tests.conformance.case import Case


def fixed_delay_strategy(
    should_continue_polling: Callable[[Any], bool],
    delay_seconds: int = 1,
    max_attempts: int = 60,
) -> Callable[[Any, int], WaitForConditionDecision]:
    """A wait strategy with a constant delay (no backoff, no jitter)."""
    return create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=should_continue_polling,
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(delay_seconds),
            max_delay=Duration.from_seconds(delay_seconds),
            backoff_rate=1,
            jitter_strategy=JitterStrategy.NONE,
        )
    )


def increment(state: int, check_context: WaitForConditionCheckContext) -> int:
    """Check function: add one to an integer state."""
    return state + 1


def _below(threshold: int) -> Callable[[int], bool]:
    """Continue polling while the state is below ``threshold``."""
    return lambda state: state < threshold


@durable_execution
def wfc_basic(event: Any, context: DurableContext) -> int:
    """6-1: count from 0 until the input threshold (3) is reached."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(event)), initial_state=0)
    return context.wait_for_condition(increment, config)


@durable_execution
def wfc_immediate(event: Any, context: DurableContext) -> int:
    """6-2: initial state 5 already satisfies state >= 5; no suspension."""
    threshold = event

    def unchanged(state: int, check_context: WaitForConditionCheckContext) -> int:
        return state

    config = WaitForConditionConfig(
        wait_strategy=fixed_delay_strategy(lambda state: state < threshold), initial_state=5
    )
    return context.wait_for_condition(unchanged, config)


@durable_execution
def wfc_named(event: Any, context: DurableContext) -> int:
    """6-3: named "poll-status"; count from 0 until 2."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(event)), initial_state=0)
    return context.wait_for_condition(increment, config, name="poll-status")


@durable_execution
def wfc_initial_state(event: Any, context: DurableContext) -> int:
    """6-4: initial state 5, count until the input threshold (8)."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(event)), initial_state=5)
    return context.wait_for_condition(increment, config)


@durable_execution
def wfc_fixed_delay(event: Any, context: DurableContext) -> int:
    """6-5: fixed 2 s delay between polls; count from 0 until 3."""
    config = WaitForConditionConfig(
        wait_strategy=fixed_delay_strategy(_below(event), delay_seconds=2), initial_state=0
    )
    return context.wait_for_condition(increment, config)


@durable_execution
def wfc_max_attempts(event: Any, context: DurableContext) -> int:
    """6-6: the condition never holds; the strategy fails on its 3rd attempt (uncaught)."""
    config = WaitForConditionConfig(
        wait_strategy=fixed_delay_strategy(lambda _state: True, max_attempts=3),
        initial_state=event if isinstance(event, int) else 0,
    )
    return context.wait_for_condition(increment, config)


def _raise_on_first_check(state: Any, check_context: WaitForConditionCheckContext) -> Any:
    """Check function that raises on its first invocation."""
    if check_context.attempt == 1:
        raise RuntimeError("status check failed")
    return state


@durable_execution
def wfc_check_throws(event: Any, context: DurableContext) -> Any:
    """6-7: the check raises; the error propagates and fails the execution."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(lambda _state: False), initial_state=0)
    return context.wait_for_condition(_raise_on_first_check, config)


@durable_execution
def wfc_check_throws_caught(event: Any, context: DurableContext) -> Any:
    """6-8: the check raises; the handler catches the failure and returns "recovered"."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(lambda _state: False), initial_state=0)
    try:
        return context.wait_for_condition(_raise_on_first_check, config)
    except WaitForConditionError:
        return "recovered"


@durable_execution
def wfc_object_state(event: Any, context: DurableContext) -> dict[str, Any]:
    """6-9: an object state {status, attempts}; DONE once attempts reaches 2."""

    def check(state: dict[str, Any], check_context: WaitForConditionCheckContext) -> dict[str, Any]:
        attempts = state["attempts"] + 1
        return {"status": "DONE" if attempts >= 2 else "PENDING", "attempts": attempts}

    config = WaitForConditionConfig(
        wait_strategy=fixed_delay_strategy(lambda state: state["status"] == "PENDING"),
        initial_state={"status": "PENDING", "attempts": 0},
    )
    return context.wait_for_condition(check, config)


def stop_immediately(state: Any, attempts_made: int) -> WaitForConditionDecision:
    """Wait strategy that stops polling on the first attempt."""
    return WaitForConditionDecision.stop_polling()


@durable_execution
def wfc_null_result(event: Any, context: DurableContext) -> None:
    """6-10: the check returns None and the strategy stops at once."""

    def check(state: Any, check_context: WaitForConditionCheckContext) -> None:
        return None

    config: WaitForConditionConfig[Any] = WaitForConditionConfig(
        wait_strategy=stop_immediately, initial_state=None
    )
    return context.wait_for_condition(check, config)


class EncodedStringSerDes(SerDes[str]):
    """Custom state serdes: the string is stored base64-encoded inside a JSON envelope."""

    def serialize(self, value: str, serdes_context: SerDesContext) -> str:
        return json.dumps({"encoded": base64.b64encode(value.encode()).decode()})

    def deserialize(self, data: str, serdes_context: SerDesContext) -> str:
        return base64.b64decode(json.loads(data)["encoded"]).decode()


@durable_execution
def wfc_custom_serdes(event: Any, context: DurableContext) -> str:
    """6-11: string state with a custom serdes; append "x" until length 2."""

    def append_x(state: str, check_context: WaitForConditionCheckContext) -> str:
        return state + "x"

    config = WaitForConditionConfig(
        wait_strategy=fixed_delay_strategy(lambda state: len(state) < 2),
        initial_state="",
        serdes=EncodedStringSerDes(),
    )
    return context.wait_for_condition(append_x, config)


@durable_execution
def wfc_then_step(event: Any, context: DurableContext) -> int:
    """6-12: poll up to the input threshold (2), then a step multiplies the result by 10."""
    config = WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(event)), initial_state=0)
    value = context.wait_for_condition(increment, config)
    return context.step(lambda _sc: value * 10)


@durable_execution
def wfc_sequential(event: Any, context: DurableContext) -> int:
    """6-13: two polls in a row; the first's result (2) seeds the second, which stops at 4."""
    first = context.wait_for_condition(
        increment, WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(2)), initial_state=0)
    )
    return context.wait_for_condition(
        increment, WaitForConditionConfig(wait_strategy=fixed_delay_strategy(_below(4)), initial_state=first)
    )


_DELAY_NOTE = "Polling delay is a fixed 1 s with no jitter (the prose does not fix a delay)."

CASES: dict[str, Case] = {
    "6-1": Case(wfc_basic, note=f"Threshold is the input (3). {_DELAY_NOTE}"),
    "6-2": Case(
        wfc_immediate,
        note="Initial state is the literal 5 from the prose; the stop condition state >= threshold "
        "uses the input (5) as threshold.",
    ),
    "6-3": Case(wfc_named, note=f"Threshold is the input (2). {_DELAY_NOTE}"),
    "6-4": Case(wfc_initial_state, note=f"Threshold is the input (8). {_DELAY_NOTE}"),
    "6-5": Case(
        wfc_fixed_delay, note="create_wait_strategy with initial=max delay 2 s, backoff 1, no jitter."
    ),
    "6-6": Case(
        wfc_max_attempts,
        note="create_wait_strategy(max_attempts=3) raises WaitForConditionError on attempt 3; the "
        "initial state is the input (0). " + _DELAY_NOTE,
    ),
    "6-7": Case(wfc_check_throws, note="The check raises RuntimeError when check_context.attempt == 1."),
    "6-8": Case(
        wfc_check_throws_caught,
        note="The handler catches WaitForConditionError (what the SDK raises for a failed check).",
    ),
    "6-9": Case(wfc_object_state, note=_DELAY_NOTE),
    "6-10": Case(
        wfc_null_result,
        note="A hand-written wait strategy that always returns stop_polling(); initial state is None.",
    ),
    "6-11": Case(
        wfc_custom_serdes,
        note="The custom serdes stores the string base64-encoded in a JSON envelope; initial state is ''. "
        + _DELAY_NOTE,
    ),
    "6-12": Case(wfc_then_step, note=f"Threshold is the input (2). {_DELAY_NOTE}"),
    "6-13": Case(
        wfc_sequential,
        note="Thresholds 2 and 4 are literal (the input is null). " + _DELAY_NOTE,
    ),
}
