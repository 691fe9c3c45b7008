"""``chaosdurable run``: search bundled scenarios or your handlers for failing fault schedules.

``register(subparsers)`` adds the parser; ``run_main(args, console)`` is the command. With no
argument it searches every variant of every bundled scenario and exits 0 only when every buggy
variant was caught and every correct one passed. Each failure is shrunk, saved for
``chaosdurable replay FILE`` and reported; every run writes ``report.html``, ``report.json`` and
``junit.xml`` to ``--report DIR``.

Exit codes: 0 every expectation met (no violation in a handler of yours); 1 a violation (a correct
variant or your handler failed) or a planted bug missed; 2 a usage error (raised as ``UsageError``:
a missing file, an import error with its real cause, an unknown name); 3 nothing was tested (no
target, or every target's search could not run, e.g. its fault-free run failed).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from chaosdurable.checks.base import plural
from chaosdurable.cli import EXIT_NOTHING_TESTED, EXIT_OK, EXIT_VIOLATIONS, UsageError
from chaosdurable.report.model import RunReport, TargetReport
from chaosdurable.search.explore import SearchPlan
from chaosdurable.search.pool import plan_units, run_units
from chaosdurable.search.progress import display_for, outcome
from chaosdurable.search.targets import Target, UserOptions, resolve

#: per profile: examples per target, and the whole run's wall-clock budget in seconds
#: ``seed``: the default seed (None: a new one each run). CI runs are reproducible by default, so the
#: same command gives the same verdict; nightly runs explore new draws (their failures are saved and
#: replayed first through the example database). ``ci`` has no wall-clock budget: with one, a loaded
#: machine ran fewer examples and missed planted bugs that an idle one caught (the verdict depended on
#: the load); bounded by examples alone, the same seed gives the same verdict anywhere.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"examples": 100, "budget": None, "seed": 0},
    "nightly": {"examples": 5000, "budget": 3600.0, "seed": None},
}
BACKENDS = ("inprocess", "subprocess", "aws")


def default_workers() -> int:
    """The CPUs this process may use (the default of ``--workers``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _backend(value: str) -> str:
    if value not in BACKENDS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a backend; choose from {', '.join(BACKENDS)}")
    return value


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``chaosdurable`` subcommands."""
    p = subparsers.add_parser(
        "run", help="search bundled scenarios or your handlers for failing fault schedules (the main job)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", metavar="SCENARIO | path.py | module:handler",
                   help="a bundled scenario (or scenario/variant), a file with SCENARIO or durable handlers, or "
                        "module:handler; none: every bundled scenario, correct and buggy")
    p.add_argument("--input", help="the input of a module:handler, as JSON text")
    p.add_argument("--inputs", metavar="module:strategy", help="a Hypothesis strategy of inputs for module:handler")
    p.add_argument("--setup", metavar="module:function", help="provisions the moto world (tables, queues...)")
    p.add_argument("--callbacks", metavar="JSON", help='callback answers by name: {"approval": {"ok": true}}')
    p.add_argument("--target", action="append", default=[], metavar="NAME=module:function",
                   help="a chained-invoke target (repeatable)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="ci",
                   help="ci: 100 examples per target within 80 s in all; nightly: 5000 within 3600 s")
    p.add_argument("--examples", type=int, help="examples per target (overrides the profile)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="wall-clock seconds for the whole run, shared among targets (overrides the profile)")
    p.add_argument("--seed", type=int,
                   help="seed Hypothesis and the engine (default: 0 under --profile ci, a new one under nightly)")
    p.add_argument("--backend", type=_backend, default="inprocess", metavar="{inprocess,subprocess,aws}",
                   help="where executions run: in this process, a process per emulated sandbox, or a deployed function "
                        "(aws: --aws-function, the allowlist and CHAOSDURABLE_ALLOW_AWS=1)")
    p.add_argument("--aws-function", metavar="NAME_OR_ARN", help="--backend aws: the deployed durable function")
    p.add_argument("--aws-endpoint", metavar="URL", help="--backend aws: the Lambda endpoint (default: AWS's)")
    p.add_argument("--aws-allow-endpoint", action="store_true",
                   help="--backend aws: allow a non-AWS endpoint (a loopback rehearsal)")
    p.add_argument("--aws-allowlist", metavar="FILE", help="--backend aws: the allowlist file")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="search processes sharing the example database (default: the CPUs available)")
    p.add_argument("--report", default=".chaosdurable/report", metavar="DIR", help="where the reports go")
    p.add_argument("--failures", default=".chaosdurable/failures", metavar="DIR",
                   help="where shrunk failures are saved for chaosdurable replay")
    p.add_argument("--database", default=".chaosdurable/examples", metavar="DIR|redis://HOST:PORT/DB|none",
                   help="Hypothesis' example database shared by workers and runs")
    p.add_argument("--assumed-faults", action="store_true",
                   help="also draw faults labelled 'assumed' (not verified on AWS: an invocation redelivered "
                        "with its old token after the execution ended); README: fault provenance")
    p.set_defaults(command_main=run_main)


def _plan(args: argparse.Namespace, targets: list[Target], workers: int) -> SearchPlan:
    """The per-unit plan: the profile's examples, and the run's budget shared among the units."""
    profile = PROFILES[args.profile]
    examples = args.examples if args.examples is not None else profile["examples"]
    budget = args.budget if args.budget is not None else profile["budget"]
    if examples < 1:
        raise UsageError(f"--examples must be at least 1, not {examples}")
    if budget is not None and budget <= 0:
        raise UsageError(f"--budget must be a positive number of seconds, not {budget}")
    units = len(plan_units(len(targets), workers))
    per_unit = None if budget is None else budget * min(workers, units) / max(1, units)
    database = None if str(args.database).lower() == "none" else args.database
    seed = args.seed if args.seed is not None else profile["seed"]
    return SearchPlan(examples=examples, budget_s=per_unit, seed=seed, backend=args.backend,
                      database=database, backend_options=_aws_options(args) if args.backend == "aws" else {},
                      assumed=bool(getattr(args, "assumed_faults", False)))


def _aws_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Aws`` backend's options from ``--aws-*``; built once here so a refusal of the safety gate is
    a usage error (exit 2) naming what is missing, before any search starts."""
    from urllib.parse import urlparse

    from chaosdurable.backends import from_name

    if not args.aws_function:
        raise UsageError("--backend aws needs --aws-function NAME_OR_ARN (the deployed durable function), on "
                         "the allowlist (--aws-allowlist FILE or CHAOSDURABLE_AWS_ALLOWLIST), with "
                         "CHAOSDURABLE_ALLOW_AWS=1")
    options: dict[str, Any] = {"function_name": args.aws_function, "endpoint_url": args.aws_endpoint,
                               "allowlist": args.aws_allowlist}
    if args.aws_endpoint and args.aws_allow_endpoint:
        options["allow_endpoints"] = (urlparse(args.aws_endpoint).hostname or "",)
    try:
        from_name("aws", **options)
    except Exception as exc:  # the gate's refusals each say what is missing
        raise UsageError(f"--backend aws refused: {exc}") from None
    return options


def run_main(args: argparse.Namespace, console: Console) -> int:
    """The ``run`` command: resolve, search, save, report, and the exit code (module docstring)."""
    started = time.monotonic()
    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    options = UserOptions(input=args.input, inputs=args.inputs, setup=args.setup, callbacks=args.callbacks,
                          targets=tuple(args.target))
    targets = resolve(args.targets, options)
    if not targets:
        _say(console, "nothing to test: no bundled scenario is installed and no target was given")
        return EXIT_NOTHING_TESTED
    plan = _plan(args, targets, workers)
    workers = min(workers, len(plan_units(len(targets), workers)))
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)
    _say(console, f"searching {plural(len(targets), 'target')}: {plural(plan.examples, 'example')} each"
         + (f", {args.budget or PROFILES[args.profile]['budget']:g} s budget" if plan.budget_s else "")
         + f", {plural(workers, 'worker')}, {plan.backend} backend, "
         + f"seed {plan.seed if plan.seed is not None else 'random'}")
    with display_for(console, targets) as display:
        reports = run_units(targets, plan, workers, display)
    for report in reports:
        for verdict in report.failures:
            report.saved.append(str(verdict.save(args.failures, name=f"run.{report.name}")))
    run_report = RunReport(targets=reports, seed=plan.seed, backend=plan.backend, profile=args.profile,
                           elapsed_s=time.monotonic() - started,
                           command=" ".join(["chaosdurable", *map(shlex.quote, sys.argv[1:])]))
    _show_findings(console, targets, reports)
    written = _write_reports(run_report, args.report)
    if written:
        _say(console, "reports: " + ", ".join(str(p) for p in written))
    return _verdict(console, reports, run_report.elapsed_s)


