"""Conformance handlers for the ``step`` category (requirements 1-1 .. 1-20).

Each handler is written from the requirement's prose. Retry strategies use
``JitterStrategy.NONE`` unless the requirement asks for the SDK default, so the
recorded ``NextAttemptDelaySeconds`` values are deterministic. "Fails on attempt
N" decisions read ``StepContext.attempt`` (the SDK's durable attempt counter)
instead of external state, so they hold across invocations and processes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_durable_execution_sdk_python import (
    DurableContext,
    StepContext,
    StepError,
    durable_execution,
    durable_step,
)
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.retries import (
    RetryDecision,
    RetryPresets,
    RetryStrategyConfig,
    create_retry_strategy,
)
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext

from tests.conformance.case import Case

# ---------------------------------------------------------------------------
# Shared step bodies and configs
# ---------------------------------------------------------------------------

NO_RETRY = StepConfig(retry_strategy=RetryPresets.none())


class TransientError(Exception):
    """A custom error type that the retry strategies of 1-15 / 1-16 inspect."""


@durable_step
def greet(step_context: StepContext, name: Any) -> str:
    """Return the greeting for ``name``."""
    return f"Hello, {name}!"


def _always_fail(step_context: StepContext) -> str:
    """A step body that always raises."""
    raise RuntimeError("step failed on purpose")


# ---------------------------------------------------------------------------
# 1-1 .. 1-7: single-invocation steps
# ---------------------------------------------------------------------------


@durable_execution
def step_basic(event: Any, context: DurableContext) -> str:
    """1-1: one step returning a greeting."""
    return context.step(greet(event))


@durable_execution
def step_with_name(event: Any, context: DurableContext) -> str:
    """1-2: one step with an explicit name."""
    return context.step(lambda _sc: f"Hello, {event}!", name="custom_step_name")


@durable_execution
def step_sequential(event: Any, context: DurableContext) -> str:
    """1-3: the second step consumes the first step's result."""

    @durable_step
    def step_one(step_context: StepContext) -> str:
        return "first"

    @durable_step
    def step_two(step_context: StepContext, previous: str) -> str:
        return f"{previous}_second"

    result1 = context.step(step_one())
    return context.step(step_two(result1))


@durable_step
def build_response(step_context: StepContext, event: dict[str, Any]) -> dict[str, Any]:
    """Build a nested object with arrays and mixed types from the input."""
    tags = list(event["tags"])
    return {"user": {"name": event["name"], "tags": tags}, "count": len(tags)}


@durable_execution
def step_complex_object(event: Any, context: DurableContext) -> dict[str, Any]:
    """1-4: a step returning a nested object."""
    return context.step(build_response(event))


@durable_execution
def step_null_result(event: Any, context: DurableContext) -> None:
    """1-5: a step returning None."""

    def do_nothing(_sc: StepContext) -> None:
        return None

    return context.step(do_nothing)


def _upper_strings(value: Any) -> Any:
    """Uppercase every string inside ``value`` (recursively)."""
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, list):
        return [_upper_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _upper_strings(v) for k, v in value.items()}
    return value


