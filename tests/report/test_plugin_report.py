"""``pytest --chaos-report DIR``: a real pytest session (in a fresh process) writes the three files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

PROPERTIES = '''
from aws_durable_execution_sdk_python import durable_execution
import chaosdurable
from chaosdurable import effect


@durable_execution
def pay(event, context):
    def charge(_):
        effect("charge", key=event["order"])
        return "charged"
    return context.step(charge, name="charge")


@durable_execution
def pay_idempotently(event, context):
    def charge(_):
        effect("charge", key=event["order"], idempotent=True)
        return "charged"
    return context.step(charge, name="charge")


@chaosdurable.given(handler=pay, input={"order": "o-1"})
def test_pay():
    pass


@chaosdurable.given(handler=pay_idempotently, input={"order": "o-1"})
def test_pay_idempotently():
    pass
'''


def test_chaos_report_option_writes_html_json_and_junit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTIES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "3",
                                           "--chaos-report", "reports")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*chaosdurable report: reports*report.html*"])
    data = json.loads((pytester.path / "reports" / "report.json").read_text())
    targets = {t["name"]: t for t in data["targets"]}
    assert set(targets) == {"test_chaos.py::test_pay", "test_chaos.py::test_pay_idempotently"}
    failing, passing = targets["test_chaos.py::test_pay"], targets["test_chaos.py::test_pay_idempotently"]
    (failure,) = failing["failures"]  # the shrunk one: one fault on the charge
    assert failure["violations"][0]["checker"] == "idempotency" and len(failure["schedule"]["faults"]) == 1
    assert failing["saved"] and failing["saved"][0].endswith("test_chaos.test_pay.json")
    assert passing["failures"] == [] and passing["examples"] >= 10 and passing["coverage"]
    assert data["ok"] is False
    suite = ET.parse(pytester.path / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    html = (pytester.path / "reports" / "report.html").read_text()
    assert html.count('<rect class="box') >= 2 and "test_chaos.py::test_pay" in html
