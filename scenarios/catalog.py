"""The catalogue of bundled scenarios: realistic durable workflows with their invariants.

Each scenario module (``scenarios/<name>.py``) builds one ``Scenario`` value and the catalogue
lists them. A scenario has a correct variant and buggy variants, each buggy one described in one
sentence; ``chaosdurable run`` with no argument searches every variant and expects every buggy
one to be caught and every correct one to pass.

Contract:
- ``Variant.handler`` is an unmodified ``@durable_execution`` handler, importable as
  ``Variant.import_path`` (``module:attribute``), so the subprocess backend can load it too.
- ``Scenario.inputs()`` returns a Hypothesis strategy of JSON inputs (faker-based);
  ``Scenario.sample`` is one fixed input of it, for examples and quick runs.
- ``Scenario.setup`` provisions the moto world (tables, queues, buckets) before each run, or None.
- ``Scenario.callbacks`` answers callbacks by name (``chaosdurable.run.Answer`` or a JSON value).
- Each invariant is ``invariant(event, run) -> None``: it reads the input and one finished
  ``RunRecord`` (``run.world`` is the moto snapshot, ``run.result`` the result, ``run.effects``
  the recorded effects) and raises ``AssertionError`` with a business-level message when the
  invariant is broken ("order ord-1 was charged 2 times"). An invariant never drives anything.
- ``Scenario.http`` builds a fresh ``responses.RequestsMock`` answering the scenario's HTTP
  dependencies (payment gateway, ML service...), or is None when it makes no HTTP request.

Two helpers run a scenario:
- ``invariant_checkers(scenario, event)`` wraps its invariants as checkers for
  ``check(..., checkers={**ALL_CHECKERS, **invariant_checkers(...)})``.
- ``search(scenario, variant, examples=..., seed=...)`` runs a seeded Hypothesis search (scenario
  inputs x the generic ``fault_schedules`` over the handler's probed operation space, drawn as
  ``chaosdurable.given`` draws them) and returns a ``SearchResult``: the shrunk failing verdict or
  None, and how many examples ran and faults fired.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.checks import ALL_CHECKERS, Checker, Ledger, Violation
from chaosdurable.engine.runner import Mode
from chaosdurable.history.record import RunRecord

#: ``invariant(event, run)`` raises AssertionError when a business rule is broken
Invariant = Callable[[Any, Any], None]

#: scenario modules, in the order ``chaosdurable run`` shows them
SCENARIO_MODULES: tuple[str, ...] = (
    "chaosdurable.scenarios.saga",
    "chaosdurable.scenarios.onboarding",
    "chaosdurable.scenarios.ai_pipeline",
    "chaosdurable.scenarios.fanout",
)


@dataclass(frozen=True)
class Variant:
    """One version of a scenario's handler: the correct one, or a buggy one and its bug in a sentence."""

    name: str
    handler: Callable[..., Any]
    import_path: str
    bug: str | None = None

    @property
    def buggy(self) -> bool:
        """True for a planted bug that a run must catch."""
        return self.bug is not None


