"""A failure found with no fault at all (trial b15: a step named after the clock, read outside a step) is
saved like any other, by ``given()`` and by ``chaosdurable run``, and ``chaosdurable replay FILE`` reproduces
it: exit 1 and the same finding. In the trial, ``given()`` raised without saving, and a replay of such a file
said "nothing was tested" (exit 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chaosdurable.cli import main

FINDING = "[determinism] the SDK detected a non-deterministic replay in the fault-free run"
TENANT = '{"tenant": "acme"}'
ROOT = Path(__file__).resolve().parents[2]

PROPERTIES = '''
import chaosdurable
from tests.checks import timestamp_handlers


@chaosdurable.given(timestamp_handlers.step_name_from_clock, {"tenant": "acme"})
def test_stamped():
    pass


@chaosdurable.given(timestamp_handlers.step_name_from_a_step, {"tenant": "acme"})
def test_stamped_in_a_step():
    pass
'''


def _replays(saved: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["replay", str(saved)]) == 1
    return capsys.readouterr().out


def test_given_saves_a_fault_free_failure_and_replay_reproduces_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(test_stamps=PROPERTIES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", timeout=300)
    result.assert_outcomes(passed=1, failed=1)  # the twin minting the stamp in a step passes
    out = result.stdout.str()
    assert FINDING in out, out
    saved = pytester.path / ".chaosdurable" / "failures" / "test_stamps.test_stamped.json"
    assert f"chaosdurable replay {saved.relative_to(pytester.path)}" in out, out
    spec = json.loads(saved.read_text())
    assert spec["schedule"] == {"faults": []}
    assert any(v.startswith(FINDING) for v in spec["violations"])
    monkeypatch.chdir(pytester.path)
    replayed = _replays(saved, capsys)
    assert FINDING in replayed and "nothing was tested" not in replayed, replayed


def test_run_saves_a_fault_free_failure_and_replay_reproduces_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "tests.checks.timestamp_handlers:step_name_from_clock", "--input", TENANT,
                 "--examples", "3", "--workers", "1", "--seed", "0", "--report", str(tmp_path / "report"),
                 "--failures", str(tmp_path / "failures"), "--database", "none"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert FINDING in out
    (saved,) = (tmp_path / "failures").glob("*.json")
    assert json.loads(saved.read_text())["schedule"] == {"faults": []}
    replayed = _replays(saved, capsys)
    assert FINDING in replayed and "nothing was tested" not in replayed, replayed
