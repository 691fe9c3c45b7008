"""Sandbox directory recycling, on and off, against the zero-cost engine, in one process.

Run: ``python benchmarks/sandbox_recycling.py [--rounds 5] [--executions 150]``.

Every in-process ``DurableRunner`` gets a temporary directory for its sandbox (``engine.sandbox``).
Before recycling, each one was made ahead with ``mkdtemp`` and removed with ``rmtree`` after the
runner was collected, both on the housekeeping thread; now a collected runner's pristine directory
is renamed to a fresh name and becomes a later spare (``sandbox.RECYCLE``). For each of
``benchmarks/engine.py``'s workloads this runs ``--executions`` complete executions per round with
recycling off, on, and on the zero-cost engine, rounds interleaved, and prints the median CPU time
(``time.process_time``: every thread, the housekeeping thread included) per execution, the median of
the same-round ratios on/off, and fast/zero both ways.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.engine import WORKLOADS, Workload, run_fast, run_zero_cost
from chaosdurable.engine import sandbox


def _cpu_per_execution(run: Callable[[Workload], None], workload: Workload, n: int) -> float:
    """Milliseconds of process CPU per execution, pending housekeeping included."""
    started = time.process_time()
    for _ in range(n):
        run(workload)
    sandbox.HOUSEKEEPER.flush()
    return (time.process_time() - started) / n * 1000


def main() -> None:
    """Measure every workload and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--executions", type=int, default=150)
    args = parser.parse_args()
    saved = sandbox.RECYCLE[0]
    print(f"{'workload':<12} {'off ms':>8} {'on ms':>8} {'zero ms':>8} {'on/off':>7} {'off/zero':>9} {'on/zero':>8}")
    try:
        for workload in WORKLOADS:
            for _ in range(10):  # warm-up
                run_fast(workload)
                run_zero_cost(workload)
            cpu: dict[str, list[float]] = {"off": [], "on": [], "zero": []}
            for _ in range(args.rounds):
                for label in cpu:
                    sandbox.RECYCLE[0] = label == "on"
                    run = run_zero_cost if label == "zero" else run_fast
                    cpu[label].append(_cpu_per_execution(run, workload, args.executions))

            def ratio(a: str, b: str, values: dict[str, list[float]] = cpu) -> float:
                return statistics.median(x / y for x, y in zip(values[a], values[b], strict=True))

            med = {label: statistics.median(values) for label, values in cpu.items()}
            print(f"{workload.name:<12} {med['off']:>8.2f} {med['on']:>8.2f} {med['zero']:>8.2f} "
                  f"{ratio('on', 'off'):>6.2f}x {ratio('off', 'zero'):>8.2f}x {ratio('on', 'zero'):>7.2f}x", flush=True)
    finally:
        sandbox.RECYCLE[0] = saved
    print("(median CPU per execution over rounds; ratios: median of same-round ratios)")


if __name__ == "__main__":
    main()
