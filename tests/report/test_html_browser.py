"""The HTML report in a real headless browser (Debian's Chromium, driven by Playwright).

Fails on any script error or console error, and on an empty timeline; saves the screenshots
that docs/reports.md shows (docs/img/report-failure.png, docs/img/report-coverage.png), so
they stay true. Skipped only when /usr/bin/chromium is missing outside CI; under CI it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosdurable.report.model import RunReport
from chaosdurable.report.write import write_reports

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("no /usr/bin/chromium (apt-get install chromium); under CI this test runs", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright") if not os.environ.get(
    "CI") else __import__("playwright.sync_api", fromlist=["sync_playwright"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium from Debian's package, headless, no network of its own."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def open_report(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """The page loaded from ``path``, and the list its script and console errors go to."""
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_report_renders_without_errors_and_draws_the_timeline(browser: Any, run_report: RunReport,
                                                              tmp_path: Path) -> None:
    page, errors = open_report(browser, write_reports(run_report, tmp_path)["html"])
    failures = page.locator("section.failure")
    assert failures.count() == 3
    for n in range(failures.count()):  # every failure draws boxes, with the fault that fired on one of them
        section = failures.nth(n)
        assert section.locator("svg.timeline rect.box").count() > 0, f"failure {n} has an empty timeline"
        assert section.locator("svg.timeline path.fault").count() >= 1
        assert section.locator(".replay code.cmd").inner_text().startswith("chaosdurable check ")
    first = failures.first
    chaotic = first.locator("svg.timeline").first  # the fault-free run's timeline is folded below it
    assert chaotic.locator(".lane-head").count() == 3  # three invocations under faults
    assert chaotic.locator("rect.row-hl").count() >= 1  # where the e-mail repeats
    assert page.locator("table.world td.added").first.inner_text() == "+ order ord-1 paid"
    assert page.locator("svg.heat rect.heat-cell").count() >= 4
    first.locator("button.copy").click()  # the page's only script runs without error
    assert first.locator("button.copy").inner_text() == "copied"
    IMAGES.mkdir(parents=True, exist_ok=True)
    first.screenshot(path=str(IMAGES / "report-failure.png"))
    page.locator("#coverage").screenshot(path=str(IMAGES / "report-coverage.png"))
    assert errors == []


def test_a_script_error_or_an_empty_timeline_is_caught(browser: Any, run_report: RunReport, tmp_path: Path) -> None:
    """The checks above can fail: a page with a broken script and no boxes trips both."""
    path = write_reports(run_report, tmp_path)["html"]
    broken = path.read_text().replace('<rect class="box', '<rect class="gone').replace(
        "</body>", "<script>undefinedFunction();</script></body>")
    path.write_text(broken)
    page, errors = open_report(browser, path)
    assert page.locator("svg.timeline rect.box").count() == 0
    assert any("undefinedFunction" in e for e in errors)
