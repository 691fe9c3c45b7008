"""The SDK speed-ups are guarded, switchable, and leave histories unchanged."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python import state as sdk_state
from aws_durable_execution_sdk_python.config import Duration

from chaosdurable import DurableRunner
from chaosdurable.engine import speedups


@durable_execution
def three_steps(event: int, context: DurableContext) -> int:
    total = event
    for i in range(3):
        total = context.step(lambda _, t=total, k=i: t + k, name=f"add-{i}")
    return total


def test_installed_on_sdk_3() -> None:
    assert speedups.install() == {"wake_on_stop": "installed", "flush_sync_batches": "installed",
                                  "reuse_threads": "installed", "serial_branches": "installed",
                                  "skip_plugin_bookkeeping": "installed", "exact_batch_size": "installed",
                                  "light_queue": "installed", "inline_sync_checkpoints": "installed",
                                  "plain_step_counter": "installed", "skip_unimplemented_hooks": "installed",
                                  "direct_body_probe": "installed",
                                  "wrapper_on_caller": "installed", "acyclic_logger": "installed"}


def test_thread_reuse_only_while_active() -> None:
    from aws_durable_execution_sdk_python import execution

    speedups.install()
    with speedups.active(False):
        pool = execution.ThreadPoolExecutor(max_workers=1)
        assert type(pool).__name__ == "ThreadPoolExecutor"
        pool.shutdown()
    with speedups.active(True):
        pool = execution.ThreadPoolExecutor(max_workers=1)
        assert type(pool).__name__ == "_ReusingExecutor"
        future = pool.submit(lambda: 41 + 1)
        pool.shutdown(wait=True)
        assert future.result() == 42


def test_switch_restores_the_sdk_constant() -> None:
    original = sdk_state._BLOCKED_CALLER_WAIT_SECONDS
    with speedups.active(True):
        assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == 0.0
        with speedups.active(False):
            assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == original
    assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == original


def test_fast_and_faithful_histories_are_identical() -> None:
    fast = DurableRunner(three_steps).run(1)
    faithful = DurableRunner(three_steps, faithful=True).run(1)
    assert fast.result == faithful.result == 4
    assert fast.history_json() == faithful.history_json()


@durable_execution
def doubled_map(event: list[int], context: DurableContext) -> list[int]:
    def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
        return ctx.step(lambda _: value * 2, name=f"item-{index}")

    return context.map(event, item, name="double").get_results()


def test_concurrent_map_histories_are_byte_identical_with_serial_branches() -> None:
    histories = {DurableRunner(doubled_map).run(list(range(12))).history_json() for _ in range(8)}
    assert len(histories) == 1


def test_concurrent_map_histories_are_byte_identical_in_subprocess_mode() -> None:
    runs = [DurableRunner(doubled_map, mode="subprocess").run(list(range(12))) for _ in range(2)]
    assert runs[0].result == [2 * i for i in range(12)]
    assert runs[0].history_json() == runs[1].history_json()


def test_serial_and_threaded_branches_checkpoint_the_same_operations() -> None:
    serial = DurableRunner(doubled_map).run(list(range(6)))
    threaded = DurableRunner(doubled_map, threaded_branches=True).run(list(range(6)))
    assert serial.result == threaded.result == [0, 2, 4, 6, 8, 10]
    def summary(ops: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((op["Id"], op["Type"], op["Status"]) for op in ops)

    assert len(serial.operations) == 1 + 1 + 6 + 6  # execution, map context, 6 branch contexts, 6 steps
    assert summary(serial.operations) == summary(threaded.operations)


def test_branches_run_on_the_coordinator_thread_only_while_serial() -> None:
    seen: dict[str, set[int]] = {"serial": set(), "threaded": set()}
    label = {"now": "serial"}

    @durable_execution
    def where_branches_run(event: list[int], context: DurableContext) -> int:
        def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
            seen[label["now"]].add(threading.get_ident())
            return value

        return sum(context.map(event, item, name="m").get_results())

    assert DurableRunner(where_branches_run).run([1, 2, 3, 4]).result == 10
    label["now"] = "threaded"
    assert DurableRunner(where_branches_run, threaded_branches=True).run([1, 2, 3, 4]).result == 10
    assert len(seen["serial"]) == 1
    assert len(seen["threaded"]) > 1


def test_inline_executor_keeps_the_future_contract() -> None:
    pool = speedups._InlineExecutor()

    def boom() -> None:
        raise SystemExit(3)

    ok, failed = pool.submit(lambda x: x + 1, 41), pool.submit(boom)
    assert ok.result() == 42
    assert isinstance(failed.exception(), SystemExit)
    pool.shutdown(wait=True, cancel_futures=True)
    try:
        pool.submit(lambda: None)
    except RuntimeError as exc:
        assert "after shutdown" in str(exc)
    else:  # pragma: no cover - the assertion is the test
        raise AssertionError("submit after shutdown must be refused")


def test_a_branch_waiting_for_a_sibling_is_reported_with_the_fix() -> None:
    from chaosdurable.engine.invoker import SERIAL_BRANCH_HINT

    @durable_execution
    def rendezvous(event: Any, context: DurableContext) -> str:
        met = threading.Event()

        def first(ctx: DurableContext) -> str:
            met.wait(timeout=5)  # bounded: released by the sibling only when branches are threads
            return "first" if met.is_set() else "alone"

        def second(ctx: DurableContext) -> str:
            met.set()
            return "second"

        return "+".join(context.parallel([first, second], name="pair").get_results())

    threaded = DurableRunner(rendezvous, threaded_branches=True).run(None)
    assert threaded.result == "first+second"
    stuck = DurableRunner(rendezvous, hang_timeout=0.3, max_invocations=1)
    try:
        stuck.run(None)
    except Exception as exc:  # ExecutionStuckError after the budget, naming the hang
        message = str(exc)
    else:  # pragma: no cover - the assertion is the test
        raise AssertionError("a serial rendezvous must hang and be reported")
    assert SERIAL_BRANCH_HINT in message or "threaded_branches=True" in message


def test_a_crash_inside_a_concurrent_map_replays_byte_identically() -> None:
    import json

    from chaosdurable import FaultSchedule, check
    from chaosdurable.faults.schedule import CrashAtCheckpoint

    schedule = FaultSchedule([CrashAtCheckpoint(op="item-3", action="SUCCEED", phase="after_persist")])
    verdicts = [check(doubled_map, list(range(8)), schedule) for _ in range(3)]
    assert all(v.ok and v.fired for v in verdicts), verdicts[0].report()
    assert verdicts[0].chaotic.result == [2 * i for i in range(8)]
    dumps = {json.dumps(v.chaotic.history, default=str, sort_keys=True) for v in verdicts}
    checkpoints = {json.dumps(v.chaotic.checkpoints, default=str, sort_keys=True) for v in verdicts}
    assert len(dumps) == 1 and len(checkpoints) == 1


# ------------------------------------------------------------------ the checkpoint path (speedups_checkpoint)
def test_exact_batch_size_equals_the_sdks_json_length() -> None:
    import json
    import random

    from aws_durable_execution_sdk_python.lambda_service import (
        ContextOptions,
        ErrorObject,
        OperationAction,
        OperationType,
        OperationUpdate,
        StepOptions,
        WaitOptions,
    )

    from chaosdurable.engine import speedups_checkpoint as sc

    rng = random.Random(13)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\n", "\x01", "\x7f", "é", "€", "\U0001f600", "/", "\u2028"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))

    for _ in range(3000):
        update = OperationUpdate(
            operation_id=text() or "x", operation_type=rng.choice(list(OperationType)),
            action=rng.choice(list(OperationAction)), parent_id=rng.choice([None, "", text()]),
            name=rng.choice([None, "", text()]), sub_type=rng.choice([None, "", text()]),
            payload=rng.choice([None, "", text()]),
            error=rng.choice([None, ErrorObject(message=text(), type=text(), data=None, stack_trace=[text()])]),
            step_options=rng.choice([None, StepOptions(next_attempt_delay_seconds=rng.randint(0, 10**6))]),
            wait_options=rng.choice([None, WaitOptions(wait_seconds=rng.randint(1, 10**7))]),
            context_options=rng.choice([None, ContextOptions(replay_children=rng.choice([True, False]))]))
        expected = len(json.dumps(update.to_dict()).encode("utf-8"))
        assert sc.update_size(update) == expected
        assert sc.json_size(update.to_dict()) == expected


def test_each_checkpoint_patch_switches_off_alone_with_identical_histories() -> None:
    from chaosdurable.engine import speedups_checkpoint as sc

    reference = DurableRunner(doubled_map).run(list(range(5))).history_json()  # serial branches: one schedule
    for patch in sc.PATCHES:
        sc.ENABLED[patch] = False
        try:
            assert DurableRunner(doubled_map).run(list(range(5))).history_json() == reference, patch
        finally:
            sc.ENABLED[patch] = True
    assert DurableRunner(doubled_map).run(list(range(5))).history_json() == reference


def test_synchronous_checkpoints_are_sent_from_the_callers_thread_only_while_active() -> None:
    from chaosdurable.engine.client import EngineServiceClient

    callers: list[str] = []
    original = EngineServiceClient.checkpoint

    def spy(self: EngineServiceClient, *args: Any, **kwargs: Any) -> Any:
        callers.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    EngineServiceClient.checkpoint = spy  # type: ignore[method-assign]
    try:
        fast = DurableRunner(three_steps).run(1)
        fast_callers = list(callers)
        callers.clear()
        faithful = DurableRunner(three_steps, faithful=True).run(1)
    finally:
        EngineServiceClient.checkpoint = original  # type: ignore[method-assign]
    assert fast.history_json() == faithful.history_json()
    # fast: one call per step (START and SUCCEED in one batch) plus the execution's, from the handler's thread;
    # faithful: the SDK's collector sends a START alone when 0.1 s of quiet passes first (a loaded machine)
    assert len(fast_callers) == 3
    assert len(callers) >= 3
    assert not any("checkpoint" in name for name in fast_callers)


def test_threaded_branches_with_inline_checkpoints_checkpoint_every_operation() -> None:
    for _ in range(5):
        threaded = DurableRunner(doubled_map, threaded_branches=True).run(list(range(16)))
        assert threaded.result == [2 * i for i in range(16)]
        assert len(threaded.operations) == 1 + 1 + 16 + 16
        assert all(op["Status"] == "SUCCEEDED" for op in threaded.operations if op["Type"] != "EXECUTION")


def test_attribution_still_finds_the_operation_behind_the_plain_wrapper() -> None:
    from chaosdurable.history.probes import where_now

    seen: list[Any] = []

    @durable_execution
    def attributed(event: Any, context: DurableContext) -> str:
        def body(_sc: Any) -> str:
            seen.append(where_now())
            return "ok"

        return context.step(body, name="attributed-step")

    assert DurableRunner(attributed).run(None).result == "ok"
    assert seen and seen[0].op_name == "attributed-step" and seen[0].invocation == 1


def test_the_change_hook_is_built_only_when_a_plugin_implements_it() -> None:
    from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin, PluginExecutor

    from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe

    changes: list[Any] = []

    class Watcher(DurableInstrumentationPlugin):
        def on_operation_change(self, info: Any) -> None:
            changes.append(info)

    class WatcherFactory:
        def create_plugin(self, info: Any, /) -> DurableInstrumentationPlugin:
            return Watcher()

    built: list[int] = []
    original = PluginExecutor.record_change

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    PluginExecutor.record_change = spy  # type: ignore[method-assign]
    remove = inject_body_probe(three_steps, BodyProbeFactory(lambda *_: None))
    try:
        assert DurableRunner(three_steps).run(1).result == 4
        assert built == []  # only the body probe: nobody implements on_operation_change
        assert DurableRunner(three_steps, faithful=True).run(1).result == 4
        assert built  # the SDK as shipped builds it anyway
        built.clear()
        remove_watcher = inject_body_probe(three_steps, WatcherFactory())  # type: ignore[arg-type]
        try:
            assert DurableRunner(three_steps).run(1).result == 4
        finally:
            remove_watcher()
        assert built and changes
    finally:
        remove()
        PluginExecutor.record_change = original  # type: ignore[method-assign]


def test_the_wrapper_runs_on_the_callers_thread_only_while_active_and_switched_on() -> None:
    from aws_durable_execution_sdk_python import execution

    threads: list[threading.Thread] = []
    original = execution.ExecutionState

    class Spy(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            threads.append(threading.current_thread())
            super().__init__(*args, **kwargs)

    execution.ExecutionState = Spy  # type: ignore[misc]
    try:
        fast = DurableRunner(three_steps).run(1)
        on_caller = list(threads)
        threads.clear()
        speedups.WRAPPER_ON_CALLER[0] = False
        try:
            switched_off = DurableRunner(three_steps).run(1)
        finally:
            speedups.WRAPPER_ON_CALLER[0] = True
        off = list(threads)
        threads.clear()
        faithful = DurableRunner(three_steps, faithful=True).run(1)
    finally:
        execution.ExecutionState = original  # type: ignore[misc]
    assert on_caller and all(t is threading.current_thread() for t in on_caller)
    assert off and not any(t is threading.current_thread() for t in off)
    assert threads and not any(t is threading.current_thread() for t in threads)
    assert fast.history_json() == switched_off.history_json() == faithful.history_json()


@durable_execution
def sets_context_and_locals(event: Any, context: DurableContext) -> list[Any]:
    seen = [_VAR.get(None), getattr(_LOCAL, "value", None)]
    _VAR.set("set by the handler")
    _LOCAL.value = "set by the handler"
    return seen


import contextvars  # noqa: E402

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("_VAR")
_LOCAL = threading.local()


def test_the_wrapper_on_the_callers_thread_leaks_no_context_or_locals_either_way() -> None:
    _VAR.set("the caller's")
    _LOCAL.value = "the caller's"
    first = DurableRunner(sets_context_and_locals).run(None)
    second = DurableRunner(sets_context_and_locals).run(None)
    assert first.result == second.result == [None, None]
    assert _VAR.get() == "the caller's" and _LOCAL.value == "the caller's"


def _hook_log(factory_hooks: tuple[str, ...]) -> tuple[list[tuple[str, Any]], Any]:
    """A plugin factory whose plugins log every hook of ``factory_hooks`` (hook, operation name)."""
    from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin

    log: list[tuple[str, Any]] = []
    methods = {hook: (lambda self, info, hook=hook: log.append((hook, getattr(info, "name", None))))
               for hook in factory_hooks}
    plugin_cls = type("Logging", (DurableInstrumentationPlugin,), methods)

    class Factory:
        def create_plugin(self, info: Any, /) -> Any:
            return plugin_cls()

    return log, Factory()


@durable_execution
def with_retries_and_failure(event: Any, context: DurableContext) -> Any:
    from aws_durable_execution_sdk_python.config import Duration

    context.step(lambda _: 1, name="one")
    context.wait(Duration.from_seconds(5), name="pause")
    with contextlib.suppress(Exception):  # the step's failure is part of the run
        context.step(lambda _: 1 / 0, name="fails")
    return context.step(lambda _: 2, name="two")


def test_every_implemented_hook_runs_as_in_the_sdk_when_others_are_skipped() -> None:
    from chaosdurable.engine import speedups_checkpoint as sc
    from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe

    hooks = ("on_operation_start", "on_operation_end", "on_user_function_start", "on_user_function_end")
    for chosen in [hooks, hooks[2:3], hooks[:2], hooks[1:2], hooks[3:]]:
        logs = []
        for mode in ("fast", "switched off", "faithful"):
            log, factory = _hook_log(chosen)
            removers = [inject_body_probe(with_retries_and_failure, factory),
                        inject_body_probe(with_retries_and_failure, BodyProbeFactory(lambda *_: None))]
            sc.ENABLED["skip_unimplemented_hooks"] = mode != "switched off"
            try:
                result = DurableRunner(with_retries_and_failure, faithful=mode == "faithful").run(None)
            finally:
                sc.ENABLED["skip_unimplemented_hooks"] = True
                for remove in removers:
                    remove()
            assert result.result == 2
            logs.append(log)
        assert logs[0] == logs[1] == logs[2], chosen
        assert {hook for hook, _ in logs[0]} == set(chosen)


def test_direct_body_probe_sees_the_bodies_the_plugin_path_sees_and_contains_its_failures() -> None:
    from chaosdurable.engine import speedups_checkpoint as sc
    from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe

    def bodies(mode: str, fail_on: str | None = None) -> tuple[list[tuple[Any, ...]], Any]:
        seen: list[tuple[Any, ...]] = []

        def sink(event: str, where: Any) -> None:
            seen.append((event, where.op_name, where.op_type, where.attempt, where.in_step, where.invocation))
            if where.op_name == fail_on:
                raise RuntimeError("a probe that fails must not fail the execution")

        remove = inject_body_probe(with_retries_and_failure, BodyProbeFactory(sink))
        sc.ENABLED["direct_body_probe"] = mode != "switched off"
        try:
            result = DurableRunner(with_retries_and_failure, faithful=mode == "faithful").run(None)
        finally:
            sc.ENABLED["direct_body_probe"] = True
            remove()
        return seen, result.result

    for fail_on in (None, "one"):
        runs = [bodies(mode, fail_on) for mode in ("fast", "switched off", "faithful")]
        assert runs[0] == runs[1] == runs[2], fail_on
        assert runs[0][1] == 2
        assert [name for _, name, *_ in runs[0][0]].count("one") == 1


def test_direct_body_probe_leaves_other_plugins_to_the_sdk() -> None:
    from aws_durable_execution_sdk_python.plugin import PluginExecutor

    from chaosdurable.engine import speedups_checkpoint as sc
    from chaosdurable.history.probes import BodyProbeFactory

    _log, factory = _hook_log(("on_user_function_start",))
    assert sc._direct_body_starts(PluginExecutor([BodyProbeFactory(lambda *_: None), factory])) == ()
    executor = PluginExecutor([BodyProbeFactory(lambda *_: None)])
    assert len(sc._direct_body_starts(executor)) == 1
    assert not executor.has_plugins


@durable_execution
def slow_charge(event: Any, context: DurableContext) -> Any:
    """An at-least-once step whose body works a while before its charge (longer than the batcher's polling)."""
    from chaosdurable import effect

    def charge(_: Any) -> int:
        work = sum(i * i for i in range(200_000))  # a few ms of real work before the effect
        effect("charge", key=None)
        return work % 7

    return context.step(charge, name="charge")


def test_a_crash_at_an_at_least_once_start_finds_the_body_run_to_its_end_whatever_the_timing(
        monkeypatch: Any) -> None:
    # the SDK's collector would send the START alone after its polling period of quiet, mid-body; with a
    # polling period far shorter than the body, that always happens there, and the crash then refused the
    # body's charge (or not: it raced). The START now waits for the step's outcome and goes with it.
    from chaosdurable import CrashAtCheckpoint, check

    monkeypatch.setattr(sdk_state, "_STOP_SIGNAL_POLL_SECONDS", 0.0001)
    counts = set()
    for _ in range(5):
        v = check(slow_charge, None, [CrashAtCheckpoint(op="charge")], checkers=["idempotency"])
        assert v.fired, v.report()
        counts.add(sum(1 for e in v.chaotic.effects if e.name == "charge"))
    assert counts == {2}, counts  # the crashed invocation's body charged, and the replay charged again


# ---------------------------------------------------------------------------------------- acyclic_logger
_LINES: list[str] = []
_CONTEXTS: list[DurableContext] = []


@durable_execution
def logs_around_a_wait(event: int, context: DurableContext) -> int:
    _CONTEXTS.append(context)
    context.logger.info("before")
    value = context.step(lambda _: event + 1, name="add")
    context.logger.info("between")
    context.wait(Duration.from_seconds(5))
    context.logger.info("after")
    return int(value)


class _Lines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() in ("before", "between", "after"):
            _LINES.append(record.getMessage())


def _run_logging(**options: Any) -> tuple[list[str], list[DurableContext], str]:
    _LINES.clear()
    _CONTEXTS.clear()
    root, handler = logging.getLogger(), _Lines()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        result = DurableRunner(logs_around_a_wait, **options).run(1)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert result.result == 2
    return list(_LINES), list(_CONTEXTS), result.history_json()


def test_acyclic_logger_logs_exactly_what_the_sdk_logs() -> None:
    """Two invocations: the second replays ``before`` and ``between`` (suppressed) and logs ``after``; the
    same lines and history with the patch on, switched off and in faithful mode."""
    from chaosdurable.engine import speedups_gc

    lines, contexts, history = _run_logging()
    assert lines == ["before", "between", "after"]
    assert [c.logger._is_replaying.__name__ for c in contexts] == ["_not_replaying"] * 2  # applied
    speedups_gc.ENABLED["acyclic_logger"] = False
    try:
        off, off_contexts, off_history = _run_logging()
    finally:
        speedups_gc.ENABLED["acyclic_logger"] = True
    assert [c.logger._is_replaying.__self__ for c in off_contexts] == off_contexts  # the SDK's own
    faithful, faithful_contexts, faithful_history = _run_logging(faithful=True)
    assert [c.logger._is_replaying.__self__ for c in faithful_contexts] == faithful_contexts
    assert lines == off == faithful
    assert history == off_history == faithful_history


def test_acyclic_logger_keeps_the_bound_source_while_the_context_replays() -> None:
    """A context built replaying keeps asking it until it turns NEW (the replay would log otherwise)."""
    from aws_durable_execution_sdk_python.context import ReplayStatus

    seen: list[Any] = []

    @durable_execution
    def watch(event: int, context: DurableContext) -> int:
        seen.append((context._replay_status, getattr(context.logger._is_replaying, "__self__", None) is context))
        context.step(lambda _: 1, name="one")
        context.wait(Duration.from_seconds(1))
        seen.append((context._replay_status, getattr(context.logger._is_replaying, "__self__", None) is context))
        return 0

    DurableRunner(watch).run(0)
    assert seen[0] == (ReplayStatus.NEW, False)  # first invocation: NEW from the start, no cycle
    assert seen[1] == (ReplayStatus.REPLAY, True)  # second: replaying, the SDK's bound method
    assert seen[2] == (ReplayStatus.NEW, False)  # past the wait: NEW for good


def _cyclic_garbage(run: Callable[[], Any]) -> list[str]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        found = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


def test_a_check_leaves_its_state_to_reference_counting() -> None:
    """A fault-free check, and one whose crash kills an invocation mid-checkpoint, leave no invocation state
    (contexts, execution states, frames) and no engine state (runner, service) to the cyclic collector."""
    from chaosdurable import FaultSchedule, check
    from chaosdurable.faults.schedule import CrashAtCheckpoint

    reference = check(three_steps, 1).reference
    check(three_steps, 1, reference=reference)  # warm: imports, first-use caches
    heavy = {"DurableContext", "ExecutionState", "frame", "Service", "DurableRunner", "Nemesis", "Recorder"}
    assert not heavy & set(_cyclic_garbage(lambda: check(three_steps, 1, reference=reference)))
    crash = FaultSchedule((CrashAtCheckpoint(op="add-1", action="SUCCEED", phase="after_persist"),))
    assert check(three_steps, 1, crash, reference=reference).ok
    assert not heavy & set(_cyclic_garbage(lambda: check(three_steps, 1, crash, reference=reference)))
