"""``chaosdurable demo``: a short showcase in which a real bug is found, shrunk and explained.

It searches one buggy variant of a bundled scenario (the first buggy one, or ``variant`` given as
``scenario/variant``) with the same search as ``chaosdurable run``, seeded and without the example
database so the bug is found by search every time, then shows the planted bug in a sentence, the
shrunk schedule in words, what fired, the violations, and the replay command of the saved failure.
Exit 0 when the bug was found, 1 when it was not (the showcase failed), 3 when nothing could run.
"""

from __future__ import annotations

import logging
import time

from rich.console import Console

from chaosdurable.checks.base import plural
from chaosdurable.cli import EXIT_NOTHING_TESTED, EXIT_OK, EXIT_VIOLATIONS, UsageError
from chaosdurable.search.explore import SearchPlan, search_target
from chaosdurable.search.targets import Target, bundled, scenario_targets

#: how hard the showcase searches: it stops at the first (shrunk) failure, well within 20 s
SHOWCASE_PLAN = SearchPlan(examples=300, budget_s=20.0, seed=0, database=None)


def _pick(name: str | None) -> Target:
    """The buggy variant to show: ``scenario/variant`` when named, else the first buggy one bundled."""
    targets = [t for scenario in bundled() for t in scenario_targets(scenario)]
    buggy = [t for t in targets if t.expected == "fail"]
    if name is not None:
        chosen = [t for t in buggy if t.name == name]
        if not chosen:
            raise UsageError(f"{name!r} is not a buggy bundled variant; there are: "
                             + (", ".join(t.name for t in buggy) or "none"))
        return chosen[0]
    if not buggy:
        raise UsageError("no buggy bundled variant is installed, so there is nothing to show")
    return buggy[0]


def demo(console: Console, name: str | None = None, failures: str = ".chaosdurable/failures") -> int:
    """Find, shrink and explain one planted bug; see the module docstring."""
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)
    target = _pick(name)

    def say(text: str = "", style: str | None = None) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True, style=style)

    say(f"{target.name}: {target.scenario.description if target.scenario else target.import_path}", "bold")
    say(f"planted bug: {target.description}")
    say("searching fault schedules (crashes, lost checkpoints, duplicate invocations, late callbacks...)")
    started = time.monotonic()
    report = search_target(target, SHOWCASE_PLAN)
    if report.error is not None:
        say(f"error: {report.error}")
        return EXIT_NOTHING_TESTED
    if not report.failures:
        say(f"not found in {plural(report.examples, 'execution')} ({time.monotonic() - started:.1f} s)", "bold red")
        return EXIT_VIOLATIONS
    verdict = report.failures[0]
    saved = verdict.save(failures, name=f"demo.{target.name}")
    say(f"found and shrunk in {plural(report.examples, 'execution')} "
        f"({plural(report.faults_injected, 'fault')} injected), "
        f"{time.monotonic() - started:.1f} s", "bold green")
    say()
    say("the smallest schedule that still breaks it:", "bold")
    for line in verdict.in_words(verdict.schedule.describe()).splitlines():
        say(f"  {line}")
    for firing in verdict.fired:
        say(f"  fired: {verdict.in_words(firing.describe())}")
    say()
    say("what went wrong:", "bold")
    for run in (verdict.reference, verdict.chaotic):
        label = "without faults" if run is verdict.reference else "under faults  "
        say(f"  {label}: {run.status} {(run.result_payload or '')[:100]}")
    for violation in verdict.violations:
        say("  " + verdict.in_words(violation.describe()).replace("\n", "\n  "))
    divergence = verdict.first_divergence()
    if divergence:
        say(f"  first divergent operation: {verdict.in_words(divergence)}")
    say()
    say("replay it:", "bold")
    say(f"  chaosdurable replay {saved}")
    say(f"  {verdict.replay_command()}")
    return EXIT_OK
