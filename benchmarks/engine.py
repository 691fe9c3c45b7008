"""Engine benchmark: chaosdurable versus AWS's local ``DurableFunctionTestRunner``.

What it measures
----------------
For five workloads written with the real SDK (``aws_durable_execution_sdk_python``):

1. ``10 steps``    -- ten sequential ``context.step`` calls;
2. ``100 steps``   -- a hundred sequential ``context.step`` calls;
3. ``map x20``     -- ``context.map`` over 20 items, each item one step;
4. ``wait 1 year`` -- one ``context.wait(Duration.from_days(365))``;
5. ``callback``    -- ``context.create_callback``, an external success, return its result;

it reports the median wall time of one complete execution (runner construction, driving the
execution to its outcome, reading the result, teardown: what one test does) for three runners,
plus the SDK floor, and then the median CPU time (``time.process_time``, every thread of the
process) of the same executions, which other load on the machine distorts less:

- ``fast``     -- ``chaosdurable.DurableRunner(handler)`` (SDK speed-ups on, the default);
- ``faithful`` -- ``chaosdurable.DurableRunner(handler, faithful=True)`` (unmodified SDK);
- ``anchor``   -- AWS's ``aws_durable_execution_sdk_python_testing.runner.DurableFunctionTestRunner``
  (``skip_time=True``, its default, so the year-long wait is skipped too);
- ``zero``     -- the zero-cost engine (``benchmarks/zero_cost.py``): the SDK with every speed-up
  chaosdurable uses and a service that only keeps operations, for every workload; ``fast/zero``
  is the engine's own cost;
- ``floor``    -- no engine at all: one invocation of the handler through the SDK seam with a
  service client that accepts every checkpoint and returns nothing, speed-ups on. It is what the
  SDK itself costs, so ``anchor/floor`` bounds the ratio any in-process engine can reach without
  changing the SDK (only for workloads that finish in one invocation).

The runners' repetitions are interleaved (fast, faithful, anchor, fast, ... with the order rotated
each round) so that machine noise hits all three alike. Each workload gets one untimed warm-up
execution per runner first. Every execution, timed or not, is checked: it must have SUCCEEDED
with the expected result, otherwise the script stops with an AssertionError, so a broken run
can never be measured as a fast one.

Anchor notes: its ``wait_for_callback`` polls the history, sleeping ``poll_interval`` (default
1 s) between polls; we pass ``poll_interval=0.001`` so the callback workload measures the
engine, not that sleep. The year-long wait is run with ``execution_timeout=31_622_400`` (the
maximum), which must be longer than the wait.

The memory check runs N consecutive 10-step executions on chaosdurable, each on a fresh
``DurableRunner`` (as a user would), and prints tracemalloc's current traced memory (after
``gc.collect()``) at 10%, 50% and 100% of the way, the traced peak within each segment, the
process's RSS (``resource.getrusage`` max RSS, and current RSS from /proc when available) and
the live thread count: these should stay flat.

How to run
----------
::

    python benchmarks/engine.py                  # 15 repetitions, memory check over 2000 runs
    python benchmarks/engine.py --repeat 31      # more repetitions per runner per workload
    python benchmarks/engine.py --memory         # memory check over 10000 runs
    python benchmarks/engine.py --memory 0       # skip the memory check
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.types import StepContext
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from chaosdurable import DurableRunner

ANCHOR_MAX_EXECUTION_TIMEOUT_S = 31_622_400  # the largest ExecutionTimeout the anchor (and AWS) accept
ANCHOR_DEFAULT_EXECUTION_TIMEOUT_S = 300
ANCHOR_POLL_INTERVAL_S = 0.001
CALLBACK_NAME = "approval"
CALLBACK_PAYLOAD = '"ok"'


# ------------------------------------------------------------------------------------- handlers
def _const(value: int) -> Callable[[StepContext], int]:
    """A step body that returns ``value``."""

    def body(_step_context: StepContext) -> int:
        return value

    return body


def _steps(context: DurableContext, n: int) -> int:
    total = 0
    for i in range(n):
        total += context.step(_const(i), name=f"step-{i}")
    return total


@durable_execution
def ten_steps(event: Any, context: DurableContext) -> int:
    """Ten sequential steps; returns the sum of their results (45)."""
    return _steps(context, 10)


@durable_execution
def hundred_steps(event: Any, context: DurableContext) -> int:
    """A hundred sequential steps; returns the sum of their results (4950)."""
    return _steps(context, 100)


def _double_item(context: DurableContext, item: int, index: int, items: Any) -> int:
    return context.step(_const(item * 2), name=f"item-{index}")


@durable_execution
def map_twenty(event: Any, context: DurableContext) -> list[int]:
    """``context.map`` over ``event`` (20 numbers), one step per item doubling it."""
    return context.map(event, _double_item, name="double").get_results()


@durable_execution
def wait_one_year(event: Any, context: DurableContext) -> str:
    """One wait of 365 days."""
    context.wait(Duration.from_days(365), name="year")
    return "woke"


@durable_execution
def callback_round_trip(event: Any, context: DurableContext) -> Any:
    """Create a callback and return whatever the outside world answers (raw payload text)."""
    return context.create_callback(name=CALLBACK_NAME).result()


# ------------------------------------------------------------------------------------ workloads
Kind = Literal["run", "callback"]


@dataclass(frozen=True)
class Workload:
    """One benchmarked handler with its input and the result every execution must return."""

    name: str
    handler: Callable[..., Any]
    input: Any
    expected: Any
    kind: Kind = "run"
    anchor_execution_timeout_s: int = ANCHOR_DEFAULT_EXECUTION_TIMEOUT_S


WORKLOADS: list[Workload] = [
    Workload("10 steps", ten_steps, None, sum(range(10))),
    Workload("100 steps", hundred_steps, None, sum(range(100))),
    Workload("map x20", map_twenty, list(range(20)), [2 * i for i in range(20)]),
    Workload("wait 1 year", wait_one_year, None, "woke",
             anchor_execution_timeout_s=ANCHOR_MAX_EXECUTION_TIMEOUT_S),
    # Without a serdes the SDK hands back the callback's raw payload text, so the handler
    # returns the *string* '"ok"' (JSON-encoded again as the execution's result).
    Workload("callback", callback_round_trip, None, CALLBACK_PAYLOAD, kind="callback"),
]


# -------------------------------------------------------------------------------------- runners
def _check(runner: str, workload: Workload, status: str, result: Any) -> None:
    assert status == "SUCCEEDED", f"{runner} / {workload.name}: status {status}, expected SUCCEEDED"
    assert result == workload.expected, (
        f"{runner} / {workload.name}: result {result!r}, expected {workload.expected!r}"
    )


def _run_chaosdurable(workload: Workload, *, faithful: bool) -> None:
    label = "faithful" if faithful else "fast"
    runner = DurableRunner(workload.handler, faithful=faithful, seed=0)
    if workload.kind == "callback":
        arn = runner.start(input=workload.input)
        pending = runner.pending_callbacks(arn)
        assert len(pending) == 1 and pending[0].name == CALLBACK_NAME, f"{label}: pending callbacks {pending}"
        runner.send_callback_success(pending[0].callback_id, CALLBACK_PAYLOAD)
        res = runner.wait_for_result(arn)
    else:
        res = runner.run(input=workload.input)
    _check(label, workload, res.status, res.result)


def run_fast(workload: Workload) -> None:
    """One complete execution on chaosdurable with the SDK speed-ups (the default)."""
    _run_chaosdurable(workload, faithful=False)


def run_faithful(workload: Workload) -> None:
    """One complete execution on chaosdurable with the unmodified SDK."""
    _run_chaosdurable(workload, faithful=True)


def run_anchor(workload: Workload) -> None:
    """One complete execution on AWS's ``DurableFunctionTestRunner``."""
    payload = json.dumps(workload.input)
    timeout = workload.anchor_execution_timeout_s
    with DurableFunctionTestRunner(handler=workload.handler, poll_interval=ANCHOR_POLL_INTERVAL_S) as runner:
        if workload.kind == "callback":
            arn = runner.run_async(input=payload, execution_timeout=timeout)
            callback_id = runner.wait_for_callback(arn, name=CALLBACK_NAME)
            runner.send_callback_success(callback_id, CALLBACK_PAYLOAD.encode())
            res = runner.wait_for_result(arn, timeout=timeout)
        else:
            res = runner.run(input=payload, execution_timeout=timeout)
    status = getattr(res.status, "value", res.status)
    result = None if res.result in (None, "") else json.loads(res.result)
    _check("anchor", workload, str(status), result)


