"""Fixtures: the environment a deployed function with the chaos layer would have, on temp paths."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deployed import bridge, handlers


@dataclass
class Deployed:
    """Paths and switches of one test's fake deployment."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def ledger(self) -> Path:
        return self.tmp / "ledger"

    @property
    def fired_dir(self) -> Path:
        return self.tmp / "fired"

    def runs(self) -> list[str]:
        """Every step body run so far, in order (from the ledger file)."""
        return self.ledger.read_text().split() if self.ledger.exists() else []

    def markers(self) -> list[str]:
        """Fire-once markers written so far (invocation counters excluded)."""
        if not self.fired_dir.exists():
            return []
        return sorted(p.name for p in self.fired_dir.iterdir() if "invocations" not in p.name)

    def schedule(self, *faults: dict[str, Any]) -> None:
        """Put a schedule in the function's environment."""
        self.monkeypatch.setenv("CHAOSDURABLE_SCHEDULE", json.dumps({"faults": list(faults)}))

    def load_plugin(self, on: bool = True) -> ModuleType:
        """Register the plugin the way a layer does (or not), and re-run the handlers' decorators."""
        if on:
            self.monkeypatch.setenv("DURABLE_EXECUTION_PLUGINS", "chaosdurable-faults")
        else:
            self.monkeypatch.delenv("DURABLE_EXECUTION_PLUGINS", raising=False)
        return importlib.reload(handlers)


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """Ledger and fire-once directory in ``tmp_path``; bridge credentials are fakes, endpoint 127.0.0.1."""
    monkeypatch.setenv(handlers.LEDGER_ENV, str(tmp_path / "ledger"))
    monkeypatch.setenv("CHAOSDURABLE_FIRE_ONCE_DIR", str(tmp_path / "fired"))
    monkeypatch.delenv("CHAOSDURABLE_SCHEDULE", raising=False)
    monkeypatch.delenv("CHAOSDURABLE_FAULTS_FROM_INPUT", raising=False)
    for key, value in bridge.BRIDGE_ENV.items():
        monkeypatch.setenv(key, value)
    yield Deployed(tmp_path, monkeypatch)
    monkeypatch.delenv("DURABLE_EXECUTION_PLUGINS", raising=False)
    importlib.reload(handlers)  # later tests get handlers decorated without the plugin


def error_events(history: dict[str, Any]) -> list[str]:
    """The error type of every invocation that ended in an error, in order."""
    out = []
    for event in history["Events"]:
        error = (event.get("InvocationCompletedDetails") or {}).get("Error")
        if event["EventType"] == "InvocationCompleted" and error:
            out.append(error["Payload"]["ErrorType"])
    return out

