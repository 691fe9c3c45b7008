"""``--workers N``: N search processes over the targets, sharing Hypothesis' example database.

The work is cut into units: one per target when there are at least as many targets as workers,
otherwise each target is split into shards (distinct seeds, examples divided) so every worker has
work. Workers are forked from this process (the targets are already imported; nothing has run),
take units off a queue, and send progress and their finished ``TargetReport`` back. A shard that
catches its target raises a shared flag, and the other shards of that target stop at their next
chunk. Failing examples go to the shared example database, so the next run tries them first.

Contract: ``run_units(targets, plan, workers, display)`` returns one merged ``TargetReport`` per
target, in order; ``display`` gets ``update(index, Stats)`` and ``finish(index, TargetReport)``.
``workers == 1`` searches in this process, with no fork. A worker that dies leaves its unit with
``error`` set rather than hanging the run.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import pickle
import queue
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chaosdurable.report.model import TargetReport
from chaosdurable.search.explore import SearchPlan, Stats, search_target
from chaosdurable.search.targets import Target


class Display(Protocol):
    """What the pool tells the progress display."""

    def update(self, index: int, stats: Stats) -> None:
        """Live counters of target ``index`` (summed over its shards)."""

    def finish(self, index: int, report: TargetReport) -> None:
        """Target ``index`` is done."""


@dataclass(frozen=True)
class Unit:
    """One search: target ``target``, shard ``shard`` of ``shards``."""

    target: int
    shard: int = 0
    shards: int = 1


def plan_units(targets: int, workers: int) -> list[Unit]:
    """Units for ``targets`` targets on ``workers`` workers (shards only when targets < workers)."""
    shards = max(1, workers // targets) if targets else 1
    return [Unit(t, s, shards) for t in range(targets) for s in range(shards)]


def unit_plan(plan: SearchPlan, unit: Unit) -> SearchPlan:
    """The plan of one shard: its share of the examples, its own seed offset."""
    return dataclasses.replace(plan, examples=max(1, math.ceil(plan.examples / unit.shards)), shard=unit.shard,
                               shards=unit.shards)


def merge(reports: Sequence[TargetReport]) -> TargetReport:
    """The shards of one target as one report: counts summed, the smallest shrunk failure kept."""
    first = reports[0]
    if len(reports) == 1:
        return first
    merged = dataclasses.replace(first, examples=sum(r.examples for r in reports),
                                 invocations=sum(r.invocations for r in reports),
                                 faults_injected=sum(r.faults_injected for r in reports),
                                 elapsed_s=max(r.elapsed_s for r in reports), coverage={}, failures=[])
    for r in reports:
        for pair, count in r.coverage.items():
            merged.coverage[pair] = merged.coverage.get(pair, 0) + count
    failures = [f for r in reports for f in r.failures]
    if failures:
        merged.failures = [min(failures, key=lambda v: (len(v.schedule), len(v.schedule.to_json())))]
    errors = [r.error for r in reports if r.error]
    merged.error = errors[0] if errors and not failures and merged.examples == 0 else None
    return merged


def _merged_stats(parts: dict[int, Stats]) -> Stats:
    out = Stats()
    for s in parts.values():
        out.examples += s.examples
        out.invocations += s.invocations
        out.faults += s.faults
        out.operations = max(out.operations, s.operations)
        out.covered |= s.covered
        out.violations |= s.violations
    out.done = all(s.done for s in parts.values())
    return out


def run_units(targets: Sequence[Target], plan: SearchPlan, workers: int, display: Display) -> list[TargetReport]:
    """Search every target on ``workers`` processes; see the module docstring."""
    units = plan_units(len(targets), workers)
    if workers <= 1 or len(units) <= 1:
        reports = []
        for index, target in enumerate(targets):
            def progress(stats: Stats, i: int = index) -> None:
                display.update(i, stats)

            report = search_target(target, plan, on_progress=progress)
            display.finish(index, report)
            reports.append(report)
        return reports
    return _run_forked(targets, plan, min(workers, len(units)), units, display)


def _worker(targets: Sequence[Target], plan: SearchPlan, units: list[Unit], tasks: Any, results: Any,
            caught: Any) -> None:
    """A worker process: search units off ``tasks`` until the sentinel, reporting on ``results``."""
    # the engine forgets the parent's idle threads and zygotes at fork (engine.threads, engine.forkserver)
    try:
        _work(targets, plan, units, tasks, results, caught)
    finally:
        from chaosdurable.engine import forkserver

        forkserver.stop_all()  # this worker's own zygotes (subprocess backend); os._exit skips atexit


def _work(targets: Sequence[Target], plan: SearchPlan, units: list[Unit], tasks: Any, results: Any,
          caught: Any) -> None:
    while True:
        index = tasks.get()
        if index is None:
            return
        unit = units[index]

        def progress(stats: Stats, i: int = index) -> None:
            results.put(("progress", i, pickle.dumps(stats)))

        def stop(u: Unit = unit) -> bool:
            return bool(caught[u.target])

        report = search_target(targets[unit.target], unit_plan(plan, unit), on_progress=progress, should_stop=stop)
        if report.failures:
            caught[unit.target] = 1
        try:
            body = pickle.dumps(report)
        except Exception as exc:  # a verdict holding something unpicklable: keep the counts, say why
            body = pickle.dumps(dataclasses.replace(
                report, failures=[], error=f"the failure found could not be sent back from its worker ({exc!r}); "
                                           "rerun with --workers 1"))
        results.put(("done", index, body))


def _run_forked(targets: Sequence[Target], plan: SearchPlan, workers: int, units: list[Unit],
                display: Display) -> list[TargetReport]:
    """``run_units`` over forked worker processes."""
    context = multiprocessing.get_context("fork")
    tasks: Any = context.Queue()
    results: Any = context.Queue()
    caught: Any = context.Array("b", len(targets), lock=False)
    for index in range(len(units)):
        tasks.put(index)
    for _ in range(workers):
        tasks.put(None)
    processes = [context.Process(target=_worker, args=(targets, plan, units, tasks, results, caught), daemon=True)
                 for _ in range(workers)]
    for process in processes:
        process.start()
    done: dict[int, TargetReport] = {}
    live: dict[int, dict[int, Stats]] = {t: {} for t in range(len(targets))}
    finished_targets: set[int] = set()
    try:
        while len(done) < len(units):
            try:
                kind, index, body = results.get(timeout=0.2)
            except queue.Empty:
                if not any(p.is_alive() for p in processes):
                    _mark_lost(targets, units, done)
                continue
            unit = units[index]
            if kind == "progress":
                live[unit.target][unit.shard] = pickle.loads(body)
                display.update(unit.target, _merged_stats(live[unit.target]))
                continue
            done[index] = pickle.loads(body)
            shards = [i for i, u in enumerate(units) if u.target == unit.target]
            if all(i in done for i in shards) and unit.target not in finished_targets:
                finished_targets.add(unit.target)
                display.finish(unit.target, merge([done[i] for i in shards]))
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    return [merge([done[i] for i, u in enumerate(units) if u.target == t]) for t in range(len(targets))]


def _mark_lost(targets: Sequence[Target], units: list[Unit], done: dict[int, TargetReport]) -> None:
    """Every worker is gone: the units never reported end with an error instead of waiting forever."""
    for index, unit in enumerate(units):
        if index not in done:
            target = targets[unit.target]
            done[index] = TargetReport(name=target.name, handler=target.import_path,
                                       expected=target.expected,  # type: ignore[arg-type]
                                       error="its worker process died before reporting (crashed or killed)")
