"""Reading recorded histories: boto3 ``GetDurableExecutionHistory`` pages, chaosdurable files, folders.

Contract: ``load_histories(source)`` returns one ``RecordedHistory`` per history found, events
merged across pages in ``EventId`` order with timestamps as aware UTC datetimes. Anything it
cannot read raises ``HistoryError`` naming the file, what is wrong and how to fix it; nothing
here runs handler code. Accepted:

- ``{"Events": [...], "NextMarker": ...}`` (one page) or a list of such pages;
- a bare list of events (``ExecutionResult.history_json()``);
- a file written by ``save_history``/``save_verdict_histories`` (a page with a ``chaosdurable`` key);
- a folder: every ``*.json`` in it (sorted, not recursive), each one history;
- Python objects of those shapes (what boto3 returns, with ``datetime`` timestamps).

An execution ARN (``arn:aws:lambda:...:function:NAME[:QUALIFIER]/durable-execution/...``) is read
from AWS by ``replay.aws.fetch_history``, behind the AWS gate (``chaosdurable.deployed.safety``:
the ``CHAOSDURABLE_ALLOW_AWS=1`` switch and the account/function allowlist); ``aws`` passes that
function's keyword options (``client=``, ``allowlist=``, ``environ=``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class HistoryError(ValueError):
    """A history cannot be read or replayed as given (exit code 2 on the command line)."""


class NoExecutionDataError(HistoryError):
    """The history was exported without payloads (``IncludeExecutionData=False``)."""


@dataclass(frozen=True)
class RecordedHistory:
    """One execution's recorded history, ready to rebuild."""

    source: str
    events: tuple[dict[str, Any], ...]
    #: extra fields a chaosdurable file carries (handler, label, arn...)
    meta: dict[str, Any] = field(default_factory=dict)


def parse_timestamp(value: Any, where: str) -> datetime.datetime:
    """An aware UTC datetime from a datetime, epoch seconds (or ms) or an ISO-8601 text."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 100_000_000_000 else value
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    raise HistoryError(f"{where}: EventTimestamp {value!r} is not a timestamp (expected ISO-8601 text, epoch "
                       "seconds or a datetime)")


def _is_event(value: Any) -> bool:
    return isinstance(value, Mapping) and "EventType" in value


def _is_page(value: Any) -> bool:
    return isinstance(value, Mapping) and "Events" in value


def events_of(document: Any, source: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The events (merged across pages, in EventId order) and metadata of one parsed document."""
    if isinstance(document, Mapping) and {"handler", "payload", "schedule"} <= set(document):
        raise HistoryError(
            f"{source} is a saved check failure (written by Verdict.save or the pytest plugin): it records how "
            "to re-run a check, not a history. Rerun it with `chaosdurable replay FILE`; to keep the histories "
            "of a check, use chaosdurable.replay.save_verdict_histories(verdict, folder)."
        )
    if _is_page(document):
        pages: list[Any] = [document]
    elif isinstance(document, list) and document and all(_is_page(p) for p in document):
        pages = list(document)
    elif isinstance(document, list) and document and all(_is_event(e) for e in document):
        pages = [{"Events": document}]
    else:
        shape = type(document).__name__ if not isinstance(document, list | dict) else (
            "an empty list" if not document else f"a {type(document).__name__} without 'Events' or 'EventType'")
        raise HistoryError(
            f"{source} is not a durable execution history ({shape}). Expected the GetDurableExecutionHistory "
            'response {"Events": [...]} (or a list of its pages), or the JSON list ExecutionResult.history_json() '
            "writes."
        )
    meta: dict[str, Any] = {}
    by_id: dict[int, dict[str, Any]] = {}
    unnumbered: list[dict[str, Any]] = []
    for index, page in enumerate(pages):
        events = page.get("Events")
        if not isinstance(events, list):
            raise HistoryError(f"{source}: page {index + 1} has 'Events' that is not a list")
        for key, value in page.items():
            if key not in ("Events", "NextMarker", "ResponseMetadata"):
                meta.setdefault(key, value)
        for event in events:
            if not _is_event(event):
                raise HistoryError(f"{source}: page {index + 1} holds an event without an EventType: {event!r:.200}")
            copy = dict(event)
            copy["EventTimestamp"] = parse_timestamp(event.get("EventTimestamp"), source)
            event_id = event.get("EventId")
            if isinstance(event_id, int):
                by_id.setdefault(event_id, copy)  # overlapping pages repeat events: keep one
            else:
                unnumbered.append(copy)
    last_marker = pages[-1].get("NextMarker")
    if last_marker:
        raise HistoryError(
            f"{source} is incomplete: its last page has NextMarker {last_marker!r}, so more events follow. Export "
            "every page (boto3: client.get_paginator('get_durable_execution_history').paginate(...)) and save "
            "the list of pages."
        )
    merged = [by_id[k] for k in sorted(by_id)] + unnumbered
    if not merged:
        raise HistoryError(f"{source} holds no events")
    if merged[0]["EventType"] != "ExecutionStarted":
        raise HistoryError(
            f"{source} does not start with ExecutionStarted (it starts with {merged[0]['EventType']}): pages are "
            "missing from the front; export every page."
        )
    return merged, meta