def _write_reports(report: RunReport, directory: str) -> list[Path]:
    """HTML, JSON and JUnit through ``chaosdurable.report.write.write_reports``."""
    from chaosdurable.report.write import write_reports

    return list(write_reports(report, directory).values())


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def describe_failure(report: TargetReport, verdict: Any) -> list[str]:
    """A shrunk failure in words: the schedule, the violations (first line each), the replay command."""
    lines = ["  shrunk schedule:"]
    lines += [f"    {line}" for line in verdict.in_words(verdict.schedule.describe()).splitlines()]
    for violation in verdict.violations:
        lines.append(f"  {verdict.in_words(violation.describe().splitlines()[0])}")
    for saved in report.saved:
        lines.append(f"  replay: chaosdurable replay {saved}")
    return lines


def _show_findings(console: Console, targets: list[Target], reports: list[TargetReport]) -> None:
    """What each failure and each untested target was; a failure nobody expected in full."""
    for target, report in zip(targets, reports, strict=True):
        word, met = outcome(report)
        if report.error is not None:
            _say(console, f"\n{report.name}: {word}: {report.error}")
        for verdict in report.failures:
            if met:  # a planted bug, caught: its description and the shrunk failure in brief
                _say(console, f"\n{report.name}: caught ({target.description})")
                _say(console, "\n".join(describe_failure(report, verdict)))
            else:
                from chaosdurable.pytest_plugin import failure_report

                _say(console, f"\n{report.name}: {word}\n{failure_report(verdict)}")
                for saved in report.saved:
                    _say(console, f"  chaosdurable replay {saved}")