class _DoNothingClient:
    """A ``DurableServiceClient`` that accepts every checkpoint and returns no new state."""

    def __init__(self) -> None:
        self.count = 0

    def checkpoint(self, durable_execution_arn: str, checkpoint_token: str, updates: Any,
                   client_token: str | None) -> Any:
        from aws_durable_execution_sdk_python.lambda_service import (
            CheckpointOutput,
            CheckpointUpdatedExecutionState,
        )

        self.count += 1
        return CheckpointOutput(checkpoint_token=f"t{self.count}",
                                new_execution_state=CheckpointUpdatedExecutionState())

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a single-page execution never asks for more state")


def run_sdk_floor(workload: Workload) -> None:
    """One invocation of the handler through the SDK seam with a service that does nothing.

    This is the SDK's own cost with chaosdurable's speed-ups on and no emulated service at
    all: no engine can run the workload faster than this in-process without changing the SDK.
    Only workloads that finish in one invocation have a floor (not the wait or the callback).
    """
    from aws_durable_execution_sdk_python.execution import (
        DurableExecutionInvocationInputWithClient,
        InitialExecutionState,
    )
    from aws_durable_execution_sdk_python.lambda_service import Operation

    from chaosdurable.engine import speedups
    from chaosdurable.engine.invoker import LambdaContextStub

    execution = Operation.from_dict({"Id": "floor", "Type": "EXECUTION", "Status": "STARTED",
                                     "ExecutionDetails": {"InputPayload": json.dumps(workload.input)}})
    event = DurableExecutionInvocationInputWithClient(
        durable_execution_arn="arn:aws:lambda:us-east-1:123456789012:function:floor/durable-execution/floor",
        checkpoint_token="t0", initial_execution_state=InitialExecutionState([execution], ""),
        service_client=_DoNothingClient())
    context = LambdaContextStub("floor", "floor", "arn:aws:lambda:us-east-1:123456789012:function:floor")
    with speedups.active(True):
        out = workload.handler(event, context)
    _check("sdk floor", workload, out["Status"], json.loads(out["Result"]))


