"""WORKLOAD: ``run_program``, one generic ``@durable_execution`` handler that runs any
program drawn by ``workflows()`` with the real SDK.

The event is ``{"program": <Program.to_dict()>, "input": <any JSON>}``; the handler walks the
program tree and issues the SDK operations it describes (see ``workflows`` for what each
operation returns), so ``expected_result(program)`` is what it must return. Maps and
parallels run serially (``max_concurrency=1``) so histories are deterministic.

``program_check(program, schedule)`` runs ``chaosdurable.check`` on it with the invoke
targets registered and the callbacks answered as the program declares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_durable_execution_sdk_python import (
    BatchResult,
    CallbackExternalError,
    DurableContext,
    StepContext,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import (
    CallbackConfig,
    Duration,
    JitterStrategy,
    MapConfig,
    ParallelConfig,
    StepConfig,
    StepSemantics,
)
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitStrategyConfig, create_wait_strategy

from chaosdurable.faults.schedule import FaultSchedule
from chaosdurable.history.ledger import effect, observe_return
from chaosdurable.verdict import Verdict, check

from .workflows import (
    Callback,
    ChildContext,
    Invoke,
    Map,
    Op,
    Parallel,
    Program,
    Step,
    Wait,
    WaitForCondition,
)


class PlannedFailure(RuntimeError):
    """Raised by a step's planned failed attempts (``Step.fail_first_attempts``)."""


# ------------------------------------------------------------------------- targets
@durable_execution
def echo_target(event: Any, context: DurableContext) -> Any:
    """Durable invoke target: returns its payload."""
    return event


def plain_target(event: Any, context: Any) -> Any:
    """Plain (non-durable) Lambda invoke target: wraps its payload."""
    return {"plain": event}


TARGETS: dict[str, Callable[..., Any]] = {"echo_target": echo_target, "plain_target": plain_target}


# --------------------------------------------------------------------------- JSON
def to_json(program: Program) -> str:
    """The program as canonical JSON text."""
    return program.to_json()


def from_json(text: str | dict[str, Any]) -> Program:
    """A program from ``to_json``'s text (or the decoded dict)."""
    return Program.from_json(text)


def program_event(program: Program) -> dict[str, Any]:
    """The execution input ``run_program`` takes for ``program``."""
    return {"program": program.to_dict(), "input": program.input}


# ------------------------------------------------------------------------ handler
def retries(max_attempts: int) -> Callable[[Exception, int], Any]:
    """At most ``max_attempts`` attempts in all, the first retry 1 s later, no jitter."""
    return create_retry_strategy(RetryStrategyConfig(
        max_attempts=max_attempts, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE))


def poll_every_second(until: int) -> WaitForConditionConfig[int]:
    """Poll once a second, without jitter, while the state is below ``until``."""
    return WaitForConditionConfig(initial_state=0, wait_strategy=create_wait_strategy(WaitStrategyConfig(
        should_continue_polling=lambda state: state < until, max_attempts=60,
        initial_delay=Duration.from_seconds(1), max_delay=Duration.from_seconds(1), backoff_rate=1,
        jitter_strategy=JitterStrategy.NONE)))


def _step_body(op: Step, scope: str) -> Callable[[StepContext], int]:
    def body(step_context: StepContext) -> int:
        effect(op.name, key=scope + op.name)
        if step_context.attempt <= op.fail_first_attempts:
            raise PlannedFailure(f"planned failure of {op.name} (attempt {step_context.attempt})")
        return op.value

    return body


def _run_block(context: DurableContext, body: tuple[Op, ...], scope: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for op in body:
        results[op.name] = value = _run_op(context, op, scope)
        if not isinstance(op, Wait):  # what reached this code, for the result-provenance checker
            observe_return(op.name, value)
    return results


def _run_op(context: DurableContext, op: Op, scope: str) -> Any:
    if isinstance(op, Step):
        semantics = StepSemantics(op.semantics)
        return context.step(_step_body(op, scope), name=op.name,
                            config=StepConfig(step_semantics=semantics, retry_strategy=retries(op.max_attempts)))
    if isinstance(op, Wait):
        context.wait(Duration.from_seconds(op.seconds), name=op.name)
        return None
    if isinstance(op, Callback):
        config = CallbackConfig(timeout=Duration.from_seconds(op.timeout)) if op.timeout is not None else None
        callback = context.create_callback(name=op.name, config=config)
        try:
            return json.loads(callback.result())  # type: ignore[arg-type]
        except CallbackExternalError as error:
            if not op.fails:
                raise
            return {"rejected": error.message}
    if isinstance(op, Invoke):
        return context.invoke(op.target, op.payload, name=op.name)
    if isinstance(op, WaitForCondition):
        return context.wait_for_condition(lambda state, check_context: state + 1, poll_every_second(op.until),
                                          name=op.name)
    if isinstance(op, ChildContext):
        return context.run_in_child_context(lambda child: _run_block(child, op.body, scope), name=op.name)
    if isinstance(op, Map):
        def item_body(ctx: DurableContext, item: int, index: int, items: Any) -> list[Any]:
            return [item, _run_block(ctx, op.body, f"{scope}{op.name}[{index}]/")]

        outcome: BatchResult[list[Any]] = context.map(list(op.items), item_body, name=op.name,
                              config=MapConfig(max_concurrency=op.max_concurrency))
        outcome.throw_if_error()
        return outcome.get_results()
    if isinstance(op, Parallel):
        def branch_body(branch: tuple[Op, ...]) -> Callable[[DurableContext], dict[str, Any]]:
            return lambda ctx: _run_block(ctx, branch, scope)

        branches: BatchResult[dict[str, Any]] = context.parallel(
            [branch_body(b) for b in op.branches], name=op.name,
            config=ParallelConfig(max_concurrency=op.max_concurrency))
        branches.throw_if_error()
        return branches.get_results()
    raise TypeError(f"not an operation: {op!r}")


@durable_execution
def run_program(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Run the program in ``event["program"]`` on ``event["input"]``."""
    program = from_json(event["program"])
    return {"input": event.get("input"), "results": _run_block(context, program.body, "")}


# -------------------------------------------------------------------------- check
def program_check(program: Program, schedule: FaultSchedule | None = None, *,
                  callbacks: Mapping[str, Any] | None = None, **kw: Any) -> Verdict:
    """``chaosdurable.check(run_program, ...)`` for ``program`` under ``schedule``: the invoke
    targets registered, the callbacks answered as the program declares (``callbacks`` adds
    to or overrides those answers). Other keyword arguments go to ``check``."""
    kw.setdefault("targets", TARGETS)
    answers = {**program.callback_answers(), **(callbacks or {})}
    return check(run_program, program_event(program), schedule, callbacks=answers, **kw)


def program_space(program: Program) -> Any:
    """The program's operation space (``OperationSpace.probe`` of ``run_program``), for ``fault_schedules``."""
    from .schedules import OperationSpace

    return OperationSpace.probe(run_program, program_event(program), targets=TARGETS,
                                callbacks=program.callback_answers())
