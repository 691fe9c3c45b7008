"""Reading histories: boto3 pages, unreadable files, histories without execution data, the CLI's exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosdurable.cli import main
from chaosdurable.replay import replay_history
from tests.replay import handlers

HANDLER = "tests.replay.handlers:v1"


def _pages(history: dict[str, Any], size: int) -> list[dict[str, Any]]:
    events = history["Events"]
    pages = [{"Events": events[i:i + size]} for i in range(0, len(events), size)]
    for number, page in enumerate(pages[:-1]):
        page["NextMarker"] = f"marker-{number + 1}"
    return pages


def _dump(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, default=lambda d: d.isoformat()))
    return path


def test_paged_export_replays_like_one_page(tmp_path: Path, completed: dict[str, Any]) -> None:
    pages = _pages(completed, 4)
    assert len(pages) >= 4
    file = _dump(tmp_path / "export.json", pages)
    assert replay_history(file, handlers.v1).ok
    report = replay_history(_dump(tmp_path / "export2.json", pages), handlers.renamed)
    assert report.divergence is not None and report.divergence.path == "fetch"


def test_export_missing_its_last_page_is_unreadable(tmp_path: Path, completed: dict[str, Any]) -> None:
    file = _dump(tmp_path / "cut.json", _pages(completed, 4)[:-1])
    report = replay_history(file, handlers.v1)
    assert report.exit_code == 2 and "NextMarker" in report.report() and "every page" in report.report()


def test_history_without_execution_data_gets_a_clear_error(tmp_path: Path) -> None:
    from chaosdurable.engine.runner import DurableRunner

    runner = DurableRunner(handlers.v1).register_function("scorer", handlers.scorer)
    arn = runner.start(handlers.INPUT)
    file = _dump(tmp_path / "bare.json", runner.get_execution_history(arn, include_execution_data=False))
    report = replay_history(file, handlers.v1)
    assert report.exit_code == 2
    assert "without execution data" in report.report() and "IncludeExecutionData=True" in report.report()


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "is not JSON"),
    ('{"hello": 1}', "is not a durable execution history"),
    ("[]", "is not a durable execution history"),
])
def test_unreadable_file_gets_a_clear_error(tmp_path: Path, content: str, words: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    report = replay_history(file, handlers.v1)
    assert report.exit_code == 2 and words in report.report() and str(file) in report.report()


def test_one_unreadable_file_does_not_hide_the_others(tmp_path: Path, completed: dict[str, Any]) -> None:
    _dump(tmp_path / "a-good.json", completed)
    (tmp_path / "b-bad.json").write_text("{")
    report = replay_history(tmp_path, handlers.v1)
    assert [r.ok for r in report.results] == [True, False] and report.exit_code == 2


def test_cli_exit_codes(tmp_path: Path, completed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    file = _dump(tmp_path / "done.json", _pages(completed, 5))
    assert main(["replay-history", str(file), "--handler", HANDLER]) == 0
    assert "replay identically" in capsys.readouterr().out
    assert main(["replay-history", str(file), "--handler", "tests.replay.handlers:longer_wait",
                 "--target", "scorer=tests.replay.handlers:scorer"]) == 1
    out = capsys.readouterr().out
    assert "'cool-down'" in out and handlers.line_of("wait").split("/")[-1] in out and "= 120" in out
    assert main(["replay-history", str(tmp_path / "missing.json"), "--handler", HANDLER]) == 2
    assert "no such file" in capsys.readouterr().out
    assert main(["replay-history", str(file), "--handler", "tests.replay.handlers:nope"]) == 2
    assert "has no attribute" in capsys.readouterr().out


def test_cli_folder_of_histories(tmp_path: Path, completed: dict[str, Any], in_flight: dict[str, Any],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _dump(tmp_path / "a.json", completed)
    _dump(tmp_path / "b.json", in_flight)
    assert main(["replay-history", str(tmp_path), "--handler", "tests.replay.handlers:new_result"]) == 1
    out = capsys.readouterr().out
    assert "DIVERGES" in out and "OK" in out and "2 histories: 1 replay identically, 1 diverge" in out
