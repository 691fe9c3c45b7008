"""Speed and power of chaos properties: examples per second, time to find each zoo bug, shrunk size.

Run: ``python benchmarks/properties.py`` (``--examples N`` for the throughput part,
``--only throughput|subprocess|zoo``).

1. Throughput: one Hypothesis property over a 10-step workflow with up to 3 faults drawn by
   ``fault_schedules``; prints examples per second on one core (target: >= 100). The same
   property in subprocess mode (a process per emulated sandbox, forked from a zygote: warm
   invocations, and the next execution, reuse it; a crash, a timeout or a cold start forks a new one;
   ``N / 3`` examples) is measured pinned to one core and on all cores (target: >= 10 per core).
2. Power: for every buggy handler in ``tests/zoo``, a property with only the generic
   strategies (no hand-written schedule), from an empty example database, under the ``ci``
   profile (100 examples); prints the time until the first failing example, whether the
   expected checker caught it, and the size of the shrunk schedule (target: median <= 1 s,
   max <= 10 s, all found, shrunk to 1-2 faults).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ten_steps import ten_steps  # noqa: E402
from chaosdurable import check  # noqa: E402
from chaosdurable.backends import Subprocess  # noqa: E402
from chaosdurable.history.world import World  # noqa: E402
from chaosdurable.strategies.schedules import OperationSpace, fault_schedules  # noqa: E402

# As the plugin's profiles: stop at the first bug, and skip the explain phase (it reruns the failing
# example with many variations to annotate the report, which costs seconds and adds nothing here).
SETTINGS = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck),
            "report_multiple_bugs": False, "phases": [p for p in Phase if p is not Phase.explain]}


def throughput(examples: int) -> None:
    """Examples per second of a property over ten_steps with up to 3 faults."""
    from chaosdurable.engine.client import EngineServiceClient
    from chaosdurable.engine.invoker import InProcessInvoker
    from chaosdurable.history.ledger import Recorder

    space = OperationSpace.probe(ten_steps, {"id": "x"})
    reference: dict[str, Any] = {}
    count = [0]
    invocations: list[int] = []
    spent = {"invocations": 0.0, "ours": 0.0}
    originals = [(InProcessInvoker, "invoke", "invocations"), (EngineServiceClient, "checkpoint", "ours"),
                 (EngineServiceClient, "get_execution_state", "ours"), (Recorder, "effect", "ours"),
                 (Recorder, "body", "ours")]
    saved = [(cls, name, getattr(cls, name)) for cls, name, _ in originals]

    def timed(original: Any, bucket: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent[bucket] += time.perf_counter() - started

        return call

    @settings(max_examples=examples, **SETTINGS)  # type: ignore[arg-type]
    @given(schedule=fault_schedules(space=space, max_faults=3))
    def prop(schedule: Any) -> None:
        verdict = check(ten_steps, {"id": "x"}, schedule, reference=reference.get("r"))
        reference["r"] = verdict.reference
        invocations.append(len(verdict.chaotic.invocations))
        count[0] += 1

    for (cls, name, bucket), (_, _, original) in zip(originals, saved, strict=True):
        setattr(cls, name, timed(original, bucket))
    try:
        start = time.perf_counter()
        prop()
        elapsed = time.perf_counter() - start
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)
    n = count[0]
    sdk = spent["invocations"] - spent["ours"]
    print(f"throughput: {n} examples in {elapsed:.2f} s = {n / elapsed:.0f} examples/s "
          f"(10-step workflow, up to 3 faults, one core)")
    print(f"  per example: {statistics.mean(invocations):.2f} handler invocations on average; "
          f"{100 * spent['invocations'] / elapsed:.0f}% of the wall time is spent inside them")
    print(f"  inside them, outside chaosdurable's service and recorder (the SDK, the handler, thread hand-offs): "
          f"{1000 * sdk / n:.1f} ms per example, so even with everything else free: <= {n / sdk:.0f} examples/s")


def _copy(function: Any) -> Any:
    """A new function object with the same code (Hypothesis settings attach to the function)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call


def _subprocess_rate(examples: int, space: Any, cores: set[int] | None) -> tuple[int, float, float, float]:
    """(examples, wall seconds, our CPU seconds, zygotes' and children's CPU seconds) of the
    subprocess-mode property, on ``cores`` if given.

    The affinity is set before any zygote starts (``forkserver.stop_all``), so the zygotes and every
    forked child inherit it: with one core, the wall time is the whole cost on one core.
    """
    import os

    from chaosdurable.engine import forkserver

    forkserver.stop_all()
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if cores is not None and before is not None:
        os.sched_setaffinity(0, cores)
    reference: dict[str, Any] = {}
    count = [0]
    path = "benchmarks.ten_steps:ten_steps"

    def prop(schedule: Any) -> None:
        verdict = check(ten_steps, {"id": "x"}, schedule, reference=reference.get("r"), backend=Subprocess(),
                        import_path=path)
        reference["r"] = verdict.reference
        count[0] += 1

    strategy = fault_schedules(space=space, max_faults=3)
    try:
        # warm-up, not timed: 10 examples start the zygotes a session needs (one interpreter per hash
        # seed: each sandbox an execution starts gets the next one) and teach them the handler's imports
        given(schedule=strategy)(settings(max_examples=10, **SETTINGS)(_copy(prop)))()  # type: ignore[arg-type]
        count[0] = 0
        zygotes = forkserver.started()
        cpu, start, children = time.process_time(), time.perf_counter(), forkserver.cpu_seconds()
        given(schedule=strategy)(settings(max_examples=examples, **SETTINGS)(_copy(prop)))()  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        from chaosdurable.engine.subprocess_invoker import REAPER, WARM_POOL

        WARM_POOL.clear()  # the warm sandboxes end too, so their time is counted in their zygote's
        REAPER.reap(block=True)  # the last children's exit is counted in their zygote's time
        if forkserver.started() > zygotes:
            print(f"  ({forkserver.started() - zygotes} zygote(s) started in the timed part, start-up counted)")
        return count[0], wall, cpu, forkserver.cpu_seconds() - children
    finally:
        forkserver.stop_all()
        if cores is not None and before is not None:
            os.sched_setaffinity(0, before)


