"""The pytest plugin (entry point ``pytest11: chaosdurable``) and ``chaosdurable.given``.

Write a chaos property in a few lines::

    @chaosdurable.given(handler=order_workflow, input=SAMPLE_ORDER)
    def test_orders_survive_chaos(verdict):
        assert verdict.chaotic.result["charged"] == 36     # your own invariants, if any

Hypothesis draws fault schedules over the handler's real operation space, runs ``check``
for each, and fails on the first violation after shrinking it to the smallest schedule.
The failure shows the schedule in words, the violations, the first divergent operation,
a compact timeline and a one-line replay command; Hypothesis' example database keeps it,
so the next run tries it first. A failing assertion of the test's own gets the same report and
saved failure (``user_assertion`` in the file). Every operation is attacked, unnamed ones by
their operation id, and reports name those in words (``step #3 (unnamed) in child 'ship'``).

Options: ``--chaos-profile ci|nightly|dev`` (100 / 5000 / 20 examples), ``--chaos-budget S``, ``--chaos-seed N``,
``--chaos-backend inprocess|subprocess|aws`` (aws: ``--chaos-aws-function`` and the safety gate),
``--chaos-report DIR``, ``--chaos-assumed-faults`` (also draw faults not verified on AWS). At the end, the run
reports which (operation x fault kind) pairs were exercised.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"max_examples": 100},
    "nightly": {"max_examples": 5000},
    "dev": {"max_examples": 20},
}
#: Wall-clock seconds one property may search for, per profile (None: no budget, only max_examples).
#: ``--chaos-budget`` overrides it.
BUDGETS: dict[str, float | None] = {"ci": None, "nightly": 900.0, "dev": None}
#: Rows of the fault-space coverage table shown without -v.
COVERAGE_ROWS = 30
#: A property with a budget searches in chunks of this many examples and stops between chunks.
BUDGET_CHUNK = 200
#: ``--chaos-backend`` choices. An ``aws`` backend (real executions in an account) is not built yet, so it is
#: not offered; asking for it says so (``_backend``).
BACKENDS = ("inprocess", "subprocess", "aws")


class _State:
    profile = "ci"
    budget: float | None = None
    seed: int | None = None
    backend = "inprocess"
    #: the ``chaosdurable.backends`` value every property runs on
    backend_value: Any = None
    #: (handler, operation or effect, fault kind) -> faults fired there
    coverage: Counter[tuple[str, str, str]] = Counter()
    #: ``--chaos-report DIR`` and what it collects (``chaosdurable.report.collect``)
    report_dir: str | None = None
    reports: Any = None
    #: ``--chaos-assumed-faults``: draw faults whose provenance is ``assumed`` in every property
    assumed = False
    #: (property, examples run, seconds, budget) for every property that ran under a budget
    budgeted: list[tuple[str, int, float, float]] = []
    lock = threading.Lock()


for _name, _options in PROFILES.items():
    # Registered Hypothesis profiles: settings.load_profile("chaosdurable-nightly") works outside pytest too.
    settings.register_profile(
        # report_multiple_bugs=False: every violation is raised from the same line, so Hypothesis
        # sees one bug anyway; stop looking at the first. No explain phase: it reruns the shrunk
        # example with dozens of variations to annotate Hypothesis' own report (seconds per failure,
        # e.g. 12.8 s -> 0.6 s for a zoo bug), while our report already says what matters.
        f"chaosdurable-{_name}", deadline=None, print_blob=True, report_multiple_bugs=False,
        phases=[phase for phase in Phase if phase is not Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
        **_options)


def _settings() -> settings:
    """The Hypothesis settings profile that ``--chaos-profile`` selected."""
    return settings.get_profile(f"chaosdurable-{_State.profile}")


def record_coverage(verdict: Any) -> None:
    """Count the (operation x fault kind) pairs a verdict's faults exercised (unnamed operations in words)."""
    from chaosdurable.faults.schedule import describe_operation

    with _State.lock:
        for firing in verdict.fired:
            fault = firing.fault
            op = getattr(fault, "op", None)
            unnamed = op is not None and any(o["Id"] == op and not o.get("Name") for o in verdict.reference.operations)
            target = (describe_operation(str(op), verdict.reference.operations) if unnamed else op
                      ) or getattr(fault, "effect", None) or (
                f"stream {getattr(fault, 'stream', None) or '*'!r} event #{fault.event}" if hasattr(fault, "event")
                else f"invocation {getattr(fault, 'invocation', '?')}")
            _State.coverage[(_handler_label(verdict), str(target), fault.kind)] += 1