def _verdict(console: Console, reports: list[TargetReport], elapsed: float) -> int:
    """The run's verdict in one plain sentence, and its exit code."""
    words = [outcome(r)[0] for r in reports]
    caught, missed = words.count("caught"), [r.name for r in reports if outcome(r)[0] == "MISSED"]
    passed, failed = words.count("passed"), [r.name for r in reports if outcome(r)[0] == "FAILED"]
    untested = [r.name for r in reports if outcome(r)[0] == "untested"]
    counts = (("caught", caught), ("passed", passed), ("failed", len(failed)), ("missed", len(missed)),
              ("untested", len(untested)))
    summary = (", ".join(f"{n} {word}" for word, n in counts if n)
               + f"; {plural(sum(r.examples for r in reports), 'run')} in {elapsed:.1f} s")
    if failed or missed:
        _say(console, f"\nFAIL ({summary})")
        if failed:
            _say(console, "  violations in: " + ", ".join(failed))
        if missed:
            _say(console, "  planted bugs not caught: " + ", ".join(missed))
        return EXIT_VIOLATIONS
    if untested:
        _say(console, f"\nNOTHING TESTED ({summary}): {', '.join(untested)}")
        return EXIT_NOTHING_TESTED
    _say(console, f"\nOK: every expectation met ({summary})")
    return EXIT_OK