def run_zero_cost(workload: Workload) -> None:
    """One complete execution on the zero-cost engine (``benchmarks/zero_cost.py``): the SDK with every
    speed-up chaosdurable uses and a service that only keeps operations; any workload, waits and
    callbacks included."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import zero_cost

    status, result = zero_cost.run(workload.handler, workload.input, CALLBACK_PAYLOAD)
    _check("zero-cost", workload, status, result)


RUNNERS: dict[str, Callable[[Workload], None]] = {
    "fast": run_fast,
    "faithful": run_faithful,
    "anchor": run_anchor,
    "floor": run_sdk_floor,
    "zero": run_zero_cost,
}


def runners_for(workload: Workload) -> list[str]:
    """The runners that apply to ``workload`` (the SDK floor needs a one-invocation workload)."""
    one_invocation = workload.kind == "run" and workload.name != "wait 1 year"
    return [name for name in RUNNERS if name != "floor" or one_invocation]


# ------------------------------------------------------------------------------------ benchmark
def time_workload(workload: Workload, repeat: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall times and CPU times (seconds: ``time.process_time``, every thread of this process) of ``repeat``
    interleaved executions per runner, after one warm-up each."""
    names = runners_for(workload)
    for name in names:
        RUNNERS[name](workload)  # warm-up, verified but untimed
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeat):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            started, cpu_started = time.perf_counter(), time.process_time()
            RUNNERS[name](workload)
            cpu[name].append(time.process_time() - cpu_started)
            times[name].append(time.perf_counter() - started)
    return times, cpu


def _ratio(num: float, den: float) -> str:
    return f"{num / den:,.1f}x" if den > 0 else "n/a"


