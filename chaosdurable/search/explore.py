"""The generic bug search for one target: ``search_target(target, plan) -> TargetReport``.

It is the search ``chaosdurable.given`` runs, outside pytest: Hypothesis draws an input (the
target's strategy, or its one input) and a fault schedule from ``fault_schedules`` over the
operation space a fault-free probe found (0..3 faults, the empty schedule first), ``check`` runs
the handler fault-free and under it with every built-in checker, and a scenario's invariants
(``catalog.invariant_checkers``) judge both runs. The first failure is shrunk by Hypothesis to the
smallest schedule that still fails; the report holds that shrunk ``Verdict``. Failing examples go to Hypothesis' example
database (``plan.database``), keyed by target, so the next run (or another worker) tries them first.

Contract: never raises for what the target does; a search that could not run (its fault-free run
failed on every input, the handler called real AWS...) comes back with ``report.error`` set and
``report.examples`` counting what did run. Progress goes to ``on_progress`` (a ``Stats`` value,
at most every ``PROGRESS_EVERY`` seconds and once at the end); ``should_stop()`` is asked between
chunks of examples (another worker already caught this target).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from chaosdurable.report.model import TargetReport
from chaosdurable.search.targets import Target

#: seconds between two progress callbacks
PROGRESS_EVERY = 0.25
#: examples per Hypothesis run when the search has a wall-clock budget (it stops between chunks)
BUDGET_CHUNK = 10


@dataclass(frozen=True)
class SearchPlan:
    """How hard to search one target.

    ``examples``: Hypothesis examples (``max_examples``); ``budget_s``: wall-clock seconds, checked
    between chunks of ``BUDGET_CHUNK`` examples (None: no limit); ``seed``: seeds Hypothesis and the
    engine (None: random); ``backend``: ``inprocess`` or ``subprocess``; ``database``: the example
    database directory (None: none), or ``redis://host:port/db`` for ``RedisExampleDatabase``;
    ``shrink_s``: wall-clock seconds shrinking may take after the first failure (then the smallest
    failure so far is kept); ``shard``/``shards``: this search is one of several over the same
    target (distinct seeds).
    """

    examples: int = 100
    budget_s: float | None = None
    seed: int | None = None
    backend: str = "inprocess"
    #: options of a non-engine backend (``Aws(**backend_options)``), plain values so the plan pickles
    backend_options: dict[str, Any] = field(default_factory=dict)
    database: str | None = ".chaosdurable/examples"
    max_faults: int = 3
    shrink_s: float = 10.0
    shard: int = 0
    shards: int = 1
    #: also draw faults whose provenance is ``assumed`` (not verified on AWS); ``--assumed-faults``
    assumed: bool = False


@dataclass
class Stats:
    """Live counters of one search, as the progress display shows them (plain values: picklable)."""

    examples: int = 0
    invocations: int = 0
    faults: int = 0
    #: distinct operations (by name, or id when unnamed) of the fault-free runs of every input drawn so far
    operations: int = 0
    seen: set[str] = field(default_factory=set)
    #: those of them a fired fault targeted (never more than ``operations``)
    covered: set[str] = field(default_factory=set)
    violations: set[str] = field(default_factory=set)
    done: bool = False


class _Violated(Exception):
    """Raised inside the property for a failing example (Hypothesis shrinks it)."""


def open_database(spec: str | None) -> Any:
    """The example database a plan names: a directory, ``redis://...`` (needs ``redis``), or None."""
    if spec is None:
        return None
    if spec.startswith("redis://"):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(redis.Redis.from_url(spec))
    from hypothesis.database import DirectoryBasedExampleDatabase

    return DirectoryBasedExampleDatabase(spec)


def _base_settings(database: Any) -> settings:
    """The pytest plugin's settings (no deadline, no explain phase, one bug), quiet, with ``database``."""
    return settings(deadline=None, print_blob=False, report_multiple_bugs=False, database=database,
                    phases=[phase for phase in Phase if phase is not Phase.explain],
                    suppress_health_check=list(HealthCheck), verbosity=hypothesis.Verbosity.quiet)


