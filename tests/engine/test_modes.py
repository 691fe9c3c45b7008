"""Faithful mode and subprocess mode agree with the default fast in-process mode."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable.engine import DurableRunner
from tests.engine import handlers_sub


@durable_execution
def three_steps(event: Any, context: DurableContext) -> Any:
    a = context.step(lambda _sc: event * 1, name="a")
    b = context.step(lambda _sc: a + 10, name="b")
    return context.step(lambda _sc: [a, b], name="c")


def test_faithful_mode_matches_fast_mode() -> None:
    faithful = DurableRunner(three_steps, faithful=True).run(input=5)
    fast = DurableRunner(three_steps).run(input=5)
    assert faithful.status == fast.status == "SUCCEEDED"
    assert faithful.result == fast.result == [5, 15]
    assert faithful.history_json() == fast.history_json()


def test_subprocess_crash_is_runtime_exit_error_then_finishes() -> None:
    result = DurableRunner(handlers_sub.crash_first_attempt, mode="subprocess", hang_timeout=20).run()
    assert result.status == "SUCCEEDED"
    assert result.result == ["before", 2]
    errors = [e["InvocationCompletedDetails"].get("Error") for e in result.history
              if e["EventType"] == "InvocationCompleted"]
    assert errors[0] is not None
    assert errors[0]["Payload"]["ErrorType"] == "Runtime.ExitError"
    assert "exit status 1" in errors[0]["Payload"]["ErrorMessage"]
    assert all(e is None for e in errors[1:])
    # the interrupted AT_MOST_ONCE attempt went to the step's retry strategy
    (interrupted,) = [e for e in result.history if e["EventType"] == "StepFailed"]
    assert "StepInterruptedError" in interrupted["StepFailedDetails"]["Error"]["Payload"]["ErrorType"]
    assert interrupted["StepFailedDetails"]["RetryDetails"]["NextAttemptDelaySeconds"] == 3
    assert sum(e["EventType"] == "StepSucceeded" and e["Name"] == "before" for e in result.history) == 1


def test_subprocess_history_equals_inprocess_history() -> None:
    sub = DurableRunner(handlers_sub.simple, mode="subprocess", hang_timeout=20).run(input=1)
    inproc = DurableRunner(handlers_sub.simple).run(input=1)
    assert sub.status == inproc.status == "SUCCEEDED"
    assert sub.result == inproc.result == 4
    assert sub.invocations == inproc.invocations == 2
    assert sub.history_json() == inproc.history_json()


def test_a_subprocess_hang_says_where_the_process_was_stuck() -> None:
    from chaosdurable.engine import ExecutionStuckError

    runner = DurableRunner(handlers_sub.hangs_in_a_step, mode="subprocess", hang_timeout=2)
    try:
        runner.run()
    except ExecutionStuckError as exc:
        message = str(exc)
    else:  # pragma: no cover - the assertion is the test
        raise AssertionError("a handler that never returns must be reported")
    assert "user frames of the hung process" in message
    assert "handlers_sub.py" in message and "_wait_forever" in message