def benchmark(repeat: int, workloads: list[Workload]) -> None:
    """Run every workload and print the table of medians and ratios."""
    print(f"Median wall time per complete execution, {repeat} interleaved repetitions per runner "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    header = (f"{'workload':<12} {'fast ms':>9} {'faithful ms':>12} {'anchor ms':>10} "
              f"{'anchor/fast':>12} {'anchor/faithful':>16} {'SDK floor ms':>13} {'anchor/floor':>13} "
              f"{'zero-cost ms':>13} {'fast/zero':>10}")
    print(header)
    print("-" * len(header))
    total = time.perf_counter()
    executions = 0
    cpu_rows = []
    for workload in workloads:
        times, cpu = time_workload(workload, repeat)
        executions += (repeat + 1) * len(times)
        med = {name: statistics.median(values) * 1000 for name, values in times.items()}
        floor = f"{med['floor']:>13.2f} {_ratio(med['anchor'], med['floor']):>13}" if "floor" in med else (
            f"{'-':>13} {'-':>13}")
        print(f"{workload.name:<12} {med['fast']:>9.2f} {med['faithful']:>12.2f} {med['anchor']:>10.2f} "
              f"{_ratio(med['anchor'], med['fast']):>12} {_ratio(med['anchor'], med['faithful']):>16} {floor} "
              f"{med['zero']:>13.2f} {_ratio(med['fast'], med['zero']):>10}", flush=True)
        cpu_med = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
        # the ratio of CPU times per repetition (same round, same load), then its median
        per_round = statistics.median(f / z for f, z in zip(cpu["fast"], cpu["zero"], strict=True) if z > 0)
        cpu_rows.append((workload.name, cpu_med, per_round))
    print(f"\n(all {executions} executions SUCCEEDED with the expected result; timing took "
          f"{time.perf_counter() - total:.1f} s)")
    print("\nMedian CPU time per complete execution (time.process_time: every thread of this process, so other load\n"
          "on the machine stretches it less than the wall clock; the anchor's CPU leaves out its polling sleeps)\n")
    header = (f"{'workload':<12} {'fast ms':>9} {'faithful ms':>12} {'anchor ms':>10} {'anchor/fast':>12} "
              f"{'SDK floor ms':>13} {'zero-cost ms':>13} {'fast/zero':>10}")
    print(header)
    print("-" * len(header))
    for name, med, per_round in cpu_rows:
        floor = f"{med['floor']:>13.2f}" if "floor" in med else f"{'-':>13}"
        print(f"{name:<12} {med['fast']:>9.2f} {med['faithful']:>12.2f} {med['anchor']:>10.2f} "
              f"{_ratio(med['anchor'], med['fast']):>12} {floor} {med['zero']:>13.2f} {per_round:>9.2f}x")
    print("(fast/zero here: the median over repetitions of the two CPU times measured in the same round)")
    print("SDK floor: one invocation through the SDK seam with a service that does nothing (speed-ups on);\n"
          "anchor/floor is the largest ratio any in-process engine could reach without changing the SDK.\n"
          "zero-cost: benchmarks/zero_cost.py, a service that only keeps operations (waits and callbacks settle\n"
          "at once), speed-ups on: fast/zero is what chaosdurable's engine costs on top (target <= 1.3x).")


# --------------------------------------------------------------------------------------- memory
def _current_rss_mb() -> float | None:
    """Current resident set size from /proc (Linux), or None elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _max_rss_mb() -> float:
    """Peak RSS from ``resource.getrusage`` (KiB on Linux, bytes on macOS)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10


def memory_check(n: int) -> None:
    """Run ``n`` consecutive 10-step executions, each on a fresh DurableRunner, and report memory."""
    workload = WORKLOADS[0]
    print(f"\nMemory: {n} consecutive '{workload.name}' executions on chaosdurable (fast), "
          "a fresh DurableRunner each")
    run_fast(workload)  # warm-up: imports, SDK patches, caches
    gc.collect()
    tracemalloc.start()
    checkpoints = sorted({max(1, n // 10), max(1, n // 2), n})
    base_current, _ = tracemalloc.get_traced_memory()
    rss0 = _current_rss_mb()
    print(f"  {'after':>7} {'runs':>7} {'traced now KiB':>15} {'traced peak KiB':>16} {'RSS now MiB':>12} "
          f"{'max RSS MiB':>12} {'threads':>8}")
    print(f"  {'start':>7} {0:>7} {base_current / 1024:>15.1f} {'':>16} "
          f"{rss0 if rss0 is not None else float('nan'):>12.1f} {_max_rss_mb():>12.1f} "
          f"{threading.active_count():>8}")
    start = time.perf_counter()
    done = 0
    for target in checkpoints:
        while done < target:
            run_fast(workload)
            done += 1
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        rss = _current_rss_mb()
        print(f"  {f'{100 * done // n}%':>7} {done:>7} {current / 1024:>15.1f} {peak / 1024:>16.1f} "
              f"{rss if rss is not None else float('nan'):>12.1f} {_max_rss_mb():>12.1f} "
              f"{threading.active_count():>8}", flush=True)
        tracemalloc.reset_peak()  # the next row's peak covers only its own segment
    tracemalloc.stop()
    print(f"  ({n} executions SUCCEEDED with the expected result in {time.perf_counter() - start:.1f} s "
          "under tracemalloc; traced peak is per segment, after gc.collect() at each row)")


# ----------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the timing table, then the memory check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=15,
                        help="timed executions per runner per workload (default 15)")
    parser.add_argument("--memory", type=int, nargs="?", const=10_000, default=2_000, metavar="N",
                        help="executions in the memory check (default 2000; 10000 if given without N; "
                             "0 skips it)")
    parser.add_argument("--workload", action="append", choices=[w.name for w in WORKLOADS],
                        help="only this workload (repeatable); default all")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    workloads = [w for w in WORKLOADS if args.workload is None or w.name in args.workload]
    benchmark(args.repeat, workloads)
    if args.memory > 0:
        memory_check(args.memory)


if __name__ == "__main__":
    main()
