"""What a report is made of: plain values written by a run or a pytest session, read by the writers.

The writers (HTML, JSON, JUnit) read only these values, never a live run: the data flows
workload -> backend + nemesis -> history -> checkers -> verdict -> report.

Contract:
- ``TargetReport`` is one thing that was searched: a bundled scenario's variant
  (``"order-saga/double-charge"``), a user's ``module:handler``, or one pytest property.
  ``expected`` is "fail" for a planted bug, "pass" for a correct variant, None for a user's target.
- ``failures`` holds the shrunk failing ``Verdict`` of each distinct failure (usually one).
- ``coverage`` counts injected faults per (operation label in words, fault kind).
- ``RunReport.ok`` is the run's verdict: every expectation met, nothing that tested nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Expectation = Literal["pass", "fail"]


@dataclass
class TargetReport:
    """One searched target and what the search found."""

    name: str
    handler: str
    expected: Expectation | None = None
    description: str = ""
    examples: int = 0
    invocations: int = 0
    faults_injected: int = 0
    elapsed_s: float = 0.0
    coverage: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: list[Any] = field(default_factory=list)  # chaosdurable.verdict.Verdict, shrunk
    error: str | None = None  # the search itself could not run (import error, fault-free run failed...)
    saved: list[str] = field(default_factory=list)  # saved failure files (chaosdurable replay FILE)

    @property
    def found_bug(self) -> bool:
        """True when the search found at least one failing schedule."""
        return bool(self.failures)

    @property
    def met_expectation(self) -> bool:
        """A planted bug was caught, a correct variant passed, or (no expectation) nothing failed."""
        if self.error is not None or self.examples == 0:
            return False
        if self.expected == "fail":
            return self.found_bug
        return not self.found_bug


@dataclass
class RunReport:
    """A whole ``chaosdurable run`` (or pytest session with ``--chaos-report``)."""

    targets: list[TargetReport]
    seed: int | None = None
    backend: str = "inprocess"
    profile: str = "ci"
    elapsed_s: float = 0.0
    command: str = ""

    @property
    def ok(self) -> bool:
        """Every target met its expectation (and at least one target ran)."""
        return bool(self.targets) and all(t.met_expectation for t in self.targets)
