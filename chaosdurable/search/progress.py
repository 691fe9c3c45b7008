"""What ``chaosdurable run`` shows while it searches: a live ``rich`` table, or plain lines.

On a terminal, ``LiveDisplay`` redraws one row per target (state, executions, faults injected,
operations covered, violations found) and an overall line, fitting 80 columns. Anywhere else (a
pipe, a CI log, ``TERM=dumb``), ``PlainDisplay`` prints one line per finished target and, at most
every ``PLAIN_EVERY`` seconds, one overall progress line. ``outcome(report)`` is the word a
finished target gets, and whether it met its expectation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaosdurable.checks.base import plural
from chaosdurable.report.model import TargetReport
from chaosdurable.search.explore import Stats
from chaosdurable.search.targets import Target

#: seconds between two overall progress lines of the plain display
PLAIN_EVERY = 10.0


def outcome(report: TargetReport) -> tuple[str, bool]:
    """(word, expectation met) for a finished target.

    caught: a planted bug was found; MISSED: it was not; passed: no violation where none was expected;
    FAILED: a violation in a correct variant or a user's handler; untested: the search could not run.
    """
    if report.error is not None or report.examples == 0:
        return "untested", False
    if report.expected == "fail":
        return ("caught", True) if report.found_bug else ("MISSED", False)
    return ("FAILED", False) if report.found_bug else ("passed", True)


def _expect(target: Target) -> str:
    return {"fail": "bug", "pass": "ok"}.get(str(target.expected), "")


class _Counts:
    """Per-target live counters and final reports, shared by both displays."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        self.stats: dict[int, Stats] = {}
        self.reports: dict[int, TargetReport] = {}
        self.started = time.monotonic()

    def totals(self) -> tuple[int, int, int, int]:
        """(executions, faults, violations, targets done) over every target."""
        stats = list(self.stats.values())
        return (sum(s.examples for s in stats), sum(s.faults for s in stats),
                sum(len(s.violations) for s in stats), len(self.reports))

    def overall(self) -> str:
        """The overall line."""
        runs, faults, violations, done = self.totals()
        return (f"{done}/{plural(len(self.targets), 'target')} done, {plural(runs, 'execution')}, "
                f"{plural(faults, 'fault')}, {plural(violations, 'violation')}, "
                f"{time.monotonic() - self.started:.0f} s")

    def covered(self, index: int) -> str:
        """Operations covered by a fired fault / operations of the fault-free run."""
        stats = self.stats.get(index, Stats())
        return f"{len(stats.covered)}/{stats.operations}" if stats.operations else "-"


class PlainDisplay(_Counts):
    """Plain lines, for output that is not a terminal."""

    def __init__(self, console: Console, targets: Sequence[Target]) -> None:
        super().__init__(targets)
        self.console = console
        self.last_line = time.monotonic()

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def update(self, index: int, stats: Stats) -> None:
        """Keep the counters; print an overall line at most every ``PLAIN_EVERY`` seconds."""
        self.stats[index] = stats
        if time.monotonic() - self.last_line >= PLAIN_EVERY:
            self.last_line = time.monotonic()
            self._print(f"... {self.overall()}")

    def finish(self, index: int, report: TargetReport) -> None:
        """One line for the finished target."""
        self.reports[index] = report
        word, _ = outcome(report)
        stats = self.stats.get(index, Stats())
        self._print(f"{word:<8} {report.name}: {plural(report.examples, 'run')}, "
                    f"{plural(report.faults_injected, 'fault')}, ops {self.covered(index)}, "
                    f"{plural(len(stats.violations), 'violation')}, {report.elapsed_s:.1f} s")


class LiveDisplay(_Counts):
    """A live table on a terminal, one row per target and an overall line."""

    def __init__(self, console: Console, targets: Sequence[Target]) -> None:
        super().__init__(targets)
        self.console = console
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.update(self._render(), refresh=True)
        self.live.__exit__(*exc)

    def update(self, index: int, stats: Stats) -> None:
        """New counters for one target."""
        self.stats[index] = stats
        self.live.update(self._render())

    def finish(self, index: int, report: TargetReport) -> None:
        """A target is done: its row shows the outcome."""
        self.reports[index] = report
        self.live.update(self._render())

    def _state(self, index: int) -> Text:
        report = self.reports.get(index)
        if report is None:
            return Text("searching" if index in self.stats else "queued", style="cyan" if index in self.stats
                        else "dim")
        word, met = outcome(report)
        return Text(word, style="green" if met else "bold red")

    def _render(self) -> Group:
        width = self.console.width
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), expand=False)
        table.add_column("target", no_wrap=True, overflow="ellipsis", max_width=max(16, min(40, width - 50)))
        table.add_column("exp", no_wrap=True)
        table.add_column("state", no_wrap=True)
        for column in ("runs", "faults", "ops", "viol"):
            table.add_column(column, justify="right", no_wrap=True)
        for index, target in enumerate(self.targets):
            stats = self.stats.get(index, Stats())
            table.add_row(target.name, _expect(target), self._state(index), str(stats.examples), str(stats.faults),
                          self.covered(index), str(len(stats.violations)))
        return Group(table, Text(self.overall(), no_wrap=True, overflow="ellipsis"))


def display_for(console: Console, targets: Sequence[Target]) -> PlainDisplay | LiveDisplay:
    """A live table on an interactive terminal, plain lines otherwise."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(console, targets)
    return PlainDisplay(console, targets)
