"""The values ``replay_history`` returns, and their reports in words.

Contract: ``HistoryReplay`` is the outcome of one history (``ok``, ``divergence``, ``error`` for
a history that could not be read or replayed, ``continuation`` in words). ``ReplayReport``
holds one per history; its ``ok`` is True only when every history replayed identically, its
``divergence`` is the first one found, its ``exit_code`` follows the CLI convention (0 all
identical, 1 a divergence, 2 unreadable input). Plain values: nothing here runs code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from chaosdurable.replay.compare import Divergence

EXIT_OK, EXIT_DIVERGENCE, EXIT_UNREADABLE = 0, 1, 2


@dataclass(frozen=True)
class HistoryReplay:
    """One history replayed against the current handler."""

    source: str
    divergence: Divergence | None = None
    #: why the history could not be read or replayed (then nothing was compared)
    error: str | None = None
    continuation: str = ""
    operations: int = 0
    recorded_outcome: str | None = None
    #: AWS calls and HTTP requests the handler made outside steps while replaying, refused by the fence
    refused: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the handler replays this history identically."""
        return self.error is None and self.divergence is None

    def report(self) -> str:
        """A few lines saying what happened."""
        if self.error is not None:
            return f"UNREADABLE {self.source}\n  {self.error}"
        fenced = ""
        if self.refused:
            fenced = (f"\n  refused during the replay (AWS calls or HTTP requests the handler makes outside steps; a "
                      f"replay never sends them): {', '.join(self.refused[:6])}")
        if self.divergence is not None:
            return f"DIVERGES {self.source}\n" + "\n".join(
                "  " + line for line in self.divergence.describe().splitlines()) + fenced
        state = f"ended {self.recorded_outcome}" if self.recorded_outcome else "in flight"
        return (f"OK {self.source}: {self.operations} recorded operations replay identically ({state}); "
                f"{self.continuation}{fenced}")


@dataclass(frozen=True)
class ReplayReport:
    """Every history given to ``replay_history``, replayed."""

    results: list[HistoryReplay] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every history replayed identically (and there was at least one)."""
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence found, if any."""
        return next((r.divergence for r in self.results if r.divergence is not None), None)

    @property
    def errors(self) -> list[str]:
        """The histories that could not be read or replayed, with why."""
        return [f"{r.source}: {r.error}" for r in self.results if r.error is not None]

    @property
    def exit_code(self) -> int:
        """2 when any history was unreadable, else 1 on a divergence, else 0."""
        if not self.results or self.errors:
            return EXIT_UNREADABLE
        return EXIT_OK if self.ok else EXIT_DIVERGENCE

    def report(self) -> str:
        """Every history's report, then a one-line summary."""
        lines = [r.report() for r in self.results]
        identical = sum(r.ok for r in self.results)
        diverged = sum(r.divergence is not None for r in self.results)
        lines.append(f"{len(self.results)} histories: {identical} replay identically, {diverged} diverge, "
                     f"{len(self.errors)} unreadable")
        return "\n".join(lines)

    def __iter__(self) -> Iterator[HistoryReplay]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)