def _handler_label(verdict: Any) -> str:
    """The handler a verdict judged, as ``module.function`` shortened to its last two parts."""
    return ".".join(str(verdict.chaotic.handler).split(".")[-2:])


def given(
    handler: Callable[..., Any],
    input: Any = None,
    faults: st.SearchStrategy[Any] | None = None,
    *,
    max_faults: int = 3,
    min_faults: int = 0,
    kinds: list[str] | None = None,
    allow_failed_execution: bool = False,
    assumed: bool | None = None,
    sweep: bool = True,
    **check_options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a test into a chaos property over ``handler``.

    ``input`` is a JSON value or a Hypothesis strategy of inputs; ``faults`` a strategy of
    ``FaultSchedule`` (default: ``fault_schedules`` over the handler's operation space, probed
    once per distinct input, with ``min_faults``..``max_faults`` faults; the empty schedule comes
    first, so a bug that shows without any fault shrinks to no fault at all). Other keyword
    arguments go to ``check`` (``setup``, ``callbacks``, ``targets``, ``checkers``...). The
    decorated test may take a ``verdict`` argument to assert its own invariants over the result,
    the history and the world; built-in checkers run first.

    The fault-free run must succeed: chaos is judged against it, and a handler that fails (or
    never finishes) without any fault has a bug that is not about durability. The property then
    fails at once and says so; pass ``allow_failed_execution=True`` when failing is the expected
    outcome for this input.

    ``assumed=True`` also draws faults whose provenance is ``assumed`` (not verified on AWS, such as an
    invocation redelivered with its old token after the execution ended); the default follows
    ``--chaos-assumed-faults`` (off).

    ``sweep`` (on by default, with the default ``faults`` and a fixed input): before Hypothesis searches,
    the empty schedule (when ``min_faults`` is 0), then every one-fault schedule of
    ``chaosdurable.strategies.sweep.single_fault_sweep`` runs once (an outage of each effect, a crash after
    each effect and before each step's checkpoint, each callback failed, timed out or answered twice, a
    duplicate and a cold invocation; at most ``SWEEP_LIMIT``), so a bug one such fault shows is found on
    every run, however the search draws. A failure there is reported like any other, with its schedule.
    """
    from chaosdurable.engine.errors import PayloadNotJsonError
    from chaosdurable.history.http import network_hint
    from chaosdurable.strategies.schedules import OperationSpace, fault_schedules
    from chaosdurable.verdict import check

    if not isinstance(input, st.SearchStrategy):
        try:
            json.dumps(input, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PayloadNotJsonError(
                f"chaosdurable.given(input={input!r}): the input is not JSON ({exc}). A durable execution's "
                "input is JSON; pass dicts, lists, strings, numbers, booleans or None (or a Hypothesis "
                "strategy of them).") from None

    spaces: dict[str, OperationSpace] = {}
    fresh_interpreters = _FreshShare()
    schedule_strategies: dict[str, st.SearchStrategy[Any]] = {}
    references: dict[str, Any] = {}
    worlds: list[Any] = []  # one moto world for all examples of a property run (reset per run)

    def decorate(test: Callable[..., Any]) -> Callable[..., Any]:
        wants_verdict = "verdict" in inspect.signature(test).parameters
        examples = [0]  # examples this property has run (shrinking included)
        # with the user's own faults= strategy: schedules that held faults, those of them a fault fired in, and
        # the last one's "not reached" lines (a strategy naming no real operation tests nothing)
        drawn_faults, fired_faults, missed = [0], [0], [""]

        def space_for(value: Any, key: str) -> OperationSpace:
            """The operation space of ``value`` (probed once), failing the property when its fault-free run failed."""
            if key not in spaces:
                probe_options = {k: check_options[k] for k in ("setup", "callbacks", "targets", "backend",
                                                               "mode", "import_path", "faithful",
                                                               "allow_hosts", "http")  # as the examples run
                                 if check_options.get(k) is not None}
                if "backend" not in probe_options and "mode" not in probe_options:
                    probe_options["backend"] = _State.backend_value  # the probe runs where the examples run
                spaces[key] = OperationSpace.probe(handler, value, **probe_options)
            space = spaces[key]
            if space.outcome != "SUCCEEDED" and (
                    "NonDeterministic" in str(space.problem) or not allow_failed_execution):
                # judged like any example, with no fault: a checker may say why (the SDK's own replay
                # check), and then the failure is saved, so that `chaosdurable replay` reproduces it
                _fail_fault_free(test, value, allow_failed_execution)
            if space.outcome != "SUCCEEDED" and "NonDeterministic" in str(space.problem):
                raise AssertionError(
                    f"[determinism] the SDK detected a non-deterministic replay in the fault-free run of "
                    f"{getattr(handler, '__qualname__', handler)} on input {key} ({space.problem}). Control "
                    "flow outside steps depends on something other than the input and step results: module "
                    "state, the clock, randomness, or an input the handler mutates.")
            if space.outcome != "SUCCEEDED" and not allow_failed_execution:
                raise AssertionError(
                    f"the fault-free run of {getattr(handler, '__qualname__', handler)} on input {key} ended "
                    f"{space.outcome} ({space.problem}). Chaos is judged against the fault-free run, so fix "
                    "the handler (or the input) first; if failing is the expected outcome for this input, "
                    "pass allow_failed_execution=True to chaosdurable.given."
                    + (f" Note: {hint}." if (hint := network_hint(str(space.problem),
                                                                  check_options.get("allow_hosts") or ())) else ""))
            return space

        def judge(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any, schedule: Any, chaos_data: Any) -> None:
            """Run one schedule on ``value`` and judge it: the checkers, then the user's own invariants (a drawn
            example, or a sweep schedule with ``chaos_data`` None, which never runs in a fresh interpreter)."""
            __tracebackhide__ = True
            options = dict(check_options)
            if "backend" not in options and "mode" not in options:
                options["backend"] = _State.backend_value
                if chaos_data is not None and fresh_interpreters.draw(chaos_data, handler,
                                                                      check_options.get("import_path")):
                    from chaosdurable.backends import Subprocess

                    # every invocation in a fresh interpreter (each on a new sandbox): another hash seed, cold modules
                    options["backend"] = Subprocess(process_per="invocation")
                    options["import_path"] = fresh_interpreters.path
            if _State.seed is not None:
                options.setdefault("seed", _State.seed)
            where = options.get("backend") or options.get("mode")
            key = json.dumps([value, getattr(where, "spec", lambda: where)(), options.get("seed")], sort_keys=True,
                             default=str)
            if worlds:
                options["world"] = worlds[-1]
            subject = fresh_interpreters.current() if options.get("import_path") == fresh_interpreters.path \
                and fresh_interpreters.path is not None else handler  # a ColdStart example may have reloaded it
            verdict = check(subject, value, schedule, reference=references.get(key), **options)
            references[key] = verdict.reference
            if faults is not None and len(verdict.schedule):
                drawn_faults[0] += 1
                fired_faults[0] += bool(verdict.fired)
                missed[0] = "\n".join(verdict.not_reached[:3])
            if verdict.violations and options.get("import_path") == fresh_interpreters.path is not None:
                verdict.chaotic.diagnostics.append(FRESH_INTERPRETER_NOTE)
            record_coverage(verdict)
            if _State.reports is not None:
                _State.reports.record(_property_name(test), handler, verdict)
            _raise_if_failed(test, verdict, allow_failed_execution)
            if wants_verdict:
                try:
                    test(*args, verdict=verdict, **kwargs)
                except hypothesis.errors.HypothesisException:
                    raise  # assume(), a health check...: Hypothesis' own control flow
                except (Exception, pytest.fail.Exception) as exc:  # the user's own invariant failed (an assert,
                    # an exception, pytest.fail): the same report and saved failure as a checker's
                    assertion = user_assertion(test, exc)
                    verdict.spec["user_assertion"] = assertion
                    saved = verdict.save(name=f"{getattr(test, '__module__', '?')}.{test.__name__}")
                    if _State.reports is not None:
                        _State.reports.failed(_property_name(test), verdict, saved)
                    raise AssertionError(user_failure_report(verdict, assertion)
                                         + f"\n  chaosdurable replay {saved}") from None

        @functools.wraps(test)
        def property_test(*args: Any, chaos_data: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # a failure shows the verdict, not this frame's source
            examples[0] += 1
            value = chaos_data.draw(input, label="input") if isinstance(input, st.SearchStrategy) else input
            if faults is not None:
                schedule = chaos_data.draw(faults, label="schedule")
            else:
                key = json.dumps(value, sort_keys=True, default=str)
                space_for(value, key)
                if key not in schedule_strategies:  # built once per input: ~9 ms each time otherwise
                    schedule_strategies[key] = fault_schedules(
                        space=spaces[key], kinds=_kinds_for(kinds, handler), max_faults=max_faults,
                        min_faults=min_faults, assumed=_State.assumed if assumed is None else assumed)
                schedule = chaos_data.draw(schedule_strategies[key], label="schedule")
            judge(args, kwargs, value, schedule, chaos_data)

        def _fail_fault_free(test: Callable[..., Any], value: Any, allowed: bool) -> None:
            """Judge the fault-free run of ``value`` alone (no fault) when it failed; raise with the report
            and a saved failure when a checker found a violation, else return."""
            __tracebackhide__ = True
            options = dict(check_options)
            if "backend" not in options and "mode" not in options:
                options["backend"] = _State.backend_value
            if _State.seed is not None:
                options.setdefault("seed", _State.seed)
            if worlds:
                options["world"] = worlds[-1]
            from chaosdurable.faults.schedule import FaultSchedule

            verdict = check(handler, value, FaultSchedule(), **options)
            if _State.reports is not None:
                _State.reports.record(_property_name(test), handler, verdict)
            _raise_if_failed(test, verdict, allowed)

        original = inspect.signature(test)
        params = [p for name, p in original.parameters.items() if name != "verdict"]
        params.append(inspect.Parameter("chaos_data", inspect.Parameter.KEYWORD_ONLY))
        property_test.__signature__ = original.replace(parameters=params)  # type: ignore[attr-defined]
        # Test modules are imported after pytest_configure, so the profile and seed are known here.
        inner = _hypothesis_test(property_test, _settings(), _State.seed)
        if _State.budget is not None:
            inner = _within_budget(property_test, inner, _State.budget, lambda: examples[0], test.__name__)
        if faults is not None:
            inner = _every_schedule_missed_fails(inner, drawn_faults, fired_faults, missed)
        elif sweep and not isinstance(input, st.SearchStrategy):
            inner = _sweep_first(inner, lambda: swept_schedules(),
                                 lambda schedule, args, kwargs: judge(args, kwargs, input, schedule, None))

        def swept_schedules() -> list[Any]:
            """The sweep's one-fault schedules for ``input`` (empty when its fault-free run did not succeed:
            the search's first example reports that)."""
            from chaosdurable.strategies.sweep import single_fault_sweep

            key = json.dumps(input, sort_keys=True, default=str)
            try:
                space = space_for(input, key)
            except AssertionError:
                return []
            if space.outcome != "SUCCEEDED":
                return []
            from chaosdurable.faults.schedule import FaultSchedule

            # no fault first (when the search may draw none): a bug that shows without one is reported as such
            first = [FaultSchedule()] if min_faults == 0 else []
            return first + single_fault_sweep(space, kinds=_kinds_for(kinds, handler),
                                              assumed=_State.assumed if assumed is None else assumed)
        # `chaosdurable replay` of a user-assertion failure finds the user's own function here (the
        # attribute is carried over by functools.wraps to the moto wrapper below)
        inner._chaosdurable_invariant = test  # type: ignore[attr-defined]
        setup = check_options.get("setup")
        if setup is None:
            return inner

        @functools.wraps(inner)
        def with_world(*args: Any, **kwargs: Any) -> Any:
            from chaosdurable.history.world import World

            with World(setup) as world:
                worlds.append(world)
                try:
                    return inner(*args, **kwargs)
                finally:
                    worlds.remove(world)

        with_world.__signature__ = inspect.signature(inner)  # type: ignore[attr-defined]
        return with_world

    return decorate