@dataclass(frozen=True)
class Scenario:
    """A realistic workflow, how to feed it, what must always hold, and its variants."""

    name: str
    description: str
    inputs: Callable[[], Any]
    sample: Any
    variants: tuple[Variant, ...]
    invariants: tuple[Invariant, ...] = ()
    setup: Callable[[], None] | None = None
    callbacks: Mapping[str, Any] | None = None
    targets: Mapping[str, Callable[..., Any]] | None = None
    tags: tuple[str, ...] = field(default=())
    #: builds a fresh ``responses.RequestsMock`` for the scenario's HTTP dependencies (None: no HTTP)
    http: Callable[[], Any] | None = None

    def variant(self, name: str) -> Variant:
        """The variant called ``name``; a KeyError names the ones there are."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"scenario {self.name!r} has no variant {name!r}; it has "
                       + ", ".join(repr(v.name) for v in self.variants))


def all_scenarios() -> list[Scenario]:
    """Every bundled scenario, imported on demand (each module exposes ``SCENARIO``)."""
    return [importlib.import_module(module).SCENARIO for module in SCENARIO_MODULES]


def find(name: str) -> Scenario:
    """The bundled scenario called ``name``; a KeyError names the ones there are."""
    scenarios = all_scenarios()
    for scenario in scenarios:
        if scenario.name == name:
            return scenario
    raise KeyError(f"no bundled scenario {name!r}; there are " + ", ".join(repr(s.name) for s in scenarios))


# ----------------------------------------------------------------------------- invariants as checkers
def _invariant_name(invariant: Invariant) -> str:
    return "invariant:" + getattr(invariant, "__name__", repr(invariant))


def invariant_checkers(scenario: Scenario, event: Any) -> dict[str, Checker]:
    """The scenario's invariants on ``event`` as checkers, named ``invariant:<function name>``.

    Each checker runs the invariant on the fault-free run and on the chaotic run (a bug that shows
    without faults is caught too) and turns an ``AssertionError`` into a ``Violation`` whose message
    is the invariant's own, prefixed by the run it broke in. Any other exception the invariant raises
    is a bug in the invariant and propagates. Combine with the built-in checkers::

        check(handler, event, schedule, checkers={**ALL_CHECKERS, **invariant_checkers(scenario, event)})
    """
    def make(invariant: Invariant) -> Checker:
        name = _invariant_name(invariant)

        def checker(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
            found = []
            for label, run in (("without faults", reference), ("under faults", chaotic)):
                try:
                    invariant(event, run)
                except AssertionError as exc:
                    # pytest rewrites asserts in plugin packages (this one): keep the message, drop its explanation
                    message = str(exc).split("\nassert ", 1)[0].strip() or f"{name} does not hold"
                    found.append(Violation(name, f"{message} ({label})"))
                    break  # broken without faults: the chaotic run says nothing more
            return found

        checker.__name__ = name
        return checker

    return {_invariant_name(inv): make(inv) for inv in scenario.invariants}


# ----------------------------------------------------------------------------- the search
@dataclass
class SearchResult:
    """What ``search`` found.

    ``verdict``: the shrunk failing ``Verdict`` (its ``spec``/``report()`` reproduce it), or None when
    every example passed. ``input``: the input of that verdict. ``examples``: examples run, shrinking
    included; ``faults``: faults that fired over all of them; ``first_failure``: the example number
    (1-based) at which the first violation showed, or None; ``seconds``: wall-clock time.
    """

    scenario: str
    variant: str
    verdict: Any | None
    input: Any
    examples: int
    faults: int
    first_failure: int | None
    seconds: float

    @property
    def caught(self) -> bool:
        """True when a violation was found."""
        return self.verdict is not None

    @property
    def checkers(self) -> list[str]:
        """Names of the checkers (``invariant:<name>`` included) that reported the shrunk failure."""
        if self.verdict is None:
            return []
        return sorted({v.checker for v in self.verdict.violations})


def _input_pool(scenario: Scenario, size: int, seed: int) -> list[Any]:
    """``size`` distinct inputs drawn from ``scenario.inputs()`` by a seeded Hypothesis run (the simplest first)."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st

    pool: dict[str, Any] = {}

    @settings(max_examples=max(4 * size, 20), database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @hypothesis.seed(seed)
    @hypothesis.given(st.data())
    def collect(data: Any) -> None:
        value = data.draw(scenario.inputs())  # always drawn: Hypothesis wants the same draws every time
        if len(pool) < size:
            pool.setdefault(json.dumps(value, sort_keys=True), value)

    collect()
    return list(pool.values()) or [scenario.sample]


def search(
    scenario: Scenario,
    variant: Variant | str,
    *,
    examples: int = 100,
    seed: int = 0,
    max_faults: int = 3,
    min_faults: int = 0,
    kinds: Iterable[str] | None = None,
    assumed: bool = False,
    mode: Mode = "inprocess",
    shrink: bool = True,
    inputs: int = 6,
) -> SearchResult:
    """Search one variant of a scenario for a violation; return the shrunk failure or None, with counts.

    The search first draws a pool of ``inputs`` distinct inputs from ``scenario.inputs()`` (seeded), so
    the fault-free runs, which are the costly part (the tripwire watches every call), are paid once per
    input; each example then picks one input of the pool (shrinking toward the simplest), probes the
    handler once per distinct input (``OperationSpace.probe``: a fault-free run with the scenario's
    setup, callbacks, targets and HTTP mock), draws a schedule of ``min_faults``..``max_faults`` faults from the generic
    ``fault_schedules`` over that space (``kinds``: fault kinds, default all; ``assumed``: also faults not
    verified on AWS), and runs ``check`` with
    the built-in checkers plus the scenario's invariants (``invariant_checkers``). The fault-free run
    is reused between examples of the same input; one moto world (reset per run) serves the search.
    The search is seeded (``seed``) and uses no example database, so the same arguments find the same
    failure. ``shrink=False`` stops at the first failure. ``mode``: ``"inprocess"`` or ``"subprocess"``.
    """
    import hypothesis
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st

    from chaosdurable.faults.schedule import FaultSchedule
    from chaosdurable.history.http import check_mock
    from chaosdurable.history.world import World
    from chaosdurable.strategies.schedules import OperationSpace, fault_schedules
    from chaosdurable.verdict import Verdict, check

    chosen = scenario.variant(variant) if isinstance(variant, str) else variant
    handler = chosen.handler
    pool = _input_pool(scenario, inputs, seed)
    kind_list = list(kinds) if kinds is not None else None
    mock = scenario.http() if scenario.http is not None else None
    spaces: dict[str, OperationSpace] = {}
    references: dict[str, RunRecord] = {}
    state: dict[str, Any] = {"examples": 0, "faults": 0, "first": None, "verdict": None, "input": None}
    started = time.monotonic()

    def run_example(data: Any, world: World) -> None:
        state["examples"] += 1
        value = data.draw(st.sampled_from(pool), label="input")
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in spaces:
            options: dict[str, Any] = {k: v for k, v in (("callbacks", scenario.callbacks),
                                                         ("targets", scenario.targets)) if v is not None}
            if mock is not None:
                options["http"] = check_mock(mock)
            spaces[key] = OperationSpace.probe(handler, value, setup=scenario.setup, mode=mode, **options)
        strategy = fault_schedules(space=spaces[key], kinds=kind_list, max_faults=max_faults, min_faults=min_faults,
                                   assumed=assumed)
        schedule: FaultSchedule = data.draw(strategy, label="schedule")
        checkers = {**ALL_CHECKERS, **invariant_checkers(scenario, value)}
        verdict: Verdict = check(handler, value, schedule, world=world, setup=scenario.setup,
                                 callbacks=scenario.callbacks, targets=scenario.targets, http=mock,
                                 checkers=checkers, mode=mode,
                                 reference=references.get(key), import_path=chosen.import_path)
        references[key] = verdict.reference
        state["faults"] += len(verdict.fired)
        if verdict.violations:  # a drawn fault not reached is no failure
            if state["first"] is None:
                state["first"] = state["examples"]
            state["verdict"], state["input"] = verdict, value
            raise AssertionError(verdict.report())

    phases = [Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if shrink else [])]
    chosen_settings = settings(max_examples=examples, deadline=None, database=None, phases=phases,
                               report_multiple_bugs=False, print_blob=False, derandomize=False,
                               suppress_health_check=list(HealthCheck))

    with World(scenario.setup) as world:
        @chosen_settings
        @hypothesis.seed(seed)
        @hypothesis.given(data=st.data())
        def property_test(data: Any) -> None:
            run_example(data, world)

        try:
            property_test()
        except AssertionError:
            if state["verdict"] is None:
                raise
    return SearchResult(scenario=scenario.name, variant=chosen.name, verdict=state["verdict"],
                        input=state["input"], examples=state["examples"], faults=state["faults"],
                        first_failure=state["first"], seconds=time.monotonic() - started)