class UppercaseSerDes(SerDes[Any]):
    """JSON serdes that uppercases all string values on serialization."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(_upper_strings(value))

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json.loads(data)


@durable_execution
def step_custom_serdes(event: Any, context: DurableContext) -> Any:
    """1-6: a step with a per-step serdes that uppercases strings."""

    def return_input(_sc: StepContext) -> Any:
        return event

    return context.step(return_input, config=StepConfig(serdes=UppercaseSerDes()))


@durable_step
def greet_with_logs(step_context: StepContext, name: Any) -> str:
    """Greeting step that logs through the step context logger."""
    step_context.logger.info(f"Greeting step started for: {name}")
    greeting = f"Hello, {name}!"
    step_context.logger.info(f"Greeting step completed with: {greeting}")
    return greeting


@durable_execution
def step_with_logger(event: Any, context: DurableContext) -> str:
    """1-7: a step that logs through ``step_context.logger``."""
    return context.step(greet_with_logs(event))


# ---------------------------------------------------------------------------
# 1-8 .. 1-10: replay across a wait
# ---------------------------------------------------------------------------


@durable_execution
def step_and_wait(event: Any, context: DurableContext) -> str:
    """1-8: a step then a 2 s wait; replay skips the step."""
    result = context.step(lambda _sc: "computed")
    context.wait(Duration.from_seconds(2))
    return result


@durable_execution
def step_replay_skips_succeeded(event: Any, context: DurableContext) -> str:
    """1-9: the succeeded step is not re-executed on replay."""

    def func(step_context: StepContext) -> str:
        step_context.logger.info("step executed")
        return "cached_value"

    result = context.step(func)
    context.wait(Duration.from_seconds(1))
    return result


@durable_execution
def step_replay_rethrows_failed(event: Any, context: DurableContext) -> str:
    """1-10: the failed step re-raises its checkpointed error on replay."""

    def func(step_context: StepContext) -> str:
        step_context.logger.info("step executed")
        raise RuntimeError("permanent failure")

    caught = "no error"
    try:
        context.step(func, config=NO_RETRY)
    except StepError as error:
        caught = f"caught: {error}"
    context.wait(Duration.from_seconds(1))
    return caught


# ---------------------------------------------------------------------------
# 1-11 .. 1-16: retry strategies
# ---------------------------------------------------------------------------


@durable_execution
def step_retry_then_succeed(event: Any, context: DurableContext) -> str:
    """1-11: fails on attempt 1, succeeds on attempt 2 after a 1 s retry delay."""

    def unreliable_func(step_context: StepContext) -> str:
        if step_context.attempt == 1:
            raise RuntimeError("transient failure on first attempt")
        return "Operation succeeded"

    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=3,
            initial_delay=Duration.from_seconds(1),
            backoff_rate=2,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return context.step(unreliable_func, config=StepConfig(retry_strategy=strategy))


@durable_execution
def step_retry_exhaustion(event: Any, context: DurableContext) -> str:
    """1-12: always fails; 4 attempts with a constant 1 s delay, then the execution fails."""
    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=4,
            initial_delay=Duration.from_seconds(1),
            max_delay=Duration.from_seconds(1),
            backoff_rate=1,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return context.step(_always_fail, config=StepConfig(retry_strategy=strategy))


@durable_execution
def step_default_retry(event: Any, context: DurableContext) -> str:
    """1-13: fails twice then succeeds under the SDK's default retry strategy."""

    def unreliable_func(step_context: StepContext) -> str:
        if step_context.attempt < 3:
            raise RuntimeError(f"failure on attempt {step_context.attempt}")
        return "succeeded on third attempt"

    return context.step(unreliable_func)


@durable_execution
def step_custom_retry_backoff(event: Any, context: DurableContext) -> str:
    """1-14: fails twice then succeeds; delays 2 s then 6 s (2 s initial, 3x backoff, no jitter)."""

    def func(step_context: StepContext) -> str:
        if step_context.attempt < 3:
            raise RuntimeError(f"failure on attempt {step_context.attempt}")
        return "succeeded on third attempt"

    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=5,
            initial_delay=Duration.from_seconds(2),
            backoff_rate=3,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return context.step(func, config=StepConfig(retry_strategy=strategy))


def retry_on_transient(error: Exception, attempts_made: int) -> RetryDecision:
    """Retry (after 1 s, up to 3 attempts) only when the error is a TransientError."""
    if isinstance(error, TransientError) and attempts_made < 3:
        return RetryDecision.retry(Duration.from_seconds(1))
    return RetryDecision.no_retry()


def no_retry_on_transient_error(error: Exception, attempts_made: int) -> RetryDecision:
    """Never retry a TransientError; retry anything else after 1 s, up to 3 attempts."""
    if isinstance(error, TransientError) or attempts_made >= 3:
        return RetryDecision.no_retry()
    return RetryDecision.retry(Duration.from_seconds(1))


@durable_execution
def step_retry_specific_exception(event: Any, context: DurableContext) -> str:
    """1-15: a TransientError on attempt 1 is retried; attempt 2 succeeds."""

    def func(step_context: StepContext) -> str:
        if step_context.attempt == 1:
            raise TransientError("temporary glitch")
        return "recovered after transient error"

    return context.step(func, config=StepConfig(retry_strategy=retry_on_transient))


@durable_execution
def step_non_retryable_exception(event: Any, context: DurableContext) -> str:
    """1-16: a TransientError is not retried by the strategy; the execution fails."""

    def func(step_context: StepContext) -> str:
        raise TransientError("transient but not retried")

    return context.step(func, config=StepConfig(retry_strategy=no_retry_on_transient_error))


# ---------------------------------------------------------------------------
# 1-17, 1-18: AT_MOST_ONCE_PER_RETRY with a real crash
# ---------------------------------------------------------------------------