def _sweep_first(inner: Callable[..., Any], schedules: Callable[[], list[Any]],
                 judge: Callable[[Any, tuple[Any, ...], dict[str, Any]], None]) -> Callable[..., Any]:
    """``inner`` (the search), preceded by one run of each sweep schedule (``strategies.sweep``): the first
    that fails fails the property, with its report and saved failure, before any search."""

    @functools.wraps(inner)
    def swept(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        for schedule in schedules():
            judge(schedule, args, kwargs)  # with the test's own fixtures, for its invariants
        return inner(*args, **kwargs)

    swept.__signature__ = inspect.signature(inner)  # type: ignore[attr-defined]
    return swept


def _every_schedule_missed_fails(inner: Callable[..., Any], drawn: list[int], fired: list[int],
                                 missed: list[str]) -> Callable[..., Any]:
    """``inner``, failing after a passing run in which the user's ``faults=`` strategy drew schedules with
    faults and not one fault fired: nothing was tested (a misspelt operation or effect name)."""

    @functools.wraps(inner)
    def checked(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        drawn[0] = fired[0] = 0
        result = inner(*args, **kwargs)
        if drawn[0] and not fired[0]:
            pytest.fail(f"nothing was tested: none of the {drawn[0]} schedules your faults= strategy drew fired a "
                        "single fault (a misspelt operation or effect name? a callback the run never makes?). "
                        f"The last one:\n{missed[0]}", pytrace=False)
        return result

    checked.__signature__ = inspect.signature(inner)  # type: ignore[attr-defined]
    return checked


def _raise_if_failed(test: Callable[..., Any], verdict: Any, allow_failed_execution: bool) -> None:
    """Save a failing verdict (one file per property) and raise with its report and replay line."""
    __tracebackhide__ = True  # a failure shows the verdict, not this frame's source
    if allow_failed_execution:
        verdict.spec["allow_failed_execution"] = True  # so that replay judges it the same way
    if not verdict.violations:  # a drawn fault that was not reached is no failure of the property
        return
    # one file per property: every failing example overwrites it, and Hypothesis runs the
    # shrunk one last, so the file ends up holding the minimal failure
    saved = verdict.save(name=f"{getattr(test, '__module__', '?')}.{test.__name__}")
    if _State.reports is not None:
        _State.reports.failed(_property_name(test), verdict, saved)
    raise AssertionError(failure_report(verdict) + f"\n  chaosdurable replay {saved}")


def _property_name(test: Callable[..., Any]) -> str:
    """The report's name of a property: its pytest node id (``module::name`` outside pytest)."""
    import os

    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return current.rsplit(" (", 1)[0] if current else f"{test.__module__}::{test.__qualname__}"


def _hypothesis_test(property_test: Callable[..., Any], chosen: settings, seed: int | None) -> Callable[..., Any]:
    """``property_test`` as a Hypothesis test under ``chosen`` settings (and ``seed``, if given)."""
    inner = chosen(hypothesis.given(chaos_data=st.data())(property_test))
    return hypothesis.seed(seed)(inner) if seed is not None else inner


def _within_budget(property_test: Callable[..., Any], whole: Callable[..., Any], budget_s: float,
                   examples_run: Callable[[], int], name: str) -> Callable[..., Any]:
    """Search in chunks of ``BUDGET_CHUNK`` examples until ``max_examples`` ran or ``budget_s`` is spent.

    Hypothesis has no wall-clock limit of its own; stopping between chunks keeps every chunk an
    ordinary Hypothesis run (a failure is shrunk, saved and replayed first next time, exactly as
    without a budget). Chunk ``i`` is seeded ``--chaos-seed + i`` when a seed was given, so a
    budgeted run is as reproducible as the machine's speed allows.
    """
    total = _settings().max_examples

    @functools.wraps(whole)
    def budgeted(*args: Any, **kwargs: Any) -> None:
        started, before = time.monotonic(), examples_run()
        planned = chunk = 0
        while planned < total and time.monotonic() - started < budget_s:
            size = min(BUDGET_CHUNK, total - planned)
            seed = None if _State.seed is None else _State.seed + chunk
            _hypothesis_test(property_test, settings(_settings(), max_examples=size), seed)(*args, **kwargs)
            planned += size
            chunk += 1
        with _State.lock:
            _State.budgeted.append((name, examples_run() - before,
                                    time.monotonic() - started, budget_s))

    budgeted.__signature__ = inspect.signature(whole)  # type: ignore[attr-defined]
    return budgeted


def failure_report(verdict: Any) -> str:
    """What a failing chaos property shows: the verdict, the timeline and the replay line."""
    lines = [verdict.report(), "", "timeline of the chaotic run:"]
    lines += [f"  {line}" for line in verdict.timeline()]
    lines += ["", "replay from the shell:", f"  {verdict.replay_command()}"]
    return "\n".join(lines)


def user_assertion(test: Callable[..., Any], exc: BaseException) -> dict[str, Any]:
    """What a saved failure records about a failed user invariant (read by ``chaosdurable replay``).

    ``test``: the pytest node id (from ``PYTEST_CURRENT_TEST``, else ``module::name``); ``function``
    (``module:qualname``) and ``file``: where replay finds the undecorated test; ``error``: the
    exception in words; ``where``: the line of the test that raised it; ``replay``: what replay can
    and cannot re-check.
    """
    import os
    import traceback

    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    nodeid = current.rsplit(" (", 1)[0] if current else f"{test.__module__}::{test.__qualname__}"
    source = inspect.getsourcefile(test) or ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == source]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
    return {
        "test": nodeid, "function": f"{test.__module__}:{test.__qualname__}", "file": source,
        "error": f"{type(exc).__name__}: {exc}".rstrip(": ") if str(exc) else type(exc).__name__,
        "where": where,
        "replay": ("the failure was the test's own assertion, not a built-in checker. `chaosdurable replay` "
                   "re-runs the handler under this schedule, the built-in checkers, and the test function "
                   "itself with the new verdict when it takes no argument but `verdict`; a test that needs "
                   f"other fixtures is re-checked with: python -m pytest '{nodeid}' (Hypothesis' example "
                   "database tries this schedule first)"),
    }


def user_failure_report(verdict: Any, assertion: dict[str, Any]) -> str:
    """What a property shows when the user's own assertion failed: the full report, then that assertion."""
    report = failure_report(verdict).split("\n", 1)
    header = report[0].replace(": OK", ": the built-in checkers found no violation; your assertion failed")
    report = [line.replace("replay from the shell:", "replay the run from the shell (built-in checkers only):")
              for line in report]
    lines = [header, *report[1:], "", f"your assertion in {assertion['test']} failed:"]
    lines += [f"  {line}" for line in str(assertion["error"]).splitlines()]
    if assertion.get("where"):
        lines.append(f"  at {assertion['where']}")
    lines.append("the saved failure replays the run and re-checks your assertion:")
    return "\n".join(lines)


# ----------------------------------------------------------------- pytest hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    """--chaos-profile, --chaos-seed, --chaos-backend."""
    group = parser.getgroup("chaosdurable", "chaos testing of durable functions")
    group.addoption("--chaos-profile", choices=sorted(PROFILES), default="ci",
                    help="how hard to search: ci (100 examples), nightly (5000, within a 900 s budget per "
                         "property), dev (20)")
    group.addoption("--chaos-budget", type=float, default=None, metavar="SECONDS",
                    help="wall-clock seconds each property may search (default: 900 under nightly, "
                         "none otherwise); the search stops at the budget or at the profile's examples")
    group.addoption("--chaos-seed", type=int, default=None, help="seed Hypothesis and the engine")
    group.addoption("--chaos-backend", type=_backend, default="inprocess", metavar="{" + ",".join(BACKENDS) + "}",
                    help="where executions run: inprocess, subprocess (a process per emulated sandbox), aws (a "
                         "deployed function through boto3: --chaos-aws-function, the allowlist and the switch)")
    group.addoption("--chaos-aws-function", default=None, metavar="NAME_OR_ARN",
                    help="--chaos-backend aws: the deployed durable function to drive")
    group.addoption("--chaos-aws-endpoint", default=None, metavar="URL",
                    help="--chaos-backend aws: the Lambda endpoint (default: AWS's own)")
    group.addoption("--chaos-aws-allow-endpoint", action="store_true",
                    help="--chaos-backend aws: allow a non-AWS endpoint (a loopback rehearsal)")
    group.addoption("--chaos-aws-allowlist", default=None, metavar="FILE",
                    help="--chaos-backend aws: the allowlist file (default: CHAOSDURABLE_AWS_ALLOWLIST)")
    group.addoption("--chaos-assumed-faults", action="store_true",
                    help="also draw faults labelled 'assumed' (not verified on AWS: an invocation redelivered "
                         "with its old token after the execution ended); off by default")
    group.addoption("--chaos-report", default=None, metavar="DIR",
                    help="write report.html, report.json and junit.xml of the chaos properties to DIR "
                         "(under pytest-xdist: one set per worker, in DIR/<worker id>/)")


#: said under a failing example that ran in fresh interpreters
FRESH_INTERPRETER_NOTE = (
    "note: this example ran every invocation in a fresh interpreter (the 'fresh interpreter' draw): each process "
    "has its own PYTHONHASHSEED and freshly imported modules. If the same schedule passes in-process "
    "(chaosdurable replay FILE --backend inprocess), the cause is what differs between processes: the order of a "
    "set of strings (or of a dict built from one), hash() or id() values, module state")
#: one example in this many runs in fresh interpreters (the subprocess backend) when the session runs
#: in-process, so bugs that depend on the hash seed (iterating a set of strings) or on a cold module
#: show under the default profile too; 0 turns it off
FRESH_INTERPRETER_SHARE = 10


class _FreshShare:
    """Decides, by a Hypothesis draw (so it shrinks toward in-process), which examples run in fresh
    interpreters; only when the session is in-process and the handler can be imported by a child."""

    def __init__(self) -> None:
        self.importable: bool | None = None
        #: ``module:attribute`` of the handler, found once (a ColdStart example reloads its module later)
        self.path: str | None = None

    def draw(self, data: Any, handler: Callable[..., Any], import_path: str | None) -> bool:
        if FRESH_INTERPRETER_SHARE <= 0 or _State.backend != "inprocess":
            return False
        if self.importable is None:
            from chaosdurable.engine.errors import NotDurableHandlerError
            from chaosdurable.engine.subprocess_invoker import handler_ref

            try:
                self.path = handler_ref(handler, import_path)
                self.importable = True
            except (NotDurableHandlerError, ValueError, LookupError):
                self.importable = False
        if not self.importable:
            return False
        share = data.draw(st.integers(0, FRESH_INTERPRETER_SHARE - 1),
                          label=f"where it ran: {FRESH_INTERPRETER_SHARE - 1} = every invocation in a fresh "
                                f"interpreter, 0 to {FRESH_INTERPRETER_SHARE - 2} = in this process")
        return bool(share == FRESH_INTERPRETER_SHARE - 1)

    def current(self) -> Any:
        """The handler its module holds now (an in-process ``ColdStart`` reloads the module: a child
        imports the reloaded one, and subprocess mode checks it runs that very object)."""
        import importlib

        assert self.path is not None
        module, _, attribute = self.path.partition(":")
        value: Any = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value


def _kinds_for(kinds: list[str] | None, handler: Any = None) -> list[str] | None:
    """The fault kinds to draw: those asked for (default: all) that the session's backend can apply.

    In-process, a ``ColdStart`` re-runs the handler's module; a handler defined in a test module
    (or a script) gets none drawn (its cold starts come from the examples run in fresh
    interpreters, ``FRESH_INTERPRETER_SHARE``).
    """
    from chaosdurable.strategies.schedules import DEFAULT_KINDS

    backend = _State.backend_value
    if backend is None or backend.name == "inprocess":
        if handler is not None and _module_cannot_reload(handler):
            return [k for k in (kinds or DEFAULT_KINDS) if k != "cold_start"]
        return kinds
    if backend.name == "subprocess":
        return kinds
    return [k for k in (kinds or DEFAULT_KINDS) if k in backend.fault_kinds]


def _module_cannot_reload(handler: Any) -> bool:
    import sys

    from chaosdurable import sdk_compat
    from chaosdurable.engine.sandbox import reload_problem

    module_name, _ = sdk_compat.handler_origin(handler)
    module = sys.modules.get(module_name or "")
    return reload_problem(module_name, getattr(module, "__file__", None)) is not None


def _aws_backend(config: pytest.Config) -> Any:
    """The ``aws`` backend the options name; a refusal of the safety gate is a usage error naming what is missing."""
    from urllib.parse import urlparse

    from chaosdurable.backends import from_name

    function = config.getoption("--chaos-aws-function")
    if not function:
        raise pytest.UsageError("--chaos-backend aws needs --chaos-aws-function NAME_OR_ARN (the deployed durable "
                                "function), on the allowlist, with CHAOSDURABLE_ALLOW_AWS=1 set (README: safety)")
    endpoint = config.getoption("--chaos-aws-endpoint")
    options: dict[str, Any] = {"function_name": function, "endpoint_url": endpoint,
                               "allowlist": config.getoption("--chaos-aws-allowlist")}
    if endpoint and config.getoption("--chaos-aws-allow-endpoint"):
        options["allow_endpoints"] = (urlparse(endpoint).hostname or "",)
    try:
        return from_name("aws", **options)
    except Exception as exc:  # the gate's refusals and a bad option each say what is missing
        raise pytest.UsageError(f"--chaos-backend aws refused: {exc}") from None


def _backend(value: str) -> str:
    """``--chaos-backend``'s type: one of ``BACKENDS``."""
    import argparse

    if value not in BACKENDS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a backend; choose from {', '.join(BACKENDS)}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    """Read the options."""
    _State.profile = config.getoption("--chaos-profile")
    budget = config.getoption("--chaos-budget")
    if budget is not None and budget <= 0:
        raise pytest.UsageError(f"--chaos-budget must be a positive number of seconds, not {budget}")
    _State.budget = budget if budget is not None else BUDGETS[_State.profile]
    _State.seed = config.getoption("--chaos-seed")
    _State.assumed = bool(config.getoption("--chaos-assumed-faults"))
    _State.backend = config.getoption("--chaos-backend")
    if _State.backend == "aws":
        _State.backend_value = _aws_backend(config)
    else:
        from chaosdurable.backends import from_name

        _State.backend_value = from_name(_State.backend)
    _State.report_dir = config.getoption("--chaos-report")
    if _State.report_dir is not None:
        from chaosdurable.report.collect import SessionReports

        _State.reports = SessionReports()
    config.addinivalue_line("markers", "chaos: a chaosdurable property")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its coverage counts to the controller; ``--chaos-report`` is written."""
    _write_chaos_report(session)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["chaosdurable_coverage"] = [[h, t, k, n] for (h, t, k), n in _State.coverage.items()]


def _write_chaos_report(session: pytest.Session) -> None:
    """``--chaos-report DIR``: the three report files, from this process's properties.

    Verdicts stay in the process that ran them, so under pytest-xdist each worker writes its own
    set to ``DIR/<worker id>/`` and the controller (which ran none) writes nothing.
    """
    if _State.report_dir is None or _State.reports is None:
        return
    from pathlib import Path

    from chaosdurable.report.write import write_reports

    workerinput = getattr(session.config, "workerinput", None)
    folder = Path(_State.report_dir)
    if workerinput is not None:
        folder = folder / str(workerinput.get("workerid", "worker"))
    elif getattr(session.config.option, "numprocesses", None) and not _State.reports.targets:
        return  # the xdist controller: the workers wrote theirs
    command = " ".join(["pytest", *session.config.invocation_params.args])
    written = write_reports(_State.reports.run_report(_State.seed, _State.backend, _State.profile, command), folder)
    _State.reports.written = written["html"]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Under pytest-xdist, the controller merges each worker's coverage counts."""
    for handler, target, kind, count in getattr(node, "workeroutput", {}).get("chaosdurable_coverage", []):
        _State.coverage[(handler, target, kind)] += count


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Fault-space coverage: which (operation x fault kind) pairs the properties exercised."""
    from chaosdurable.checks.base import plural

    if _State.reports is not None and _State.reports.written is not None:
        terminalreporter.write_line(f"chaosdurable report: {_State.reports.written}")
    if _State.budgeted:
        terminalreporter.section("chaosdurable search budgets")
        for name, examples, seconds, budget in _State.budgeted:
            ran = plural(examples, "example")
            terminalreporter.write_line(f"{name}: {ran} in {seconds:.1f} s (budget {budget:g} s)")
    if not _State.coverage:
        return
    terminalreporter.section("chaosdurable fault-space coverage")
    verbose = terminalreporter.config.option.verbose > 0
    for line in coverage_lines(_State.coverage, COVERAGE_ROWS if not verbose else None):
        terminalreporter.write_line(line)
    targets = {(h, t) for h, t, _ in _State.coverage}
    handlers = {h for h, _, _ in _State.coverage}
    total = len(_State.coverage)
    terminalreporter.write_line(f"{plural(total, '(operation x fault kind) pair')} exercised over "
                                f"{plural(len(targets), 'target')} of {plural(len(handlers), 'handler')}")


#: short column names for the coverage table (it fits 80 columns)
KIND_COLUMNS = {"crash_at_checkpoint": "crash", "checkpoint_error": "api", "invocation_timeout": "tmout",
                "duplicate_invocation": "dup", "cold_start": "cold", "late_timer": "late",
                "transient_failure": "flaky", "crash_after_effect": "ecrash", "callback": "cb"}


def coverage_lines(coverage: Counter[tuple[str, str, str]], max_rows: int | None = COVERAGE_ROWS,
                   width: int = 80) -> list[str]:
    """One table per handler: its operations (or effects) x the fault kinds fired there, within ``width``.

    Columns are the kinds fired for that handler, by short name (``KIND_COLUMNS``, explained once
    in a legend); operation names are cut in the middle to fit; each handler shows at most
    ``max_rows`` rows (None: all), then says how many more.
    """
    order = list(KIND_COLUMNS)
    used = sorted({k for _, _, k in coverage}, key=lambda k: order.index(k) if k in order else len(order))
    lines = _wrapped("legend: " + ", ".join(f"{KIND_COLUMNS.get(k, k)} = {k}" for k in used), width)
    for handler in sorted({h for h, _, _ in coverage}):
        kinds = [k for k in used if any(h == handler and kk == k for h, _, kk in coverage)]
        heads = [KIND_COLUMNS.get(k, k[:6]) for k in kinds]
        cell = max(len(h) for h in heads) + 1
        label_width = max(16, width - cell * len(heads))
        rows = sorted({t for h, t, _ in coverage if h == handler})
        shown = rows if max_rows is None else rows[:max_rows]
        lines.append("")
        lines.append(_cut(handler, label_width).ljust(label_width) + "".join(h.rjust(cell) for h in heads))
        for target in shown:
            cells = "".join(str(coverage.get((handler, target, k), "-")).rjust(cell) for k in kinds)
            lines.append(("  " + _cut(target, label_width - 2)).ljust(label_width) + cells)
        if len(shown) < len(rows):
            lines.append(f"  ... and {len(rows) - len(shown)} more targets (-v shows them all)")
    return lines


def _wrapped(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, subsequent_indent="  ")


def _cut(text: str, width: int) -> str:
    """``text`` within ``width`` characters, its middle replaced by '~' when too long."""
    if len(text) <= width - 1:
        return text
    keep = width - 2
    return text[: keep // 2] + "~" + text[-(keep - keep // 2):]
