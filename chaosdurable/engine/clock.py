"""Virtual time for the emulated durable execution service.

Contract:
- ``VirtualClock.now_ms`` is an integer number of milliseconds since the Unix epoch.
  It starts at a fixed instant (``DEFAULT_EPOCH_MS``) so two runs with the same
  inputs stamp identical timestamps, and it only moves when the engine moves it:
  ``advance_to`` never goes backwards, so a wait of one year costs no real time.
- Real time never moves the virtual clock. During an invocation the virtual clock stands
  still: everything the handler does between two checkpoints takes no virtual time, however
  long it takes in real time (a slow step, a stall, a loaded machine, a cold start).
- ``SdkFrame`` translates service timestamps into the SDK's real-time frame for one
  response. The SDK compares ``NextAttemptTimestamp`` and its resume times with the real
  ``datetime.now``/``time.time``. Each response the service sends (the invocation's
  initial state, every checkpoint response, every state page) maps "virtual now" onto
  "real now at that response", so a timer ``d`` virtual seconds away is, to the SDK,
  ``d`` real seconds away from the moment it learns of it: time the handler spent before
  the response does not shorten it. When the SDK's real clock passes a time it was told
  while the virtual clock has not (a map branch waiting in-process while a sibling runs),
  the service re-sends that operation with a fresh mapping (``Service`` tracks what it
  promised), so the two never disagree and the SDK never busy-waits on a stale timestamp.
"""

from __future__ import annotations

import datetime
import functools
import time
from dataclasses import dataclass, field

#: 2026-01-01T00:00:00Z. Any fixed instant works; a fixed one makes histories byte-identical.
DEFAULT_EPOCH_MS = 1_767_225_600_000


@functools.lru_cache(maxsize=1024)
def ms_to_datetime(ms: int) -> datetime.datetime:
    """Convert epoch milliseconds to an aware UTC datetime (the shape boto3 returns).

    Cached: virtual time stands still during an invocation, so every event of an invocation has
    the same instant (datetimes are immutable; sharing one is safe)."""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


class VirtualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start_ms: int = DEFAULT_EPOCH_MS) -> None:
        self._now_ms = start_ms

    @property
    def now_ms(self) -> int:
        """The current virtual time in epoch milliseconds."""
        return self._now_ms

    def now(self) -> datetime.datetime:
        """The current virtual time as an aware UTC datetime."""
        return ms_to_datetime(self._now_ms)

    def advance_to(self, ms: int) -> None:
        """Move the clock forward to ``ms``; an earlier ``ms`` is ignored (time never runs back)."""
        if ms > self._now_ms:
            self._now_ms = ms

    def advance_by(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError(f"cannot advance the virtual clock by a negative duration ({seconds}s)")
        self._now_ms += round(seconds * 1000)


@dataclass(frozen=True)
class SdkFrame:
    """Anchors the virtual now to the real time the SDK reads, for one service response."""

    virtual_anchor_ms: int
    real_anchor_s: float
    #: datetimes already made for this frame (a response's operations mostly share one instant)
    _made: dict[int, datetime.datetime] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def start(cls, clock: VirtualClock) -> SdkFrame:
        """Anchor ``clock.now`` to the real now."""
        return cls(virtual_anchor_ms=clock.now_ms, real_anchor_s=time.time())

    def to_real_s(self, virtual_ms: int) -> float:
        """The real epoch seconds this frame maps a virtual timestamp to."""
        return self.real_anchor_s + (virtual_ms - self.virtual_anchor_ms) / 1000

    def to_sdk(self, virtual_ms: int) -> datetime.datetime:
        """The real-frame datetime the SDK should see for a virtual timestamp."""
        made = self._made.get(virtual_ms)
        if made is None:
            made = datetime.datetime.fromtimestamp(self.to_real_s(virtual_ms), tz=datetime.UTC)
            self._made[virtual_ms] = made
        return made
