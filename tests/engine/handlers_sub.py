"""Handlers for subprocess-mode tests: module level in an importable module, as subprocess mode requires.

Subprocess mode imports these in a fresh process per invocation, so no module state survives
between invocations; ``crash_first_attempt`` decides whether to crash from the step's attempt.
"""

from __future__ import annotations

import os
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

CRASH_RETRY = create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(3),
                        jitter_strategy=JitterStrategy.NONE)
)


def _before(_sc: StepContext) -> str:
    return "before"


def _crash_on_first_attempt(sc: StepContext) -> int:
    if sc.attempt == 1:
        os._exit(1)  # a real process crash: no output, no exception
    return sc.attempt


@durable_execution
def crash_first_attempt(event: Any, context: DurableContext) -> Any:
    """AT_MOST_ONCE: the interrupted attempt 1 becomes a StepInterruptedError and is retried as attempt 2."""
    first = context.step(_before, name="before")
    second = context.step(
        _crash_on_first_attempt,
        name="crash",
        config=StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry_strategy=CRASH_RETRY),
    )
    return [first, second]


@durable_execution
def simple(event: Any, context: DurableContext) -> Any:
    """Two steps around a wait: two invocations, no failures."""
    one = context.step(lambda _sc: event + 1, name="one")
    context.wait(Duration.from_seconds(5), name="pause")
    return context.step(lambda _sc: one * 2, name="two")


def _wait_forever(_sc: Any) -> None:
    import threading

    threading.Event().wait()  # never set: the step hangs until the process is killed


@durable_execution
def hangs_in_a_step(event: Any, context: DurableContext) -> Any:
    """A step that never returns (in a child process, the hang report comes from faulthandler)."""
    return context.step(_wait_forever, name="forever")
