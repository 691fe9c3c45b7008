"""``replay_history``: replay recorded histories against the current handler code.

Contract: ``replay_history(history, handler)`` reads every history ``history`` names (a file, a
folder of ``*.json``, an execution ARN, a parsed ``GetDurableExecutionHistory`` response or a
list of its pages; see ``load``), rebuilds each one's checkpointed state (``rebuild``), runs
``handler`` once against it on the engine with no side effects (``session``) and compares
(``compare``). It returns a ``ReplayReport``: one ``HistoryReplay`` per history, each either
identical, diverging (``.divergence``) or unreadable (``.error``, with what to do about it).
A history that cannot be read never stops the others from being replayed. ``handler`` is a
``@durable_execution`` function or its ``"module:attribute"`` path; a handler that cannot be
loaded raises ``ValueError`` (a usage error, not a property of a history).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from chaosdurable.replay.compare import compare, continuation
from chaosdurable.replay.load import HistoryError, RecordedHistory, expand, load_one
from chaosdurable.replay.rebuild import rebuild
from chaosdurable.replay.report import HistoryReplay, ReplayReport
from chaosdurable.replay.session import run_replay

Handler = Callable[..., Any]


def resolve_handler(handler: Handler | str) -> Handler:
    """A handler from itself or from ``"module:attribute"`` (``ValueError`` naming what is missing)."""
    if not isinstance(handler, str):
        return handler
    module_name, _, attr = handler.partition(":")
    if not attr:
        raise ValueError(f"handler must be given as module:attribute, got {handler!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} ({exc}); run from the folder that holds it or put that "
                         "folder on PYTHONPATH") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


def _label(ref: Any) -> str:
    if isinstance(ref, RecordedHistory):
        return ref.source
    if isinstance(ref, Mapping | list):
        return "<history>"
    return str(ref)


def replay_one(history: RecordedHistory, handler: Handler,
               targets: Mapping[str, Handler] | None = None,
               fence: Mapping[str, Any] | None = None) -> HistoryReplay:
    """Replay one loaded history against ``handler`` (``fence``: see ``session.run_replay``)."""
    try:
        recorded = rebuild(history.events, history.source)
    except HistoryError as exc:
        return HistoryReplay(source=history.source, error=str(exc))
    replayed = run_replay(recorded, handler, targets=targets, fence=fence)
    divergence = compare(recorded, replayed)
    return HistoryReplay(source=history.source, divergence=divergence,
                         continuation=continuation(recorded, replayed) if divergence is None else "",
                         operations=len(recorded.ops) - 1, recorded_outcome=recorded.outcome,
                         refused=tuple(replayed.refused))


def replay_history(history: Any, handler: Handler | str, *, targets: Mapping[str, Handler | str] | None = None,
                   aws: Mapping[str, Any] | None = None, quiet: bool = True,
                   fence: Mapping[str, Any] | None = None) -> ReplayReport:
    """Replay every history in ``history`` against ``handler`` (see the module docstring).

    ``aws`` holds keyword options of ``replay.aws.fetch_history`` for execution ARNs
    (``client=``, ``allowlist=``, ``environ=``). ``quiet`` silences the SDK's logger while
    replaying (its replayed-operation logs are noise here). ``fence`` holds keyword options of
    ``replay.fence.fenced`` (``allow_real_aws``, ``allow_hosts``, ``http``): by default the handler's code
    outside steps reaches neither AWS (outside a moto world) nor the network while it replays.
    """
    fn = resolve_handler(handler)
    resolved = {name: resolve_handler(t) for name, t in (targets or {}).items()}
    try:
        refs = expand(history)
    except HistoryError as exc:
        return ReplayReport([HistoryReplay(source=_label(history), error=str(exc))])
    results: list[HistoryReplay] = []
    sdk_logger = logging.getLogger("aws_durable_execution_sdk_python")
    level = sdk_logger.level
    if quiet:
        sdk_logger.setLevel(logging.CRITICAL)
    try:
        for ref in refs:
            try:
                loaded = load_one(ref, aws)
            except HistoryError as exc:
                results.append(HistoryReplay(source=_label(ref), error=str(exc)))
                continue
            results.append(replay_one(loaded, fn, resolved, fence))
    finally:
        sdk_logger.setLevel(level)
    return ReplayReport(results)