def subprocess_throughput(examples: int) -> None:
    """Examples per second of the same property in subprocess mode (a process per emulated sandbox).

    Measured two ways: pinned to one core (everything, zygotes and children included, shares it),
    and on every core the machine has, divided by their number.
    """
    import os

    space = OperationSpace.probe(ten_steps, {"id": "x"})
    all_cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    one = {min(all_cores)} if all_cores else None
    n, wall, cpu, children = _subprocess_rate(examples, space, one)
    print(f"subprocess throughput, pinned to one core: {n} examples in {wall:.2f} s = {n / wall:.1f} examples/s "
          f"per core (10-step workflow, up to 3 faults)")
    print(f"  CPU per example: {1000 * (cpu + children) / n:.1f} ms = {1000 * cpu / n:.1f} ms in this process + "
          f"{1000 * children / n:.1f} ms in zygotes and invocation processes, so "
          f"{n / (cpu + children):.1f} examples/s per core of CPU (the same rate, measured by CPU time: "
          "unlike the wall clock, not slowed by other load on the machine)")
    cores = len(all_cores) if all_cores else 1
    n, wall, cpu, children = _subprocess_rate(examples, space, None)
    print(f"subprocess throughput, on {cores} cores: {n} examples in {wall:.2f} s = {n / wall:.1f} examples/s "
          f"= {n / wall / cores:.1f} per core; CPU per example {1000 * (cpu + children) / n:.1f} ms "
          f"({n / (cpu + children):.1f} examples/s per core of CPU)")


def _search(case: Any) -> dict[str, Any]:
    """Search one buggy handler with the generic strategies only; time the first failing example."""
    options: dict[str, Any] = dict(case.options)
    for key in ("setup", "callbacks"):
        if getattr(case, key, None) is not None:
            options[key] = getattr(case, key)
    space = OperationSpace.probe(case.handler, case.input, setup=case.setup,
                                 **({"callbacks": case.callbacks} if case.callbacks else {}))
    state: dict[str, Any] = {"reference": None, "first": None, "sizes": [], "caught": []}
    start = time.perf_counter()
    world = World(options.pop("setup")) if "setup" in options else None
    if world is not None:
        options["world"] = world.__enter__()

    @settings(max_examples=100, **SETTINGS)  # type: ignore[arg-type]
    @given(schedule=fault_schedules(space=space, min_faults=0, max_faults=3))
    def prop(schedule: Any) -> None:
        verdict = check(case.handler, case.input, schedule, reference=state["reference"], **options)
        state["reference"] = verdict.reference
        if not verdict.ok:
            if state["first"] is None:
                state["first"] = time.perf_counter() - start
            state["sizes"].append(len(schedule))
            state["caught"].append(bool(verdict.by_checker(case.catcher)))
            raise AssertionError(verdict.report())

    try:
        prop()
        found = False
    except AssertionError:
        found = True
    finally:
        if world is not None:
            world.__exit__(None, None, None)
    return {"id": case.id, "found": found, "first": state["first"], "total": time.perf_counter() - start,
            "shrunk": state["sizes"][-1] if state["sizes"] else None,
            "right": bool(state["caught"] and state["caught"][-1]), "expected": case.catcher}


def zoo() -> None:
    """Time to find each zoo bug with generic strategies only, from an empty example database."""
    from tests.zoo.test_zoo import BUGS

    rows = [_search(case) for case in BUGS]
    print(f"{'zoo bug':36} {'found':>5} {'first s':>8} {'total s':>8} {'shrunk':>6}  caught by")
    for row in rows:
        first = f"{row['first']:8.2f}" if row["first"] is not None else f"{'-':>8}"
        shrunk = row["shrunk"] if row["shrunk"] is not None else "-"
        who = row["expected"] if row["right"] else f"another checker (expected {row['expected']})"
        print(f"{row['id']:36} {row['found']!s:>5} {first} {row['total']:8.2f} {shrunk!s:>6}  {who}")
    times = [row["first"] for row in rows if row["first"] is not None]
    found = sum(row["found"] for row in rows)
    right = sum(row["right"] for row in rows)
    if times:
        print(f"found {found}/{len(rows)} ({right} by the expected checker); time to first failure: "
              f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
              f"shrunk sizes: {sorted(r['shrunk'] for r in rows if r['shrunk'] is not None)}")


def main() -> None:
    """Parse options and run the parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--only", choices=["throughput", "subprocess", "zoo"])
    args = parser.parse_args()
    if args.only in (None, "throughput"):
        throughput(args.examples)
    if args.only in (None, "subprocess"):
        subprocess_throughput(max(1, args.examples // 3))
    if args.only in (None, "zoo"):
        zoo()


if __name__ == "__main__":
    main()
