"""``write_reports``: the three files of a run or a pytest session, in one directory.

Contract: ``write_reports(report, directory)`` creates ``directory`` if needed, writes
``report.html`` (self-contained, offline), ``report.json`` (schema in ``json_report``) and
``junit.xml``, replacing earlier ones, and returns their paths keyed ``"html"``, ``"json"``,
``"junit"``. It reads only the ``RunReport``; it never reruns anything.
"""

from __future__ import annotations

from pathlib import Path

from chaosdurable.report.html import render_html
from chaosdurable.report.json_report import render_json
from chaosdurable.report.junit import render_junit
from chaosdurable.report.model import RunReport

FILES = {"html": "report.html", "json": "report.json", "junit": "junit.xml"}


def write_reports(report: RunReport, directory: str | Path) -> dict[str, Path]:
    """Write report.html, report.json and junit.xml for ``report`` into ``directory``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"html": render_html(report), "json": render_json(report), "junit": render_junit(report)}
    paths = {}
    for key, text in texts.items():
        path = folder / FILES[key]
        path.write_text(text, encoding="utf-8")
        paths[key] = path
    return paths
