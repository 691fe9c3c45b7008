"""Speed and power of chaos properties: examples per second, time to find each zoo bug, shrunk size.

Run: ``python benchmarks/properties.py`` (``--examples N`` for the throughput part,
``--only throughput|subprocess|zoo``).

1. Throughput: one Hypothesis property over a 10-step workflow with up to 3 faults drawn by
   ``fault_schedules``, in-process, under the ``ci`` profile's settings; prints examples per second
   per core of CPU (target: >= 150, issue 13) and where each example's CPU time goes (Hypothesis,
   chaosdurable's engine, checkers, service and recording inside invocations, the SDK). The same
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
import contextlib
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


class _Breakdown:
    """Where an in-process property's CPU time goes, measured by CPU clocks (not wall time).

    The whole run is ``time.process_time`` (every thread of this process). The test body (one
    ``check`` per example) is timed the same way around each call; everything else is Hypothesis
    (generating, recording and replaying choices, its engine's bookkeeping). Inside the body:

    - *invocations*: ``process_time`` across each ``InProcessInvoker.invoke`` (the SDK's wrapper, the
      handler and its worker and checkpoint threads); within them, timed on the calling thread
      (``thread_time``): chaosdurable's service (``EngineServiceClient`` calls) and recording (the body
      probe the SDK calls for every step body, ``Recorder.effect`` with its attribution); the rest is
      the SDK, the handler and thread hand-offs;
    - *checkers*: ``thread_time`` in each checker of ``ALL_CHECKERS``;
    - *engine, outside invocations*: the rest of the body (runner and service set-up, scheduling,
      timers, the run's records, the verdict).

    Garbage collection (``gc.callbacks``) is counted where it happens, and also shown on its own; so is
    the CPU of the engine's background threads (sandbox housekeeping, fresh threads started ahead), read
    from their thread CPU clocks.
    """

    BUCKETS = ("service", "recording", "checkers")

    def __init__(self) -> None:
        self.cpu: dict[str, float] = dict.fromkeys((*self.BUCKETS, "invocations", "body", "gc", "background"), 0.0)
        self._background_started: dict[int, float] = {}
        self._saved: list[tuple[Any, str, Any]] = []
        self._gc_started = 0.0

    def _wrap(self, owner: Any, name: str, bucket: str, clock: Any) -> None:
        original = owner[name] if isinstance(owner, dict) else getattr(owner, name)
        cpu = self.cpu

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                cpu[bucket] += clock() - started

        self._saved.append((owner, name, original))
        if isinstance(owner, dict):
            owner[name] = timed
        else:
            setattr(owner, name, timed)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.cpu["gc"] += time.thread_time() - self._gc_started

    def __enter__(self) -> _Breakdown:
        import gc

        from chaosdurable.checks import ALL_CHECKERS
        from chaosdurable.engine.client import EngineServiceClient
        from chaosdurable.engine.invoker import InProcessInvoker
        from chaosdurable.history import probes
        from chaosdurable.history.ledger import Recorder

        self._wrap(InProcessInvoker, "invoke", "invocations", time.process_time)
        for name in ("checkpoint", "get_execution_state"):
            self._wrap(EngineServiceClient, name, "service", time.thread_time)
        self._wrap(probes._BodyProbe, "on_user_function_start", "recording", time.thread_time)
        # the same probe called without the SDK's plugin machinery (``speedups_checkpoint``'s direct_body_probe)
        if hasattr(probes.BodyProbeFactory, "direct_start"):
            self._wrap(probes.BodyProbeFactory, "direct_start", "recording", time.thread_time)
        self._wrap(Recorder, "effect", "recording", time.thread_time)
        for name in list(ALL_CHECKERS):
            self._wrap(ALL_CHECKERS, name, "checkers", time.thread_time)
        gc.callbacks.append(self._gc)
        self._background_started = self._background_cpu()
        return self

    @staticmethod
    def _background_cpu() -> dict[int, float]:
        import threading

        found = {}
        for thread in threading.enumerate():
            if thread.name in ("chaosdurable-sandbox-housekeeper", "chaosdurable-spare-starter") and thread.ident:
                with contextlib.suppress(OSError, AttributeError):
                    found[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return found

    def __exit__(self, *exc: object) -> None:
        import gc

        for ident, cpu in self._background_cpu().items():
            self.cpu["background"] += cpu - self._background_started.get(ident, 0.0)
        gc.callbacks.remove(self._gc)
        for owner, name, original in reversed(self._saved):
            if isinstance(owner, dict):
                owner[name] = original
            else:
                setattr(owner, name, original)

    def body(self) -> Any:
        """A context manager around one example's body."""
        cpu = self.cpu

        class _Body:
            def __enter__(self) -> None:
                self.started = time.process_time()

            def __exit__(self, *exc: object) -> None:
                cpu["body"] += time.process_time() - self.started

        return _Body()

    def report(self, n: int, total: float, invocations: float) -> list[str]:
        """The breakdown per example, in words."""
        c = self.cpu
        inside = c["invocations"]
        sdk = inside - c["service"] - c["recording"]
        rows = [
            ("Hypothesis (drawing, its engine; outside the test body)", total - c["body"]),
            ("chaosdurable engine outside invocations (driver, records, verdict)",
             c["body"] - inside - c["checkers"]),
            ("checkers", c["checkers"]),
            ("invocations: chaosdurable service (checkpoint calls)", c["service"]),
            ("invocations: recording (body probe, effects, attribution)", c["recording"]),
            ("invocations: the SDK (with its plugin machinery), the handler, threads", sdk),
        ]
        lines = [f"  per example: {1000 * total / n:.2f} ms CPU, {invocations:.2f} handler invocations on average"]
        lines += [f"    {label:<72} {1000 * value / n:6.2f} ms  {100 * value / total:4.0f}%" for label, value in rows]
        gc_ms, background_ms = 1000 * c["gc"] / n, 1000 * c["background"] / n
        lines.append(f"    (counted in the rows above where they ran: garbage collection {gc_ms:.2f} ms, "
                     f"{100 * c['gc'] / total:.0f}%; the engine's background threads {background_ms:.2f} ms, "
                     f"{100 * c['background'] / total:.0f}%)")
        return lines


def throughput(examples: int, seed: int | None = None) -> None:
    """Examples per second of a property over ten_steps with up to 3 faults, in-process, under the ``ci``
    profile's settings (``--examples`` of them, no example database), with where the time goes."""
    from hypothesis import settings as hypothesis_settings

    import chaosdurable.pytest_plugin  # noqa: F401 - registers the chaosdurable-* Hypothesis profiles

    space = OperationSpace.probe(ten_steps, {"id": "x"})
    check(ten_steps, {"id": "x"})  # warm-up, not timed: imports, the SDK patches, the handler's first run
    reference: dict[str, Any] = {}
    count = [0]
    invocations: list[int] = []
    chosen = hypothesis_settings(hypothesis_settings.get_profile("chaosdurable-ci"), max_examples=examples,
                                 database=None)
    breakdown = _Breakdown()

    @chosen
    @given(schedule=fault_schedules(space=space, max_faults=3))
    def prop(schedule: Any) -> None:
        with breakdown.body():
            verdict = check(ten_steps, {"id": "x"}, schedule, reference=reference.get("r"))
        reference["r"] = verdict.reference
        invocations.append(len(verdict.chaotic.invocations))
        count[0] += 1

    if seed is not None:  # the same examples in every run: compare two versions of the code on equal work
        from hypothesis import seed as hypothesis_seed

        prop = hypothesis_seed(seed)(prop)
    with breakdown:
        cpu, start = time.process_time(), time.perf_counter()
        prop()
        cpu, elapsed = time.process_time() - cpu, time.perf_counter() - start
    n = count[0]
    print(f"throughput: {n} examples, {n / cpu:.0f} examples/s per core of CPU ({cpu:.2f} s CPU; wall {elapsed:.2f} s "
          f"= {n / elapsed:.0f}/s, slowed by other load) (10-step workflow, idempotent effects, up to 3 faults, "
          f"in-process, 'ci' profile settings)")
    print("\n".join(breakdown.report(n, cpu, statistics.mean(invocations))))


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
    parser.add_argument("--seed", type=int, default=None,
                        help="Hypothesis seed of the throughput property (default: random, as a property runs)")
    args = parser.parse_args()
    if args.only in (None, "throughput"):
        throughput(args.examples, args.seed)
    if args.only in (None, "subprocess"):
        subprocess_throughput(max(1, args.examples // 3))
    if args.only in (None, "zoo"):
        zoo()


if __name__ == "__main__":
    main()
