"""``junit.xml``: one JUnit test case per target, for CI dashboards (GitLab, Jenkins, GitHub annotations).

Contract: one ``<testsuite name="chaosdurable">`` in a ``<testsuites>`` root. A target that met its
expectation passes (a planted bug that was caught passes too, with its report in ``system-out``);
a target whose search could not run is an ``<error>``; any other unmet expectation is a
``<failure>`` whose text is the verdict in words and the replay command.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from chaosdurable.checks.base import plural
from chaosdurable.report.model import RunReport, TargetReport


def _why(target: TargetReport) -> str:
    """One line: why a target did not meet its expectation."""
    if target.examples == 0:
        return "nothing was tested (0 examples ran)"
    if target.expected == "fail" and not target.found_bug:
        return f"the planted bug was not found in {plural(target.examples, 'example')}"
    count = len(target.failures)
    return f"{plural(count, 'failing schedule')} found in {plural(target.examples, 'example')}"


def _details(target: TargetReport) -> str:
    parts = []
    for verdict in target.failures:
        parts.append(verdict.report())
        parts.append(f"replay: {verdict.replay_command()}")
    parts += [f"saved: chaosdurable replay {path}" for path in target.saved]
    return "\n\n".join(parts)


def testcase(target: TargetReport) -> ET.Element:
    """The ``<testcase>`` of one target."""
    module = target.handler.rsplit(":", 1)[0].rsplit(".", 1)[0] if target.handler else "chaosdurable"
    case = ET.Element("testcase", {"classname": f"chaosdurable.{module}", "name": target.name,
                                   "time": f"{target.elapsed_s:.3f}"})
    if target.error is not None:
        error = ET.SubElement(case, "error", {"message": target.error.splitlines()[0] if target.error else "error",
                                              "type": "SearchError"})
        error.text = target.error
    elif not target.met_expectation:
        failure = ET.SubElement(case, "failure", {"message": _why(target), "type": "ChaosViolation"})
        failure.text = _details(target) or _why(target)
    elif target.failures:
        out = ET.SubElement(case, "system-out")
        out.text = f"expected failure found: {_why(target)}\n\n{_details(target)}"
    return case


def render_junit(report: RunReport) -> str:
    """``junit.xml``'s text."""
    cases = [testcase(t) for t in report.targets]
    failures = sum(c.find("failure") is not None for c in cases)
    errors = sum(c.find("error") is not None for c in cases)
    attrs = {"name": "chaosdurable", "tests": str(len(cases)), "failures": str(failures), "errors": str(errors),
             "skipped": "0", "time": f"{report.elapsed_s:.3f}"}
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    for name, value in (("seed", report.seed), ("backend", report.backend), ("profile", report.profile),
                        ("command", report.command)):
        ET.SubElement(props, "property", {"name": name, "value": "" if value is None else str(value)})
    suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
