"""``chaosdurable run``: exit codes, plain output, saved failures, reports, workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdurable.cli import main
from chaosdurable.scenarios import catalog

ORDER = '{"order": "o-1"}'


def run(tmp_path: Path, *args: str) -> int:
    """``chaosdurable run`` writing into ``tmp_path``, seeded, one worker unless said otherwise."""
    workers = [] if "--workers" in args else ["--workers", "1"]
    return main(["run", *args, *workers, "--seed", "3", "--report", str(tmp_path / "report"),
                 "--failures", str(tmp_path / "failures"), "--database", str(tmp_path / "examples")])


def test_a_planted_bug_in_a_users_handler_is_found_shrunk_and_saved(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "tests.search.handlers:pay_twice", "--input", ORDER, "--examples", "30") == 1
    out = capsys.readouterr().out
    assert "[idempotency] effect 'charge' (key 'o-1') happened 2 times" in out
    assert "FAIL (1 failed;" in out and "violations in: tests.search.handlers:pay_twice" in out
    saved = list((tmp_path / "failures").glob("*.json"))
    assert len(saved) == 1
    spec = json.loads(saved[0].read_text())
    assert spec["handler"] == "tests.search.handlers:pay_twice"
    assert [f["kind"] for f in spec["schedule"]["faults"]] == ["crash_after_effect"]  # shrunk to the one fault
    assert f"chaosdurable replay {saved[0]}" in out
    assert main(["replay", str(saved[0])]) == 1  # the saved failure reproduces


def test_the_correct_twin_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "tests.search.handlers:pay_once", "--input", ORDER, "--examples", "25") == 0
    out = capsys.readouterr().out
    assert "OK: every expectation met" in out
    assert "OK: every expectation met (1 passed; 25 runs in" in out
    assert not (tmp_path / "failures").exists()


def test_output_is_plain_lines_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "tests.search.handlers:pay_once", "--input", ORDER, "--examples", "5") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("searching 1 target: 5 examples each")
    assert any(line.startswith("passed   tests.search.handlers:pay_once: 5 runs") for line in lines)
    assert not any("\x1b[" in line or "━" in line for line in lines)  # no live table, no escapes
    assert all(len(line) <= 100 for line in lines if str(tmp_path) not in line)


@pytest.mark.parametrize(("args", "message"), [
    (["tests/search/no_such_file.py"], "no such file"),
    (["tests.search.no_such_module:handler", "--input", "1"], "cannot import 'tests.search.no_such_module'"),
    (["tests.search.handlers:nothing_here", "--input", "1"], "has no 'nothing_here'"),
    (["tests.search.handlers:not_durable", "--input", "1"], "decorate it with @durable_execution"),
    (["tests.search.handlers:pay_once"], "give its input, --input JSON"),
    (["no-such-scenario"], "is not a bundled scenario"),
    (["tests.search.handlers:pay_once", "--input", "{nope"], "--input is not JSON"),
    (["tests.search.handlers:pay_once", "--input", "1", "--backend", "aws"], "--backend aws needs --aws-function"),
    (["tests.search.handlers:pay_once", "--input", "1", "--backend", "aws", "--aws-function",
      "arn:aws:lambda:us-east-1:123456789012:function:pay"], "--backend aws refused"),
])
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             message: str) -> None:
    assert run(tmp_path, *args) == 2
    assert message in capsys.readouterr().out


def test_a_fault_free_run_that_fails_tests_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "tests.search.handlers:always_fails", "--input", "{}", "--examples", "5") == 3
    out = capsys.readouterr().out
    assert "nothing was tested: the fault-free run of tests.search.handlers:always_fails" in out
    assert "NOTHING TESTED" in out


def test_no_target_at_all_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "SCENARIO_MODULES", ())
    assert run(tmp_path) == 3
    assert "nothing to test" in capsys.readouterr().out


def test_every_bundled_variant_buggy_caught_correct_passed_reports_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "SCENARIO_MODULES", ("tests.search.mini_scenario",))
    assert run(tmp_path, "--examples", "20", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "caught   mini-pay/double-charge" in out
    assert "passed   mini-pay/correct" in out
    assert "mini-pay/double-charge: caught (the charge has no idempotency key" in out
    assert "OK: every expectation met (1 caught, 1 passed;" in out
    for name in ("report.html", "report.json", "junit.xml"):
        assert (tmp_path / "report" / name).is_file()
    body = json.loads((tmp_path / "report" / "report.json").read_text())
    assert "mini-pay/double-charge" in json.dumps(body)


def test_a_missed_planted_bug_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # one example, the empty schedule: the double charge cannot show, so the planted bug is missed
    assert run(tmp_path, "tests/search/mini_scenario.py", "--examples", "1") == 1
    out = capsys.readouterr().out
    assert "MISSED" in out and "planted bugs not caught: mini-pay/double-charge" in out


def test_demo_finds_shrinks_and_explains_a_planted_bug(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "SCENARIO_MODULES", ("tests.search.mini_scenario",))
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "planted bug: the charge has no idempotency key" in out
    assert "the smallest schedule that still breaks it:" in out
    assert "crash right after effect 'charge'" in out
    assert "[idempotency] effect 'charge'" in out
    assert "chaosdurable replay .chaosdurable/failures/demo.mini-pay.double-charge.json" in out
    assert main(["demo", "mini-pay/correct"]) == 2  # not a buggy variant


def test_operations_hit_never_exceed_the_operations_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # each input has operations of its own: the count is over every input's fault-free run, not the largest one
    assert run(tmp_path, "tests.search.handlers:ship_items", "--inputs", "tests.search.handlers:item_inputs",
               "--examples", "40") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("passed   tests.search"))
    hit, seen = (int(n) for n in line.split("ops ")[1].split(",")[0].split("/"))
    assert hit <= seen and seen == 6, line
