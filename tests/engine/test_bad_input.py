"""User mistakes and stuck executions: every error names the problem and the fix."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable.engine import (
    DurableRunner,
    ExecutionNameConflictError,
    ExecutionResult,
    ExecutionStuckError,
    NotDurableHandlerError,
    PayloadNotJsonError,
    UnknownCallbackError,
)


@durable_execution
def echo(event: Any, context: DurableContext) -> Any:
    return context.step(lambda _sc: event, name="echo")


def not_durable(event: Any, context: Any) -> Any:
    return event


@durable_execution
def returns_object(event: Any, context: DurableContext) -> Any:
    context.step(lambda _sc: "fine", name="fine")
    return object()


@durable_execution
def invokes_unknown(event: Any, context: DurableContext) -> Any:
    return context.invoke("nope", {"a": 1}, name="call-nope")


@durable_execution
def awaits_callback(event: Any, context: DurableContext) -> Any:
    return context.create_callback(name="approve").result()


@durable_execution
def waits_100s(event: Any, context: DurableContext) -> Any:
    context.wait(Duration.from_seconds(100), name="long-wait")
    return "never"


# The hanging handlers block on GATE["event"]; each test gets a fresh event and sets it at the end
# so the abandoned ("zombie") handler threads exit instead of outliving the test.
GATE: dict[str, Any] = {"event": threading.Event(), "calls": 0}


@pytest.fixture
def gate() -> Iterator[dict[str, Any]]:
    GATE["event"] = threading.Event()
    GATE["calls"] = 0
    try:
        yield GATE
    finally:
        GATE["event"].set()


@durable_execution
def hangs_first_time(event: Any, context: DurableContext) -> Any:
    value = context.step(lambda _sc: "stepped", name="before-hang")
    GATE["calls"] += 1
    if GATE["calls"] == 1:
        GATE["event"].wait(10)
    return value


def _parked_in_hang_handler() -> None:
    GATE["event"].wait(10)


@durable_execution
def always_hangs(event: Any, context: DurableContext) -> Any:
    context.step(lambda _sc: "stepped", name="before-hang")
    _parked_in_hang_handler()
    return "never"


def _invocation_errors(result: ExecutionResult) -> list[dict[str, Any] | None]:
    return [e["InvocationCompletedDetails"].get("Error") for e in result.history
            if e["EventType"] == "InvocationCompleted"]


# ------------------------------------------------------------------ idempotency by name


def test_same_name_same_input_returns_same_execution() -> None:
    runner = DurableRunner(echo)
    arn = runner.start(input={"order": 1}, name="order-1")
    invocations = runner.result(arn).invocations
    again = runner.start(input={"order": 1}, name="order-1")
    assert again == arn
    assert "order-1" in arn
    assert len(runner.service.executions) == 1
    assert runner.result(arn).invocations == invocations
    assert runner.result(arn).result == {"order": 1}


def test_same_name_different_input_conflicts() -> None:
    runner = DurableRunner(echo)
    runner.start(input={"order": 1}, name="order-1")
    with pytest.raises(ExecutionNameConflictError) as info:
        runner.start(input={"order": 2}, name="order-1")
    message = str(info.value)
    assert "order-1" in message and "different input" in message
    assert "new name" in message  # the fix
    assert len(runner.service.executions) == 1


# --------------------------------------------------------------------------- bad input


def test_undecorated_handler_is_rejected() -> None:
    with pytest.raises(NotDurableHandlerError) as info:
        DurableRunner(not_durable)
    message = str(info.value)
    assert "not_durable" in message and "not a durable handler" in message
    assert "@durable_execution" in message
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("bad", [{1, 2}, object()], ids=["set", "object"])
def test_non_json_input_is_rejected(bad: Any) -> None:
    runner = DurableRunner(echo)
    with pytest.raises(PayloadNotJsonError) as info:
        runner.start(input=bad)
    message = str(info.value)
    assert "not JSON-serializable" in message
    assert "payload=" in message and "dicts, lists" in message
    assert runner.service.executions == {}


def test_invalid_raw_json_payload_is_rejected() -> None:
    runner = DurableRunner(echo)
    with pytest.raises(PayloadNotJsonError) as info:
        runner.run(payload="{not json")
    message = str(info.value)
    assert "not valid JSON" in message
    assert "pass a JSON text" in message
    assert runner.service.executions == {}
    # the same runner accepts valid raw JSON
    assert runner.run(payload='{"ok": true}').result == {"ok": True}


def test_non_json_result_fails_with_diagnostic() -> None:
    result = DurableRunner(returns_object).run()
    assert result.status == "FAILED"
    assert "not JSON serializable" in result.error["ErrorMessage"]
    assert result.history[-1]["EventType"] == "ExecutionFailed"
    (diag,) = [d for d in result.diagnostics if "result is not JSON-serializable" in d]
    assert "return only dicts, lists" in diag


def test_unknown_invoke_target_fails_with_diagnostic() -> None:
    result = DurableRunner(invokes_unknown).run()
    assert result.status == "FAILED"
    failed = [e for e in result.history if e["EventType"] == "ChainedInvokeFailed"]
    assert len(failed) == 1 and failed[0]["Name"] == "call-nope"
    error = failed[0]["ChainedInvokeFailedDetails"]["Error"]["Payload"]
    assert error["ErrorType"] == "ResourceNotFoundException"
    assert result.get_operation("call-nope")["Status"] == "FAILED"
    (diag,) = [d for d in result.diagnostics if "'nope'" in d]
    assert "not a registered invoke target" in diag
    assert "runner.register_function('nope', fn)" in diag
    assert "register_durable_function('nope'" in diag


# ----------------------------------------------------------------------------- callbacks


def test_unknown_callback_id() -> None:
    runner = DurableRunner(awaits_callback)
    arn = runner.start()
    (pending,) = runner.pending_callbacks(arn)
    with pytest.raises(UnknownCallbackError) as info:
        runner.send_callback_success("cb-does-not-exist", '"x"')
    message = str(info.value)
    assert "cb-does-not-exist" in message
    assert pending.callback_id in message  # lists what does exist
    assert "pending_callbacks()" in message
    assert runner.result(arn).status == "RUNNING"


def test_completed_callback_id() -> None:
    runner = DurableRunner(awaits_callback)
    arn = runner.start()
    (pending,) = runner.pending_callbacks(arn)
    runner.send_callback_success(pending.callback_id, '"yes"')
    assert runner.result(arn).status == "SUCCEEDED"
    for send in (lambda: runner.send_callback_success(pending.callback_id, '"again"'),
                 lambda: runner.send_callback_failure(pending.callback_id),
                 lambda: runner.send_callback_heartbeat(pending.callback_id)):
        with pytest.raises(UnknownCallbackError) as info:
            send()
        assert pending.callback_id in str(info.value)
        assert "already closed" in str(info.value) and "exactly once" in str(info.value)
    assert runner.result(arn).result == '"yes"'


def test_unanswered_callback_is_stuck() -> None:
    runner = DurableRunner(awaits_callback)
    with pytest.raises(ExecutionStuckError) as info:
        runner.run()
    message = str(info.value)
    partial = info.value.result
    assert isinstance(partial, ExecutionResult)
    assert partial.status == "RUNNING"
    (started,) = [e for e in partial.history if e["EventType"] == "CallbackStarted"]
    callback_id = started["CallbackStartedDetails"]["CallbackId"]
    assert "approve" in message and callback_id in message
    assert f"runner.send_callback_success({callback_id!r}" in message
    # nothing was lost: the execution is still answerable
    runner.send_callback_success(callback_id, '"late"')
    assert runner.wait_for_result(partial.arn).result == '"late"'


# ------------------------------------------------------------------ hangs and timeouts


def test_hang_once_is_an_invocation_timeout_then_recovers(gate: dict[str, Any]) -> None:
    result = DurableRunner(hangs_first_time, hang_timeout=0.3).run()
    assert result.status == "SUCCEEDED"
    assert result.result == "stepped"
    errors = _invocation_errors(result)
    assert len(errors) == 2
    assert errors[0] is not None and errors[0]["Payload"]["ErrorType"] == "Sandbox.Timedout"
    assert errors[1] is None
    assert any("Sandbox.Timedout" in d and "hang timeout" in d for d in result.diagnostics)
    # the step done before the hang was not redone
    assert sum(e["EventType"] == "StepSucceeded" for e in result.history) == 1


def test_always_hanging_handler_stops_after_three_hangs_in_a_row(gate: dict[str, Any]) -> None:
    runner = DurableRunner(always_hangs, hang_timeout=0.3, max_invocations=500)
    with pytest.raises(ExecutionStuckError) as info:
        runner.run()
    message = str(info.value)
    assert "the handler hung 3 invocations in a row" in message and "hang_timeout=0.3" in message
    assert len(message) < 5000  # one stack, not one per zombie thread and invocation
    partial = info.value.result
    assert partial.status == "RUNNING"
    errors = _invocation_errors(partial)
    assert len(errors) == 3
    assert all(e is not None and e["Payload"]["ErrorType"] == "Sandbox.Timedout" for e in errors)


def test_hang_diagnostic_points_at_user_code(gate: dict[str, Any]) -> None:
    runner = DurableRunner(always_hangs, hang_timeout=0.3, max_invocations=0)
    with pytest.raises(ExecutionStuckError) as info:
        runner.run()
    diag = next(d for d in info.value.result.diagnostics if "Sandbox.Timedout" in d)
    assert "_parked_in_hang_handler" in diag or "always_hangs" in diag


def test_execution_timeout() -> None:
    result = DurableRunner(waits_100s).run(execution_timeout=10)
    assert result.status == "TIMED_OUT"
    assert result.error is not None and result.error["ErrorType"] == "Execution.TimedOut"
    first, last = result.history[0], result.history[-1]
    assert first["ExecutionStartedDetails"]["ExecutionTimeout"] == 10
    assert last["EventType"] == "ExecutionTimedOut"
    assert last["EventTimestamp"] - first["EventTimestamp"] == datetime.timedelta(seconds=10)
    assert "WaitSucceeded" not in [e["EventType"] for e in result.history]


def test_waiting_for_a_callback_name_that_is_not_there_does_not_time_out_the_one_that_is() -> None:
    from aws_durable_execution_sdk_python.config import CallbackConfig, Duration

    @durable_execution
    def approval(event: Any, context: DurableContext) -> Any:
        config = CallbackConfig(timeout=Duration.from_hours(1), heartbeat_timeout=Duration.from_minutes(1))
        return context.create_callback(name="appr", config=config).result()

    runner = DurableRunner(approval)
    arn = runner.start()
    with pytest.raises(ExecutionStuckError, match=r"callback 'appr' .* is, and moving virtual time on"):
        runner.wait_for_callback(arn, name="nope")
    assert runner.get_durable_execution(arn)["Status"] == "RUNNING"
    runner.send_callback_success(runner.wait_for_callback(arn, name="appr"), '"yes"')
    assert runner.result(arn).status == "SUCCEEDED"


def test_callback_answers_have_the_shape_the_api_takes() -> None:
    @durable_execution
    def approval(event: Any, context: DurableContext) -> Any:
        return context.create_callback(name="appr").result()

    runner = DurableRunner(approval)
    arn = runner.start()
    callback_id = runner.wait_for_callback(arn)
    with pytest.raises(TypeError, match=r"Pass json.dumps\(\{'ok': True\}\)"):
        runner.send_callback_success(callback_id, {"ok": True})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a callback failure is an ErrorObject dict"):
        runner.send_callback_failure(callback_id, "boom")  # type: ignore[arg-type]
    runner.send_callback_success(callback_id, '{"ok": true}')  # nothing was lost: the callback is still open
    assert runner.result(arn).result == '{"ok": true}'


def test_time_does_not_run_back_and_targets_do_not_replace_the_handler() -> None:
    @durable_execution
    def noop(event: Any, context: DurableContext) -> str:
        return "ok"

    runner = DurableRunner(noop)
    with pytest.raises(ValueError, match="virtual time only moves forward"):
        runner.advance(-10)
    with pytest.raises(ValueError, match="'handler' is the name of the handler under test"):
        runner.register_function("handler", lambda event, context: None)
    assert runner.run().result == "ok"


def test_stopping_an_ended_execution_and_a_missing_handler_are_named() -> None:
    from chaosdurable.engine import NotDurableHandlerError

    @durable_execution
    def noop(event: Any, context: DurableContext) -> str:
        return "ok"

    runner = DurableRunner(noop)
    result = runner.run()
    with pytest.raises(ValueError, match=r"already ended \(SUCCEEDED\); only a RUNNING execution can be stopped"):
        runner.stop_execution(result.arn)
    with pytest.raises(NotDurableHandlerError, match="None is not a handler at all"):
        DurableRunner(None)  # type: ignore[arg-type]


def test_nan_is_not_json() -> None:
    from chaosdurable import check
    from chaosdurable.engine import PayloadNotJsonError

    @durable_execution
    def echo(event: Any, context: DurableContext) -> Any:
        return event

    with pytest.raises(PayloadNotJsonError, match="not JSON-serializable"):
        DurableRunner(echo).run(float("nan"))
    with pytest.raises(PayloadNotJsonError, match="not JSON-serializable"):
        check(echo, {"ratio": float("inf")})
