"""Less work for the cyclic garbage collector (part of ``engine.speedups``; never in faithful mode).

One patch of ``aws_durable_execution_sdk_python.context.DurableContext`` (SDK 3.x), installed only when
the SDK's ``context`` and ``logger`` modules have exactly the source it was written against (a SHA-256 of
each module's source: any SDK change skips it, and ``speedups.status()`` says why), and acting only on a
context built while the speed-ups were active:

- ``acyclic_logger``: every ``DurableContext`` holds its ``Logger``, and the SDK gives that logger the
  context's bound method ``is_replaying`` as its replay-status source: a reference cycle (context ->
  logger -> bound method -> context) that leaves the context, and all it holds (the invocation's
  ``ExecutionState``, its operations, the service client and through it the emulated service), to the
  cyclic collector instead of reference counting (~100 objects per invocation). A context's replay status
  only ever goes from REPLAY to NEW (``__init__`` sets it, ``_set_replay_status_new`` is the one other
  place that assigns it, in either module), so once it is NEW, ``is_replaying()`` answers False for good.
  From that moment (at construction when the context starts NEW, else when the SDK sets it NEW) the
  context's own logger gets a plain function that returns False in place of the bound method, when that
  logger is still the SDK's ``Logger`` bound to this context's SDK ``is_replaying``. What changes: the
  logger no longer takes the context's replay-status lock to read a status that can no longer change; it
  logs or suppresses exactly the same lines. A context that never becomes NEW (an invocation killed while
  it replays) keeps the cycle, as does a logger set later with ``set_logger``.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

from chaosdurable.engine import speedups_checkpoint

PATCHES = ("acyclic_logger",)

#: SHA-256 (first 16 hex digits) of the whole source of the SDK modules the patch relies on, as in
#: aws-durable-execution-sdk-python 3.0.0 (where the replay status is assigned; how the logger reads it)
_EXPECTED = {
    "context": "cf298515fea5397c",
    "logger": "051655114f31a1f4",
}

#: process-wide switch (``speedups.active`` turns the speed-ups on; this one can be turned off alone)
ENABLED: dict[str, bool] = dict.fromkeys(PATCHES, True)


def _not_replaying() -> bool:
    """A NEW context's ``is_replaying()``: its status can no longer change."""
    return False


def fingerprints() -> dict[str, str | None]:
    """The source fingerprints of the SDK modules the patch relies on."""
    found: dict[str, str | None] = {}
    for name in _EXPECTED:
        try:
            module = __import__(f"aws_durable_execution_sdk_python.{name}", fromlist=["_"])
            found[name] = hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:16]
        except (ImportError, OSError, TypeError):
            found[name] = None
    return found


def install(skipped: dict[str, str]) -> None:
    """Install ``acyclic_logger`` on ``DurableContext``; record why in ``skipped`` when it is not."""
    found = fingerprints()
    changed = [name for name, digest in _EXPECTED.items() if found.get(name) != digest]
    if changed:
        skipped["acyclic_logger"] = (f"the SDK's {', '.join(changed)} module(s) differ from 3.0.0 (source checked)")
        return
    from aws_durable_execution_sdk_python.context import DurableContext, ReplayStatus
    from aws_durable_execution_sdk_python.logger import Logger

    original_init = DurableContext.__init__
    original_set_new = DurableContext._set_replay_status_new
    original_is_replaying = DurableContext.is_replaying
    new = ReplayStatus.NEW

    def settle(context: Any) -> None:
        """The context is NEW for good: its own logger stops calling back into it."""
        logger = context.__dict__.get("logger")
        source = getattr(logger, "_is_replaying", None)
        if (type(logger) is Logger and context._replay_status is new
                and getattr(source, "__self__", None) is context
                and getattr(source, "__func__", None) is original_is_replaying):
            logger._is_replaying = _not_replaying

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if speedups_checkpoint._ACTIVE[0] and ENABLED["acyclic_logger"]:
            self._cd_acyclic = True
            settle(self)

    def _set_replay_status_new(self: Any) -> None:
        original_set_new(self)
        if getattr(self, "_cd_acyclic", False):
            settle(self)

    __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
    _set_replay_status_new.__wrapped__ = original_set_new  # type: ignore[attr-defined]
    DurableContext.__init__ = __init__  # type: ignore[method-assign]
    DurableContext._set_replay_status_new = _set_replay_status_new  # type: ignore[method-assign]
