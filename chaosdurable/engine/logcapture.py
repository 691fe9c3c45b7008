"""Capture what a handler logs, for log assertions (the conformance suite's ExpectedLogs).

Records logged through the SDK's durable loggers (they carry ``executionArn``) become
``{"message": ..., **extras}``; lines printed to stdout become the JSON object they hold,
or ``{"message": line}``. Capture is process-wide while active; the engine runs one
invocation at a time, so records arrive in order.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def parse_line(line: str) -> dict[str, Any]:
    """A printed line as a log record."""
    text = line.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {"message": text}


class _Tee(io.TextIOBase):
    def __init__(self, sink: LogCapture) -> None:
        self._sink, self._buffer = sink, ""

    def write(self, text: str) -> int:
        with self._sink.lock:
            self._buffer += text
            while "\n" in self._buffer:
                line, self._buffer = self._buffer.split("\n", 1)
                if line.strip():
                    self._sink.records.append(parse_line(line))
        return len(text)

    def flush(self) -> None:
        return None


class _Handler(logging.Handler):
    def __init__(self, sink: LogCapture) -> None:
        super().__init__(logging.DEBUG)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if not hasattr(record, "executionArn"):
            return
        out: dict[str, Any] = {"message": record.getMessage(), "level": record.levelname}
        out.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS})
        with self._sink.lock:
            self._sink.records.append(out)


class LogCapture:
    """Collects records while ``capturing()`` is active."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def extend(self, records: list[dict[str, Any]]) -> None:
        """Add records captured elsewhere (a subprocess invocation)."""
        with self.lock:
            self.records.extend(records)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Route durable-logger records and stdout lines into ``records`` while the block runs."""
        root = logging.getLogger()
        handler = _Handler(self)
        level = root.level
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        original = sys.stdout
        sys.stdout = _Tee(self)
        try:
            yield
        finally:
            sys.stdout = original
            root.removeHandler(handler)
            root.setLevel(level)