def check_execution_data(events: list[dict[str, Any]], source: str) -> None:
    """Raise ``NoExecutionDataError`` when payloads were left out, ``HistoryError`` when truncated."""
    started = events[0].get("ExecutionStartedDetails") or {}
    if "Payload" not in (started.get("Input") or {}):
        raise NoExecutionDataError(
            f"{source} was recorded without execution data (no input or result payloads: "
            "GetDurableExecutionHistory was called with IncludeExecutionData=False, or "
            "runner.get_execution_history(include_execution_data=False)). Replay needs the step results to "
            "replay from; export it again with IncludeExecutionData=True."
        )
    for event in events:
        for key, details in event.items():
            if not key.endswith("Details") or not isinstance(details, Mapping):
                continue
            for part in ("Input", "Result", "Error"):
                value = details.get(part)
                if isinstance(value, Mapping) and value.get("Truncated"):
                    raise HistoryError(
                        f"{source}: event {event.get('EventId')} ({event['EventType']} {event.get('Name') or ''}) "
                        f"has a truncated {part} payload, so it cannot be replayed faithfully. Read that "
                        "operation's full payload with GetDurableExecutionState and put it into the export.")


def _load_file(path: Path) -> RecordedHistory:
    try:
        text = path.read_text()
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise HistoryError(f"{path} is not JSON ({exc}); pass a GetDurableExecutionHistory export or a file "
                           "written by ExecutionResult.history_json()") from None
    return from_document(document, str(path))


def from_document(document: Any, source: str = "<history>") -> RecordedHistory:
    """One history from a parsed document (see the module docstring for the shapes)."""
    events, meta = events_of(document, source)
    check_execution_data(events, source)
    return RecordedHistory(source=source, events=tuple(events), meta=meta)


def is_execution_arn(ref: Any) -> bool:
    """True for text that names a durable execution (or function) ARN rather than a file."""
    return isinstance(ref, str) and ref.startswith("arn:") and ":lambda:" in ref and not Path(ref).exists()


def expand(source: Any) -> list[Any]:
    """``source`` as a list of single history references: a folder becomes its sorted ``*.json`` files.

    A parsed document (a page, a list of pages or of events) stays one reference; any other
    iterable is expanded item by item. Raises ``HistoryError`` for a folder without histories.
    """
    if isinstance(source, RecordedHistory | Mapping):
        return [source]
    if isinstance(source, list) and source and all(isinstance(x, Mapping) for x in source):
        return [source]
    if isinstance(source, str | Path):
        path = Path(source)
        if not is_execution_arn(source) and path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
            if not files:
                raise HistoryError(f"{path} is a folder without any *.json history in it; save histories "
                                   "there with chaosdurable.replay.corpus.save(...) or export them")
            return files
        return [source]
    if isinstance(source, Iterable):
        return [ref for item in source for ref in expand(item)]
    raise HistoryError(f"{source!r} is not a history: pass a file, a folder, an execution ARN or a parsed "
                       "GetDurableExecutionHistory response")


def load_one(ref: Any, aws: Mapping[str, Any] | None = None) -> RecordedHistory:
    """One history from one reference that ``expand`` returned (a file, an ARN or a document)."""
    if isinstance(ref, RecordedHistory):
        return ref
    if isinstance(ref, Mapping | list):
        return from_document(ref)
    if is_execution_arn(ref):
        from chaosdurable.replay.aws import fetch_history

        return fetch_history(str(ref), **dict(aws or {}))
    path = Path(ref)
    if not path.exists():
        raise HistoryError(f"{path}: no such file or folder")
    return _load_file(path)


def load_histories(source: Any, aws: Mapping[str, Any] | None = None) -> list[RecordedHistory]:
    """Every history in ``source``: a path (file or folder), an execution ARN, or a parsed document."""
    return [load_one(ref, aws) for ref in expand(source)]
