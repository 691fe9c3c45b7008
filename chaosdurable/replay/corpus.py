"""A corpus of recorded histories: saving them, and one pytest test per saved history.

Contract:
- ``save(source, folder)`` writes replayable history files and returns their paths. ``source``
  is a ``Verdict`` (its fault-free and chaotic runs), a ``RunRecord``, an ``ExecutionResult``,
  a ``GetDurableExecutionHistory`` response (or a list of its pages, e.g. what boto3's
  paginator yields) or a list of events. Each file is one page ``{"Events": [...]}`` plus a
  ``"chaosdurable"`` key (handler, label, ARN) that readers of the boto3 shape ignore. A file's
  name ends with a hash of its events, so saving the same history twice writes one file.
- ``parametrize_histories(folder)`` is a ``pytest.mark.parametrize`` mark with one param per
  ``*.json`` in ``folder`` (sorted; the id is the file's stem). An empty or missing folder is an
  error at collection, naming the folder and how to fill it, unless ``allow_empty=True``.
- ``assert_replays(history, handler)`` raises ``AssertionError`` carrying the replay report
  unless every history replays identically.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chaosdurable.replay.load import HistoryError, events_of

#: the key under which a saved file keeps what chaosdurable knows of the run
META_KEY = "chaosdurable"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return aware.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "history"


def _runs(source: Any) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """(label, events, meta) of every run ``source`` holds."""
    if hasattr(source, "reference") and hasattr(source, "chaotic"):  # a Verdict
        return [run for record in (source.reference, source.chaotic) for run in _runs(record)]
    if hasattr(source, "history") and hasattr(source, "label"):  # a RunRecord
        meta = {"handler": getattr(source, "handler", ""), "label": source.label, "arn": getattr(source, "arn", "")}
        return [(source.label or "run", list(source.history), meta)]
    if hasattr(source, "history") and hasattr(source, "arn"):  # an ExecutionResult
        return [("execution", list(source.history), {"arn": source.arn, "status": source.status})]
    events, meta = events_of(source if not isinstance(source, Mapping) else dict(source), "<history to save>")
    return [(str(meta.get(META_KEY, {}).get("label", "history")), events, {})]


def save(source: Any, folder: str | Path = "replay-corpus", *, name: str | None = None,
         handler: str | None = None) -> list[Path]:
    """Write every history ``source`` holds into ``folder`` (see the module docstring)."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for label, events, meta in _runs(source):
        if not events:
            continue
        body = json.dumps(events, sort_keys=True, default=_plain)
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        info = {k: v for k, v in {**meta, "handler": handler or meta.get("handler"), "label": label}.items() if v}
        document = {"Events": json.loads(body), META_KEY: {"version": 1, **info}}
        stem = _slug(f"{name or (info.get('handler') or 'history').split(':')[-1]}-{label}")
        path = directory / f"{stem}-{digest}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


def history_files(folder: str | Path) -> list[Path]:
    """The ``*.json`` files of ``folder``, sorted (an empty list for a missing folder)."""
    directory = Path(folder)
    return sorted(p for p in directory.glob("*.json") if p.is_file()) if directory.is_dir() else []


def parametrize_histories(folder: str | Path, *, argname: str = "history", allow_empty: bool = False) -> Any:
    """A ``pytest.mark.parametrize`` mark: one test per saved history in ``folder``."""
    import pytest

    files = history_files(folder)
    if not files and not allow_empty:
        raise HistoryError(
            f"no histories in {folder}: build the corpus first (chaosdurable.replay.save(verdict_or_result, "
            f"{str(folder)!r}), or save GetDurableExecutionHistory exports there), or pass allow_empty=True")
    return pytest.mark.parametrize(argname, [pytest.param(p, id=p.stem) for p in files])


def assert_replays(history: Any, handler: Callable[..., Any] | str, **options: Any) -> None:
    """Raise ``AssertionError`` with the report unless ``history`` replays identically under ``handler``."""
    from chaosdurable.replay.api import replay_history

    report = replay_history(history, handler, **options)
    if not report.ok:
        raise AssertionError(report.report())
