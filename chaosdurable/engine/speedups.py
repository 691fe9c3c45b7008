"""Semantics-neutral speed-ups for the SDK, applied in-process only, never in faithful mode.

Why: an unmodified SDK invocation costs ~100 ms because its checkpoint thread polls its
stop flag every 100 ms, plus ~1 ms per synchronous checkpoint for a batching window
(notes §5.4). Two patches remove that cost without changing what is checkpointed:

- ``wake_on_stop``: after ``ExecutionState.stop_checkpointing`` sets the stop flag, put the
  SDK's own no-op ``_Signal.REFRESH_WAKE`` on the queue so the batcher sees the flag at once.
- ``flush_sync_batches``: ``state._BLOCKED_CALLER_WAIT_SECONDS = 0``; a batch that holds a
  synchronous caller is sent at once instead of after 1 ms. Checkpoint contents and order
  per operation are unchanged; only how updates are grouped into calls can differ.

Guards: each patch checks the SDK version (3.x) and that every attribute it touches exists
with the expected shape; otherwise it is skipped and ``status()`` says why. Patches are
installed once per process but act only while ``active(True)`` is in force, so a faithful
runner in the same process gets the SDK's original behaviour.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_installed = False
_skipped: dict[str, str] = {}
_state_module: Any = None
_original_blocked_wait: float | None = None


def _sdk_version() -> str:
    try:
        from aws_durable_execution_sdk_python.__about__ import __version__
    except ImportError:  # pragma: no cover - SDK layout changed
        return "unknown"
    return str(__version__)


def install() -> dict[str, str]:
    """Install the patches once (idempotent). Returns {patch: "installed" | reason skipped}."""
    global _installed, _state_module, _original_blocked_wait
    with _lock:
        if _installed:
            return status()
        _installed = True
        version = _sdk_version()
        if not version.startswith("3."):
            _skipped["wake_on_stop"] = _skipped["flush_sync_batches"] = f"SDK {version} is not 3.x"
            return status()
        from aws_durable_execution_sdk_python import state

        _state_module = state
        cls = getattr(state, "ExecutionState", None)
        signal = getattr(getattr(state, "_Signal", None), "REFRESH_WAKE", None)
        original_stop = getattr(cls, "stop_checkpointing", None)
        if cls is None or signal is None or original_stop is None:
            _skipped["wake_on_stop"] = "ExecutionState.stop_checkpointing or _Signal.REFRESH_WAKE not found"
        else:

            def stop_checkpointing(self: Any) -> None:
                original_stop(self)
                if not _ActiveFlag.on:
                    return
                lock = getattr(self, "_completion_lock", None)
                queue = getattr(self, "_checkpoint_queue", None)
                if lock is None or queue is None or not hasattr(self, "_refresh_wake_enqueued"):
                    return
                with lock:
                    if not self._refresh_wake_enqueued:
                        self._refresh_wake_enqueued = True
                        queue.put(signal)

            stop_checkpointing.__wrapped__ = original_stop  # type: ignore[attr-defined]
            cls.stop_checkpointing = stop_checkpointing
        blocked = getattr(state, "_BLOCKED_CALLER_WAIT_SECONDS", None)
        if not isinstance(blocked, float):
            _skipped["flush_sync_batches"] = "state._BLOCKED_CALLER_WAIT_SECONDS not found"
        else:
            _original_blocked_wait = blocked
        return status()


def status() -> dict[str, str]:
    """Which patches are installed, and why any were skipped."""
    out = {}
    for name in ("wake_on_stop", "flush_sync_batches"):
        out[name] = _skipped.get(name, "installed" if _installed else "not installed")
    return out


@contextlib.contextmanager
def active(enabled: bool) -> Iterator[None]:
    """Turn the patches on (or off) while the block runs.

    The SDK runs handlers on its own threads, so the switch is process-wide while held;
    the engine runs one invocation at a time, which makes that safe.
    """
    if enabled:
        install()
    previous = _ActiveFlag.on
    _set(enabled)
    try:
        yield
    finally:
        _set(previous)


def _set(enabled: bool) -> None:
    _ActiveFlag.on = enabled
    if _state_module is not None and _original_blocked_wait is not None and "flush_sync_batches" not in _skipped:
        _state_module._BLOCKED_CALLER_WAIT_SECONDS = 0.0 if enabled else _original_blocked_wait


class _ActiveFlag:
    """Process-wide switch read by the patched SDK methods."""

    on = False
