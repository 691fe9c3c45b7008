"""Counts read as English in reports: "1 time", "1 violation", "1 example" (trial: "happened 1 times")."""

from __future__ import annotations

from pathlib import Path

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import check, effect
from chaosdurable.checks.base import plural
from chaosdurable.report.model import RunReport, TargetReport
from chaosdurable.report.write import write_reports


def test_plural() -> None:
    assert [plural(n, "time") for n in (0, 1, 2)] == ["0 times", "1 time", "2 times"]
    assert plural(1, "retry", "retries") == "1 retry" and plural(3, "retry", "retries") == "3 retries"


@durable_execution
def mails_outside_a_step(event: dict[str, str], context: DurableContext) -> str:
    """Bug: the mail is sent outside any step (once here: the handler has no replay)."""
    effect("mail", key="m-1")
    return str(context.step(lambda _: "done", name="finish"))


def test_a_report_with_one_violation_and_one_effect_says_so_in_the_singular() -> None:
    verdict = check(mails_outside_a_step, {})
    (finding,) = verdict.violations
    assert "(1 time in the fault-free run, 1 under faults" in finding.message, finding.message
    report = verdict.report()
    assert report.splitlines()[0].endswith(": 1 violation"), report
    assert "1 times" not in report and "(s)" not in report.splitlines()[0]


def test_junit_and_html_count_in_the_singular(tmp_path: Path) -> None:
    report = RunReport(targets=[TargetReport("planted", "m:h", expected="fail", examples=1)])
    written = write_reports(report, tmp_path)
    junit = written["junit"].read_text()
    assert "the planted bug was not found in 1 example" in junit and "1 examples" not in junit
    html = written["html"].read_text()
    assert "1 of 1 target did not meet" in html and "target(s)" not in html, html
    assert "1 example ·" in html and "0 faults injected" in html
