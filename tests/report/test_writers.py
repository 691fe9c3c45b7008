"""report.json, junit.xml and the timeline model, read back from a RunReport built from real verdicts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from chaosdurable.report.json_report import SCHEMA
from chaosdurable.report.model import RunReport, TargetReport
from chaosdurable.report.timeline import HANDLER_ROW, build_timeline
from chaosdurable.report.write import write_reports


def test_write_reports_writes_three_files(run_report: RunReport, tmp_path: Path) -> None:
    paths = write_reports(run_report, tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {"html": "report.html", "json": "report.json",
                                                     "junit": "junit.xml"}
    html = paths["html"].read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # offline: nothing fetched
    assert "https://" not in html
    assert paths["html"].stat().st_size < 400_000


def test_json_follows_the_documented_schema(run_report: RunReport, tmp_path: Path) -> None:
    data = json.loads(write_reports(run_report, tmp_path)["json"].read_text())
    assert data["schema"] == SCHEMA and data["ok"] is False  # orders/enqueue was expected to pass
    assert data["summary"] == {"targets": 4, "met": 3, "failed": 1, "errors": 0, "bugs_found": 3,
                               "examples": 38, "faults_injected": 36}
    email, charge, sqs, clean = data["targets"]
    assert (email["expected"], email["met_expectation"], email["found_bug"]) == ("fail", True, True)
    (failure,) = charge["failures"]
    assert set(failure) == {"handler", "schedule", "schedule_in_words", "fired", "not_reached", "violations",
                            "first_divergence", "world_diff", "reference", "chaotic", "timeline",
                            "replay_command", "replay_snippet", "report"}
    assert failure["schedule"] == {"faults": [{"effect": "charge", "kind": "crash_after_effect"}]}
    assert failure["violations"][0]["checker"] == "idempotency"
    assert failure["chaotic"]["invocations"] == 2 and failure["reference"]["invocations"] == 1
    assert failure["replay_command"].startswith("chaosdurable check tests.checks.handlers:charges_at_least_once")
    assert sqs["failures"][0]["world_diff"] == [{"resource": "sqs:orders", "added": ["order ord-1 paid"],
                                                 "removed": []}]
    assert clean["failures"] == [] and clean["met_expectation"] is True
    assert {"operation": "ship", "fault_kind": "checkpoint_error", "count": 1} in clean["coverage"]


def test_junit_fails_only_unmet_expectations(run_report: RunReport, tmp_path: Path) -> None:
    root = ET.parse(write_reports(run_report, tmp_path)["junit"]).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "0")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["orders/enqueue"].find("failure")
    assert failure is not None and "sqs:orders: + order ord-1 paid" in (failure.text or "")
    assert cases["zoo/double-charge"].find("failure") is None  # a planted bug, caught: a pass
    assert "expected failure found" in (cases["zoo/double-charge"].findtext("system-out") or "")
    assert list(cases["orders/clean"]) == []


def test_junit_reports_a_missed_bug_and_a_search_error(tmp_path: Path) -> None:
    report = RunReport(targets=[TargetReport("planted", "m:h", expected="fail", examples=50),
                                TargetReport("broken", "m:g", error="ImportError: no module named m")])
    root = ET.parse(write_reports(report, tmp_path)["junit"]).getroot()
    planted, broken = root.iter("testcase")
    assert planted.find("failure") is not None
    assert "planted bug was not found in 50 examples" in (planted.find("failure").get("message") or "")  # type: ignore[union-attr]
    assert broken.find("error") is not None
    assert "nothing tested" in write_reports(RunReport(targets=[TargetReport("t", "m:h")]), tmp_path)[
        "html"].read_text()


def test_timeline_places_the_lost_step_the_fault_and_the_repeat(run_report: RunReport) -> None:
    verdict = run_report.targets[1].failures[0]  # the double charge
    timeline = build_timeline(verdict)
    assert [lane.outcome for lane in timeline.lanes] == ["crashed", "returned"]
    charge = next(row for row in timeline.rows if row.label == "step charge")
    lost, done = timeline.cells[(charge.key, 1)], timeline.cells[(charge.key, 2)]
    assert (lost.status, len(lost.effects), len(lost.faults)) == ("lost", 1, 1)
    assert (done.status, done.checkpoints) == ("succeeded", [("START", True), ("SUCCEED", True)])
    assert "idempotency" in charge.highlight
    reference = build_timeline(verdict, "reference")
    assert [lane.outcome for lane in reference.lanes] == ["returned"] and reference.boxes() == 1


def test_timeline_of_effects_outside_steps(run_report: RunReport) -> None:
    timeline = build_timeline(run_report.targets[0].failures[0])  # the e-mail sent by handler code
    handler = [timeline.cells[(HANDLER_ROW, lane.index)].status for lane in timeline.lanes]
    assert handler == ["ran", "ran", "ran"]
    statuses = {row.label: [timeline.cells.get((row.key, lane.index)) for lane in timeline.lanes]
                for row in timeline.rows}
    assert [c.status if c else "" for c in statuses["wait pause"]] == ["started", "replayed", "replayed"]
    assert [c.status if c else "" for c in statuses["step finish"]] == ["", "lost", "succeeded"]


def test_session_reports_count_examples_and_keep_the_last_failure(run_report: RunReport) -> None:
    from chaosdurable.report.collect import SessionReports

    email, charge = run_report.targets[0].failures[0], run_report.targets[1].failures[0]
    reports = SessionReports()
    for verdict in (email, charge):
        reports.record("t::p", object, verdict)
    reports.failed("t::p", email, "a.json")
    reports.failed("t::p", charge, "b.json")  # the shrunk one comes last and wins
    reports.failed("t::never-ran", charge)  # ignored: no example of it was recorded
    (target,) = reports.run_report(seed=1, backend="inprocess", profile="dev").targets
    assert (target.examples, target.invocations, target.faults_injected) == (2, 5, 2)
    assert target.coverage == {("finish", "crash_at_checkpoint"): 1, ("charge", "crash_after_effect"): 1}
    assert target.failures == [charge] and target.saved == ["b.json"]
