"""A run the shell cannot give its HTTP mock ends with exit 2 and says how to rerun it (trial finding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdurable.cli import EXIT_USAGE, main


def test_check_of_a_handler_whose_http_is_refused_is_a_usage_error_with_a_hint(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tests.cli_http_handlers:notifies", "--input", "{}"])
    out = capsys.readouterr().out
    assert code == EXIT_USAGE, out
    assert "chaosdurable refused them" in out and "POST pay.example.test/charge" in out
    assert "an HTTP mock" in out and "cannot be given" in out
    assert "Traceback" not in out


def test_replay_of_a_failure_found_with_an_http_mock_says_the_same(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "failure.json"
    saved.write_text(json.dumps({"handler": "tests.cli_http_handlers:notifies", "payload": "{}",
                                 "schedule": {"faults": []}, "mode": "inprocess"}))
    code = main(["replay", str(saved)])
    out = capsys.readouterr().out
    assert code == EXIT_USAGE, out
    assert "cannot be given" in out
