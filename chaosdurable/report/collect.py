"""What a pytest session with ``--chaos-report DIR`` gathers: one ``TargetReport`` per chaos property.

Contract: ``record`` is called for every example a property runs (shrinking included) with its
``Verdict``; it counts the example, its invocations, the faults that fired and their
(operation x fault kind) pairs. ``failed`` keeps the failing verdict (the last call wins: Hypothesis
runs the shrunk example last) and the file saved for ``chaosdurable replay``. ``run_report`` gives
the ``RunReport`` the writers read. Thread-safe; holds verdicts only of failures.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from chaosdurable.report.model import RunReport, TargetReport


def coverage_pairs(verdict: Any) -> list[tuple[str, str]]:
    """(operation in words, fault kind) of every fault that fired in ``verdict`` (as the plugin's table)."""
    from chaosdurable.faults.schedule import describe_operation

    pairs = []
    for firing in verdict.fired:
        fault = firing.fault
        op = getattr(fault, "op", None)
        unnamed = op is not None and any(o["Id"] == op and not o.get("Name") for o in verdict.reference.operations)
        target = (describe_operation(str(op), verdict.reference.operations) if unnamed else op
                  ) or getattr(fault, "effect", None) or f"invocation {getattr(fault, 'invocation', '?')}"
        pairs.append((str(target), str(fault.kind)))
    return pairs


class SessionReports:
    """The targets of one session, by property name, in the order they first ran."""

    def __init__(self) -> None:
        self.targets: dict[str, TargetReport] = {}
        self._spans: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.written: Path | None = None  # the report.html written at session end

    def record(self, name: str, handler: Any, verdict: Any) -> None:
        """Count one example of property ``name`` over ``handler``."""
        now = time.monotonic()
        with self._lock:
            target = self.targets.get(name)
            if target is None:
                ref = f"{getattr(handler, '__module__', '?')}:{getattr(handler, '__qualname__', '?')}"
                target = self.targets[name] = TargetReport(name=name, handler=ref)
            target.examples += 1
            target.invocations += len(verdict.chaotic.invocations)
            target.faults_injected += len(verdict.fired)
            for pair in coverage_pairs(verdict):
                target.coverage[pair] = target.coverage.get(pair, 0) + 1
            first, _ = self._spans.get(name, (now, now))
            self._spans[name] = (first, now)
            target.elapsed_s = now - first

    def failed(self, name: str, verdict: Any, saved: str | Path | None = None) -> None:
        """Property ``name`` failed on ``verdict`` (replacing an earlier, larger failure)."""
        with self._lock:
            target = self.targets.get(name)
            if target is None:
                return
            target.failures = [verdict]
            target.saved = [str(saved)] if saved is not None else []

    def run_report(self, seed: int | None, backend: str, profile: str, command: str = "") -> RunReport:
        """The session as a ``RunReport``."""
        with self._lock:
            return RunReport(targets=list(self.targets.values()), seed=seed, backend=backend, profile=profile,
                             elapsed_s=time.monotonic() - self.started, command=command)