@durable_step
def at_most_once_flaky_step(step_context: StepContext, value: Any) -> str:
    """Log the input, then crash the process (never returns)."""
    step_context.logger.info(f"at_most_once_flaky_step running with input: {value}")
    os._exit(1)


@durable_execution
def step_at_most_once_no_retry(event: Any, context: DurableContext) -> str:
    """1-17: AT_MOST_ONCE step crashes; replay sees it interrupted and fails it permanently."""
    config = StepConfig(
        retry_strategy=RetryPresets.none(),
        step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
    )
    return context.step(at_most_once_flaky_step(event), config=config)


@durable_execution
def step_at_most_once_with_retry(event: Any, context: DurableContext) -> str:
    """1-18: AT_MOST_ONCE step crashes on attempt 1, the interruption is retried, attempt 2 succeeds."""

    def flaky(step_context: StepContext) -> str:
        step_context.logger.info(f"flaky step attempt {step_context.attempt} with input: {event}")
        if step_context.attempt == 1:
            os._exit(1)
        return "succeeded on second attempt"

    config = StepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=3,
                initial_delay=Duration.from_seconds(1),
                backoff_rate=2,
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
        step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
    )
    return context.step(flaky, config=config)


# ---------------------------------------------------------------------------
# 1-19, 1-20: permanent failures
# ---------------------------------------------------------------------------


@durable_execution
def step_fails_permanently(event: Any, context: DurableContext) -> str:
    """1-19: a step that always raises, no retries; the execution fails."""
    return context.step(_always_fail, config=NO_RETRY)


@durable_execution
def step_error_caught(event: Any, context: DurableContext) -> str:
    """1-20: the step failure is caught; a second step builds the result from a fallback."""
    try:
        value = context.step(_always_fail, config=NO_RETRY)
    except StepError:
        value = "fallback"
    return context.step(lambda _sc: f"{value}_result")


CASES: dict[str, Case] = {
    "1-1": Case(step_basic),
    "1-2": Case(
        step_with_name,
        note="The step body is a lambda so the only name recorded is the explicit custom_step_name.",
    ),
    "1-3": Case(step_sequential),
    "1-4": Case(step_complex_object, note="count is the number of tags in the input (2)."),
    "1-5": Case(step_null_result),
    "1-6": Case(
        step_custom_serdes,
        note="The serdes uppercases strings when serializing and plain-JSON-decodes; the step's "
        "in-invocation round-trip makes the returned value uppercase too.",
    ),
    "1-7": Case(step_with_logger),
    "1-8": Case(step_and_wait),
    "1-9": Case(step_replay_skips_succeeded),
    "1-10": Case(
        step_replay_rethrows_failed,
        note="No Result is specified; the handler returns a string describing the caught StepError.",
    ),
    "1-11": Case(
        step_retry_then_succeed,
        note="Retry strategy: max 3 attempts, 1 s initial delay, 2x backoff, no jitter "
        "(prose fixes only NextAttemptDelaySeconds=1 for attempt 1).",
    ),
    "1-12": Case(step_retry_exhaustion, note="Constant 1 s delay: initial=max=1 s, backoff 1, no jitter."),
    "1-13": Case(
        step_default_retry,
        note="No StepConfig at all, so the SDK default (RetryPresets.default, FULL jitter) applies; "
        "result is not specified, so the step returns a fixed string.",
    ),
    "1-14": Case(
        step_custom_retry_backoff,
        note="The attempt count comes from StepContext.attempt instead of DynamoDB.",
    ),
    "1-15": Case(
        step_retry_specific_exception,
        note="retry_on_transient is a hand-written strategy: TransientError -> retry after 1 s "
        "(bounded at 3 attempts), anything else -> no retry.",
    ),
    "1-16": Case(
        step_non_retryable_exception,
        note="no_retry_on_transient_error returns no_retry for TransientError, so only one attempt.",
    ),
    "1-17": Case(
        step_at_most_once_no_retry,
        subprocess=True,
        note="The step body is @durable_step at_most_once_flaky_step (which supplies the expected Name); "
        "it logs the input through step_context.logger and calls os._exit(1).",
    ),
    "1-18": Case(
        step_at_most_once_with_retry,
        subprocess=True,
        note="Crashes (os._exit(1)) only when StepContext.attempt == 1; retry delay 1 s, no jitter. "
        "Relies on the engine reporting attempt 2 for the re-executed attempt.",
    ),
    "1-19": Case(step_fails_permanently),
    "1-20": Case(
        step_error_caught,
        note="The fallback value 'fallback' is passed into the second step, which returns 'fallback_result'.",
    ),
}