def coverage_keys(verdict: Any) -> list[tuple[str, str]]:
    """(operation in words, fault kind) of every fault that fired (unnamed operations described)."""
    from chaosdurable.faults.schedule import describe_operation

    out = []
    for firing in verdict.fired:
        fault = firing.fault
        op = getattr(fault, "op", None)
        unnamed = op is not None and any(o["Id"] == op and not o.get("Name") for o in verdict.reference.operations)
        target = (describe_operation(str(op), verdict.reference.operations) if unnamed else op
                  ) or getattr(fault, "effect", None) or f"invocation {getattr(fault, 'invocation', '?')}"
        out.append((str(target), fault.kind))
    return out


def search_target(target: Target, plan: SearchPlan, on_progress: Callable[[Stats], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> TargetReport:
    """Search ``target`` for failing schedules under ``plan``; see the module docstring."""
    started = time.monotonic()
    report = TargetReport(name=target.name, handler=target.import_path,
                          expected=target.expected,  # type: ignore[arg-type]
                          description=target.description)
    stats = Stats()
    coverage: Counter[tuple[str, str]] = Counter()
    state = _SearchState(target, plan, stats, coverage, on_progress)
    try:
        with state.world():
            _run_chunks(state, plan, started, should_stop)
    except _Violated:
        pass
    except hypothesis.errors.Unsatisfiable:
        report.error = state.why_untested()
    except Exception as exc:  # the search itself failed: the handler called real AWS, an engine error...
        if not state.failures:
            report.error = f"{type(exc).__name__}: {exc}"
    if state.failures:
        report.failures = [state.failures[-1]]  # Hypothesis runs the shrunk example last
    elif report.error is None and stats.examples == 0:
        report.error = state.why_untested()
    report.examples = stats.examples
    report.invocations = stats.invocations
    report.faults_injected = stats.faults
    report.coverage = dict(coverage)
    report.elapsed_s = time.monotonic() - started
    stats.done = True
    if on_progress is not None:
        on_progress(stats)
    return report


def _run_chunks(state: _SearchState, plan: SearchPlan, started: float,
                should_stop: Callable[[], bool] | None) -> None:
    """Run the Hypothesis search in chunks until ``plan.examples`` ran, the budget is spent or a failure."""
    database = open_database(plan.database)
    key = hashlib.sha256(f"chaosdurable-run\0{state.target.name}\0{state.target.import_path}".encode()).digest()
    chunk_size = BUDGET_CHUNK if plan.budget_s is not None else plan.examples
    planned = chunk = 0
    while planned < plan.examples:
        if plan.budget_s is not None and time.monotonic() - started >= plan.budget_s:
            break
        if should_stop is not None and should_stop():
            break
        size = min(chunk_size, plan.examples - planned)
        test = settings(_base_settings(database), max_examples=size)(
            hypothesis.given(data=st.data())(state.property))
        test._hypothesis_internal_database_key = key  # type: ignore[attr-defined]
        if plan.seed is not None:
            test = hypothesis.seed(plan.seed + 10_007 * plan.shard + chunk)(test)
        test()
        planned += size
        chunk += 1


#: distinct inputs a search draws its examples from (see ``_input_strategy``)
INPUT_POOL = 4


def _input_strategy(target: Target, plan: SearchPlan) -> Any:
    """The inputs one search draws from: a pool of ``INPUT_POOL`` distinct inputs of the target's strategy
    (the sample first), drawn once with the plan's seed. Hypothesis draws simple inputs first, so the
    pool takes inputs spread over its first draws rather than the first ones (a saga's fraud path needs
    a larger order than the simplest ones).

    Every new input costs a probe and two fault-free runs (one under the tripwire), about 0.5-1 s for
    a scenario, against about 0.1 s for an example on a known input; a fresh input per example spent
    the budget on fault-free runs. A small pool keeps the faults varied and the inputs realistic.
    """
    if target.inputs is None:
        return None
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    from hypothesis import strategies as st

    drawn: dict[str, Any] = {}

    @settings(max_examples=8 * INPUT_POOL, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @seeded((plan.seed or 0) + plan.shard)
    @given(st.data())
    def collect(data: Any) -> None:
        value = data.draw(target.inputs)
        drawn.setdefault(json.dumps(value, sort_keys=True, default=str), value)

    collect()
    values = list(drawn.values())
    pool = [target.input] if target.input is not None else []
    wanted = INPUT_POOL - len(pool)
    if values and wanted > 0:
        step = max(1, len(values) // wanted)
        pool += [values[min(len(values) - 1, step * i + step - 1)] for i in range(wanted)]
    unique = {json.dumps(v, sort_keys=True, default=str): v for v in pool}
    return st.sampled_from(list(unique.values()))


class _SearchState:
    """The probe cache, the reference runs, the moto world and the counters of one search."""

    def __init__(self, target: Target, plan: SearchPlan, stats: Stats, coverage: Counter[tuple[str, str]],
                 on_progress: Callable[[Stats], None] | None) -> None:
        self.target, self.plan, self.stats, self.coverage = target, plan, stats, coverage
        self.on_progress = on_progress
        self.spaces: dict[str, Any] = {}
        self.schedules: dict[str, Any] = {}  # the fault-schedule strategy of each input, built once
        self.references: dict[str, Any] = {}
        self.inputs = _input_strategy(target, plan)
        self._backend: Any = None
        self.failures: list[Any] = []
        self.untested: list[str] = []
        self.active_world: Any = None
        scenario = target.scenario
        self.http = scenario.http() if scenario is not None and getattr(scenario, "http", None) else None
        self.last_progress = 0.0
        self.first_failure_at: float | None = None
        self.smallest: tuple[str, str] | None = None  # (input, schedule) of the smallest failure so far
        self.current: tuple[str, str] = ("", "")  # (input, schedule) of the example being judged

    def world(self) -> Any:
        """One moto world for the whole search (reset before each run), when the target has a setup."""
        import contextlib

        if self.target.setup is None:
            return contextlib.nullcontext()
        from chaosdurable.history.world import World

        world = World(self.target.setup)

        @contextlib.contextmanager
        def entered() -> Any:
            with world as active:
                self.active_world = active
                try:
                    yield
                finally:
                    self.active_world = None

        return entered()

    def why_untested(self) -> str:
        """Why no example was judged, in words."""
        if self.untested:
            return (f"nothing was tested: {self.untested[-1]}. Chaos is judged against the fault-free run; fix the "
                    "input (--input) or the handler")
        return "nothing was tested: the budget ended before the first example"

    def backend(self) -> Any:
        """The backend value this search runs on (built once: an ``Aws`` backend holds its clients)."""
        if self._backend is None:
            from chaosdurable.backends import from_name

            self._backend = from_name(self.plan.backend, **self.plan.backend_options)
        return self._backend

    def options(self) -> dict[str, Any]:
        """Keyword arguments of ``check`` for this target."""
        options: dict[str, Any] = {"backend": self.backend(), "seed": self.plan.seed or 0,
                                   "import_path": self.target.import_path}
        for name in ("setup", "callbacks", "targets"):
            if getattr(self.target, name) is not None:
                options[name] = getattr(self.target, name)
        if self.active_world is not None:
            options["world"] = self.active_world
        if self.http is not None:
            options["http"] = self.http
        return options

    def space(self, value: Any, key: str) -> Any:
        """The operation space of one input (probed once)."""
        from chaosdurable.strategies.schedules import OperationSpace

        if key not in self.spaces:
            probe = {k: getattr(self.target, k) for k in ("setup", "callbacks", "targets")
                     if getattr(self.target, k) is not None}
            if self.http is not None:
                from chaosdurable.history.http import check_mock

                probe["http"] = check_mock(self.http)
            self.spaces[key] = OperationSpace.probe(self.target.handler, value, backend=self.backend(), **probe)
        return self.spaces[key]

    def property(self, data: Any) -> None:
        """One example: draw an input and a schedule, check, judge the invariants."""
        from chaosdurable.faults.schedule import FaultSchedule
        from chaosdurable.strategies.schedules import DEFAULT_KINDS, fault_schedules
        from chaosdurable.verdict import check

        target = self.target
        value = data.draw(self.inputs, label="input") if self.inputs is not None else target.input
        key = json.dumps(value, sort_keys=True, default=str)
        if self._shrink_time_is_up() and (self.smallest is None or key != self.smallest[0]):
            hypothesis.reject()  # shrinking is over: not even probed
        space = self.space(value, key)
        options = self.options()
        if space.outcome != "SUCCEEDED":
            self._replay_smallest_or_skip(key, "")
            # the fault-free run fails: a violation when a checker says why (the SDK's nondeterminism
            # check), else this input tests nothing
            verdict = check(target.handler, value, FaultSchedule(), checkers=self.checkers(value), **options)
            if not verdict.violations:
                self.untested.append(f"the fault-free run of {target.import_path} on input {shorten(key)} ended "
                                     f"{space.outcome} ({space.problem})")
                hypothesis.reject()
            self._judged(verdict)
            return
        if key not in self.schedules:
            can = self.backend().fault_kinds  # the default weights, less what the backend cannot inject
            kinds = None if set(DEFAULT_KINDS) <= can else [k for k in DEFAULT_KINDS if k in can]
            self.schedules[key] = fault_schedules(space=space, max_faults=self.plan.max_faults, min_faults=0,
                                                  kinds=kinds, assumed=self.plan.assumed)
        schedule = data.draw(self.schedules[key], label="schedule")
        self._replay_smallest_or_skip(key, schedule.to_json())
        verdict = check(target.handler, value, schedule, reference=self.references.get(key),
                        checkers=self.checkers(value), **options)
        self.references[key] = verdict.reference
        self._judged(verdict)

    def checkers(self, value: Any) -> Any:
        """Every built-in checker, plus a scenario's invariants on ``value`` (on both runs)."""
        from chaosdurable.checks import ALL_CHECKERS

        if self.target.scenario is None or not self.target.scenario.invariants:
            return None
        from chaosdurable.scenarios.catalog import invariant_checkers

        return {**ALL_CHECKERS, **invariant_checkers(self.target.scenario, value)}

    def _shrink_time_is_up(self) -> bool:
        """True once shrinking has had its ``plan.shrink_s`` seconds."""
        return self.first_failure_at is not None and time.monotonic() - self.first_failure_at >= self.plan.shrink_s

    def _replay_smallest_or_skip(self, key: str, schedule: str) -> None:
        """Once shrinking is over, answer without running: the smallest failure so far fails again (so
        Hypothesis ends on it), any other candidate is rejected (so it stops trying). Else note the example."""
        self.current = (key, schedule)
        if not self._shrink_time_is_up():
            return
        if self.current == self.smallest:
            raise _Violated("the smallest failure found, again")
        hypothesis.reject()

    def _judged(self, verdict: Any) -> None:
        """Count one judged example; raise ``_Violated`` when it failed."""
        stats = self.stats
        stats.examples += 1
        stats.invocations += len(verdict.chaotic.invocations)
        stats.faults += len(verdict.fired)
        operations = {o.get("Name") or o["Id"] for o in verdict.reference.operations if o["Type"] != "EXECUTION"}
        stats.seen.update(str(op) for op in operations)
        stats.operations = len(stats.seen)
        for pair in coverage_keys(verdict):
            self.coverage[pair] += 1
        stats.covered.update(str(op) for op in (getattr(f.fault, "op", None) for f in verdict.fired)
                             if op in operations)
        if verdict.violations:
            stats.violations.update(f"{v.checker}:{v.op or ''}" for v in verdict.violations)
        now = time.monotonic()
        if self.on_progress is not None and now - self.last_progress >= PROGRESS_EVERY:
            self.last_progress = now
            self.on_progress(stats)
        if verdict.violations:
            self.failures[:] = [verdict]  # the last failing example is the smallest so far
            if self.first_failure_at is None:
                self.first_failure_at = time.monotonic()
            self.smallest = self.current
            raise _Violated(verdict.report())


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
