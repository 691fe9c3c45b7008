"""Run one ``workflows()`` program fault-free on chaosdurable and on AWS's ``DurableFunctionTestRunner``.

Both sides run ``strategies.interpreter.run_program`` with the same two invoke targets
(``echo_target`` durable, ``plain_target`` plain) and answer every callback the same way: with the
program's own answer (``Callback.answer``, or the ``Rejected`` failure when ``Callback.fails``), at
once, by callback name. On chaosdurable "at once" means before virtual time moves; on AWS's runner,
as soon as the invocation that created the callback has completed (the rule AWS's own
``wait_for_callback`` uses). No callback times out on either side: the programs' callback timeouts
are 7200 s and every answer comes first.

AWS's runner is driven in real time with ``skip_time=True`` (durable waits and retry delays are
skipped); each execution is bounded by ``bound`` real seconds and reported as not finished beyond
that. chaosdurable's speed-ups switch is process-wide, so ``run_all`` runs every AWS execution first
(concurrently, on threads: each spends most of its time in the SDK's 100 ms stop-flag poll) and
chaosdurable's afterwards, never both at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from chaosdurable import DurableRunner
from chaosdurable.strategies.interpreter import echo_target, plain_target, program_event, run_program
from chaosdurable.strategies.workflows import Callback, Program, rejection

EXECUTION_TIMEOUT = 31_622_400
MAX_ROUNDS = 2000
#: real seconds between two looks at AWS's runner (each look costs CPU the runs share)
POLL_SECONDS = 0.02


@dataclass
class Run:
    """One program on one side: its history (boto3 shape), status, result, and what went wrong."""

    events: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None
    result: Any = None
    error: str | None = None
    seconds: float = 0.0


def _answers(program: Program) -> dict[str, Callback]:
    return {op.name: op for op in program.walk() if isinstance(op, Callback)}


def _failure(op: Callback) -> dict[str, str]:
    return {"ErrorType": "Rejected", "ErrorMessage": rejection(op.name)}


@contextlib.contextmanager
def quiet_sdk_logs() -> Iterator[None]:
    """Planned step failures make the SDK (and AWS's runner) log tracebacks; silence them."""
    loggers = [logging.getLogger(n) for n in ("aws_durable_execution_sdk_python",
                                              "aws_durable_execution_sdk_python_testing")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run_on_chaosdurable(program: Program, **runner_options: Any) -> Run:
    """The program on chaosdurable (fast mode unless ``runner_options`` say otherwise)."""
    start = time.monotonic()
    run = Run()
    runner = DurableRunner(run_program, **runner_options)
    runner.register_durable_function("echo_target", echo_target)
    runner.register_function("plain_target", plain_target)
    answers = _answers(program)
    try:
        arn = runner.start(program_event(program))
        execution = runner.service.get(arn)
        answered: set[str] = set()
        for _ in range(MAX_ROUNDS):
            runner.run_until_idle()
            if execution.done:
                break
            pending = [cb for cb in runner.pending_callbacks(arn) if cb.callback_id not in answered]
            if pending:
                cb = pending[0]
                answered.add(cb.callback_id)
                op = answers[str(cb.name)]
                if op.fails:
                    runner.send_callback_failure(cb.callback_id, _failure(op))
                else:
                    runner.send_callback_success(cb.callback_id, json.dumps(op.answer))
                continue
            if not runner.advance_to_next_timer():
                run.error = "stuck: " + runner.describe_stuck(arn)
                break
        else:
            run.error = f"not finished after {MAX_ROUNDS} rounds"
        result = runner.result(arn)
        run.events = list(runner.get_execution_history(arn)["Events"])
        run.status, run.result = result.status, result.result
    except Exception as exc:  # reported as this program's finding
        run.error = f"{type(exc).__name__}: {exc}"
    run.seconds = time.monotonic() - start
    return run


def _aws_events(runner: DurableFunctionTestRunner, arn: str) -> list[dict[str, Any]]:
    """Every page of AWS's runner's history (it pages at 100 events by default)."""
    events: list[dict[str, Any]] = []
    marker: str | None = None
    for _ in range(1000):
        page = runner._executor.get_execution_history(arn, include_execution_data=True, marker=marker,
                                                      max_items=1000)
        events += [e.to_dict() for e in page.events]
        marker = page.next_marker
        if not marker:
            break
    return events


def run_on_aws(program: Program, bound: float = 30.0) -> Run:
    """The program on AWS's ``DurableFunctionTestRunner`` (``skip_time=True``), within ``bound`` real seconds."""
    start = time.monotonic()
    deadline = start + bound
    run = Run()
    answers = _answers(program)
    runner = DurableFunctionTestRunner(run_program, poll_interval=0.01, skip_time=True)
    tick = threading.Event()  # never set: a bounded pause between polls of the runner's store
    try:
        runner.register_durable_function("echo_target", echo_target)
        runner.register_function("plain_target", plain_target)
        arn = runner.run_async(input=json.dumps(program_event(program)), execution_timeout=EXECUTION_TIMEOUT)
        executor = runner._executor
        handled: set[str] = set()
        while True:
            if executor.get_execution(arn).is_complete:
                break
            if time.monotonic() > deadline:
                run.error = f"AWS's runner did not finish within {bound:g} s real time"
                break
            events = _aws_events(runner, arn) if answers else []  # reading the history costs CPU
            for index, event in enumerate(events):
                if event.get("EventType") != "CallbackStarted":
                    continue
                callback_id = (event.get("CallbackStartedDetails") or {}).get("CallbackId")
                if not callback_id or callback_id in handled:
                    continue
                if not any(e.get("EventType") == "InvocationCompleted" for e in events[index + 1:]):
                    continue
                handled.add(callback_id)
                op = answers[str(event.get("Name"))]
                if op.fails:
                    runner.send_callback_failure(callback_id, ErrorObject.from_dict(_failure(op)))
                else:
                    runner.send_callback_success(callback_id, json.dumps(op.answer).encode())
            tick.wait(POLL_SECONDS)
        details = executor.get_execution_details(arn).to_dict()
        run.events = _aws_events(runner, arn)
        run.status = details.get("Status")
        raw = details.get("Result")
        run.result = json.loads(raw) if isinstance(raw, str) else raw
    except Exception as exc:  # reported as this program's finding
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        closer = threading.Thread(target=_close, args=(runner,), daemon=True)
        closer.start()
        closer.join(5.0)
    run.seconds = time.monotonic() - start
    return run


def _close(runner: DurableFunctionTestRunner) -> None:
    with contextlib.suppress(Exception):
        runner.close()


def run_all(programs: Sequence[Program], workers: int = 6, bound: float = 30.0,
            **runner_options: Any) -> list[tuple[Run, Run]]:
    """(chaosdurable run, AWS run) for each program: all AWS runs first, ``workers`` at a time, then ours."""
    with quiet_sdk_logs():
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aws-runner") as pool:
            theirs = list(pool.map(lambda p: run_on_aws(p, bound), programs))
        ours = [run_on_chaosdurable(p, **runner_options) for p in programs]
    return list(zip(ours, theirs, strict=True))
