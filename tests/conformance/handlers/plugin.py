"""Conformance handlers for the ``plugin`` category (requirements 10-1 .. 10-7).

Plugins are registered through ``durable_execution(plugins=[factory, ...])``: a
factory's ``create_plugin`` builds one ``DurableInstrumentationPlugin`` per
invocation. Every plugin record is a JSON object printed on its own stdout line,
stamped with the ``durableExecutionArn`` captured from the invocation-start info.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_durable_execution_sdk_python import (
    DurableContext,
    StepContext,
    durable_execution,
    durable_step,
)
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    OperationType,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)
from aws_durable_execution_sdk_python.retries import RetryPresets, RetryStrategyConfig, create_retry_strategy

from tests.conformance.case import Case

_PRINT_LOCK = threading.Lock()


class _RecordingPlugin(DurableInstrumentationPlugin):
    """Base: emits one JSON line per record, stamped with the execution ARN."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.execution_arn: str | None = None

    def emit(self, hook: str, **fields: Any) -> None:
        record = {"plugin": self.tag, "hook": hook, **fields, "durableExecutionArn": self.execution_arn}
        line = json.dumps(record)
        with _PRINT_LOCK:
            print(line, flush=True)

    @staticmethod
    def is_step(info: OperationInfo) -> bool:
        """Filter to step-type operations."""
        return info.operation_type == OperationType.STEP


class InvocationPlugin(_RecordingPlugin):
    """Logs invocation-start (with the first-invocation flag) and invocation-end (with status)."""

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.execution_arn = info.execution_arn
        self.emit("invocation-start", first=info.is_first_invocation)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.emit("invocation-end", status=info.status.value)


class InvocationStatusPlugin(_RecordingPlugin):
    """Logs invocation-start and invocation-end (with status), no first flag (10-5)."""

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.execution_arn = info.execution_arn
        self.emit("invocation-start")

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.emit("invocation-end", status=info.status.value)


class OperationPlugin(_RecordingPlugin):
    """Logs operation-start / operation-end for step-type operations."""

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.execution_arn = info.execution_arn

    def on_operation_start(self, info: OperationStartInfo) -> None:
        if self.is_step(info):
            self.emit("operation-start", op=info.operation_id)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if self.is_step(info):
            self.emit("operation-end", op=info.operation_id, status=info.status.value)


class AttemptPlugin(_RecordingPlugin):
    """Logs attempt-start / attempt-end around each step attempt's user function."""

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.execution_arn = info.execution_arn

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if self.is_step(info):
            self.emit("attempt-start", n=info.attempt, op=info.operation_id)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if self.is_step(info):
            self.emit("attempt-end", n=info.attempt, outcome=info.outcome.value, op=info.operation_id)


class PluginHookError(RuntimeError):
    """Raised by every hook of the faulty plugin."""


class FaultyPlugin(_RecordingPlugin):
    """Every hook logs a line and then raises."""

    def _fail(self, hook: str) -> None:
        self.emit(hook)
        raise PluginHookError(f"{self.tag} {hook} hook failed on purpose")

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.execution_arn = info.execution_arn
        self._fail("invocation-start")

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self._fail("invocation-end")

    def on_operation_start(self, info: OperationStartInfo) -> None:
        if self.is_step(info):
            self._fail("operation-start")

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if self.is_step(info):
            self._fail("operation-end")

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if self.is_step(info):
            self._fail("attempt-start")

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if self.is_step(info):
            self._fail("attempt-end")


class PluginFactory:
    """Builds a fresh plugin instance of ``plugin_cls`` for every invocation."""

    def __init__(self, plugin_cls: type[_RecordingPlugin], tag: str) -> None:
        self._plugin_cls = plugin_cls
        self._tag = tag

    def create_plugin(self, info: InvocationStartInfo, /) -> DurableInstrumentationPlugin:
        return self._plugin_cls(self._tag)


# ---------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------


@durable_step
def greet(step_context: StepContext, name: Any) -> str:
    """Return the greeting for ``name``."""
    return f"Hello, {name}!"


@durable_step
def greet_with_log(step_context: StepContext, name: Any) -> str:
    """Log the running line, then return the greeting."""
    step_context.logger.info(f"Greeting step running for: {name}")
    return f"Hello, {name}!"


@durable_execution(plugins=[PluginFactory(InvocationPlugin, "CONFPLUGIN")])
def plugin_invocation_hooks(event: Any, context: DurableContext) -> str:
    """10-1: invocation-start/-end around a single greeting step."""
    return context.step(greet_with_log(event))


@durable_execution(plugins=[PluginFactory(OperationPlugin, "CONFPLUGIN")])
def plugin_operation_hooks(event: Any, context: DurableContext) -> str:
    """10-2: operation-start/-end for a single greeting step."""
    return context.step(greet(event))


@durable_execution(plugins=[PluginFactory(AttemptPlugin, "CONFPLUGIN")])
def plugin_attempt_hooks(event: Any, context: DurableContext) -> str:
    """10-3: attempt hooks for a step that fails once and then succeeds."""

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


@durable_execution(plugins=[PluginFactory(FaultyPlugin, "CONFPLUGIN-FAULTY")])
def plugin_error_isolation(event: Any, context: DurableContext) -> str:
    """10-4: every plugin hook raises; the execution is unaffected."""
    return context.step(greet(event))


@durable_execution(
    plugins=[
        PluginFactory(InvocationStatusPlugin, "CONFPLUGIN-A"),
        PluginFactory(InvocationStatusPlugin, "CONFPLUGIN-B"),
    ]
)
def plugin_multiple(event: Any, context: DurableContext) -> str:
    """10-5: two plugins (A then B) both see the invocation hooks."""
    return context.step(greet(event))


@durable_execution(plugins=[PluginFactory(InvocationPlugin, "CONFPLUGIN")])
def plugin_first_invocation(event: Any, context: DurableContext) -> None:
    """10-6: a 2 s wait, so the plugin sees first=true and then first=false."""
    context.wait(Duration.from_seconds(2))


@durable_execution(plugins=[PluginFactory(InvocationPlugin, "CONFPLUGIN")])
def plugin_terminal_failure(event: Any, context: DurableContext) -> str:
    """10-7: a step that always fails without retries; invocation-end reports FAILED."""

    def failing_func(step_context: StepContext) -> str:
        raise RuntimeError("step failed on purpose")

    return context.step(failing_func, config=StepConfig(retry_strategy=RetryPresets.none()))


_FILTER_NOTE = "'step-type operations' is read as OperationInfo.operation_type == OperationType.STEP."

CASES: dict[str, Case] = {
    "10-1": Case(
        plugin_invocation_hooks,
        note="The step's running line is logged through step_context.logger.",
    ),
    "10-2": Case(plugin_operation_hooks, note=_FILTER_NOTE + " status is OperationEndInfo.status.value."),
    "10-3": Case(
        plugin_attempt_hooks,
        note=_FILTER_NOTE + " Attempt hooks are on_user_function_start/end; n is info.attempt, outcome "
        "is UserFunctionOutcome.value. Retry: max 3 attempts, 1 s delay, no jitter.",
    ),
    "10-4": Case(
        plugin_error_isolation,
        note=_FILTER_NOTE + " The factory itself does not raise (it is not a hook); "
        "on_operation_change is not overridden (not among the listed hooks).",
    ),
    "10-5": Case(
        plugin_multiple,
        note="Two factories registered in order A, B; the prose gives these records no 'first' field.",
    ),
    "10-6": Case(plugin_first_invocation),
    "10-7": Case(plugin_terminal_failure),
}
