"""What the in-function fault plugin costs when it has no schedule: per step, through the real SDK.

Three handlers, identical but for what the SDK loaded when ``@durable_execution`` ran:

- ``none``: no plugin (``DURABLE_EXECUTION_PLUGINS`` unset);
- ``sdk-idle``: a factory returning the SDK's own base ``DurableInstrumentationPlugin`` (no hook
  overridden), i.e. the price of the SDK's plugin machinery itself;
- ``chaosdurable``: ``DURABLE_EXECUTION_PLUGINS=chaosdurable-faults`` (from the entry point), no schedule.

Each run is one execution of ``--steps`` steps on the engine (in-process). Repetitions are
interleaved (a shuffled order per round, after a warm-up), and the report gives the median and
quartiles of the per-step time, and the median difference against ``none``.

    python benchmarks/plugin_overhead.py --steps 100 --rounds 21
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin, InvocationStartInfo

from chaosdurable import DurableRunner


class _BaseFactory:
    def create_plugin(self, info: InvocationStartInfo, /) -> DurableInstrumentationPlugin:
        return DurableInstrumentationPlugin()


def _steps(n: int) -> Callable[[Any, DurableContext], int]:
    def many(event: Any, context: DurableContext) -> int:
        total = 0
        for i in range(n):
            total += context.step(lambda _, i=i: i, name=f"s{i}")
        return total

    return many


def build(variant: str, n: int) -> Callable[..., Any]:
    """The handler for ``variant``, decorated with the environment that variant needs."""
    os.environ.pop("CHAOSDURABLE_SCHEDULE", None)
    if variant == "chaosdurable":
        os.environ["DURABLE_EXECUTION_PLUGINS"] = "chaosdurable-faults"
    try:
        if variant == "sdk-idle":
            return durable_execution(_steps(n), plugins=[_BaseFactory()])
        return durable_execution(_steps(n))
    finally:
        os.environ.pop("DURABLE_EXECUTION_PLUGINS", None)


def one_run(handler: Callable[..., Any], n: int) -> float:
    """Seconds per step of one execution."""
    runner = DurableRunner(handler)
    start = time.perf_counter()
    result = runner.run({})
    elapsed = time.perf_counter() - start
    assert result.status == "SUCCEEDED" and result.result == n * (n - 1) // 2, result
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    variants = ["none", "sdk-idle", "chaosdurable"]
    handlers = {v: build(v, args.steps) for v in variants}
    for v in variants:  # warm-up: imports, caches, thread pools
        one_run(handlers[v], args.steps)
    rng = random.Random(args.seed)
    samples: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        order = variants[:]
        rng.shuffle(order)
        for v in order:
            samples[v].append(one_run(handlers[v], args.steps))
    base = statistics.median(samples["none"])
    print(f"{args.steps} steps per execution, {args.rounds} interleaved rounds, in-process engine")
    print(f"{'variant':<14}{'median us/step':>16}{'q1':>10}{'q3':>10}{'vs none':>12}")
    for v in variants:
        q1, med, q3 = statistics.quantiles(samples[v], n=4)
        print(f"{v:<14}{med * 1e6:>16.1f}{q1 * 1e6:>10.1f}{q3 * 1e6:>10.1f}{(med - base) * 1e6:>+12.1f}")
    # paired per-round differences (same round, same machine load)
    for v in variants[1:]:
        diffs = [a - b for a, b in zip(samples[v], samples["none"], strict=True)]
        q1, med, q3 = statistics.quantiles(diffs, n=4)
        print(f"paired {v} - none: median {med * 1e6:+.1f} us/step (q1 {q1 * 1e6:+.1f}, q3 {q3 * 1e6:+.1f})")
    diffs = [a - b for a, b in zip(samples["chaosdurable"], samples["sdk-idle"], strict=True)]
    q1, med, q3 = statistics.quantiles(diffs, n=4)
    print(f"paired chaosdurable - sdk-idle (ours alone): median {med * 1e6:+.1f} us/step "
          f"(q1 {q1 * 1e6:+.1f}, q3 {q3 * 1e6:+.1f})")


if __name__ == "__main__":
    main()
