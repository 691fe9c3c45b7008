"""``report.html``: one self-contained page (no network: inline CSS, inline SVG, a few lines of inline JS).

Contract: ``render_html(report)`` reads only the ``RunReport`` (the stored histories of its
verdicts) and returns the page. For each target that failed (or found its planted bug) and each
of its failures: the timeline of the chaotic run (``timeline``/``svg``), the first divergence,
the minimal schedule in words, what fired, the violations, the world diff and the replay
command; the fault-free run's timeline folded below. Then fault-space coverage per target as a
heat map, and the passing targets in one line each. The template is ``templates/report.html.j2``.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from chaosdurable.checks.base import plural
from chaosdurable.report.json_report import failure_to_dict, report_to_dict
from chaosdurable.report.model import RunReport, TargetReport
from chaosdurable.report.svg import heat_svg, timeline_svg
from chaosdurable.report.timeline import build_timeline

_ENV = Environment(loader=PackageLoader("chaosdurable.report", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
_ENV.filters["plural"] = plural  # {{ n|plural("example") }}: "1 example", "2 examples"
STATUSES = ("succeeded", "started", "retrying", "failed", "rejected", "lost", "replayed", "ran")


def _failure_view(verdict: Any, target: TargetReport, number: int) -> dict[str, Any]:
    chaotic = build_timeline(verdict, "chaotic")
    reference = build_timeline(verdict, "reference")
    return failure_to_dict(verdict) | {
        "anchor": f"{target.name}-{number}".replace(" ", "-").replace("/", "-").replace(":", "-"),
        "timeline_svg": timeline_svg(chaotic, f"timeline of {target.name} under faults"),
        "reference_svg": timeline_svg(reference, f"timeline of {target.name} without faults"),
        "boxes": chaotic.boxes(),
        "unplaced_faults": chaotic.unplaced_faults,
        "hidden": (chaotic.hidden_rows, chaotic.hidden_lanes),
        "highlights": [row.highlight for row in chaotic.rows if row.highlight],
        "violation_texts": [verdict.in_words(v.describe()) for v in verdict.violations],
    }


def _target_view(target: TargetReport, data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "failure_views": [_failure_view(v, target, n) for n, v in enumerate(target.failures, start=1)],
        "heat_svg": heat_svg(target.coverage, f"fault-space coverage of {target.name}") if target.coverage else None,
        "pairs": len(target.coverage),
        "anchor": target.name.replace(" ", "-").replace("/", "-").replace(":", "-"),
    }


def render_html(report: RunReport) -> str:
    """The whole report page."""
    data = report_to_dict(report)
    targets = [_target_view(t, d) for t, d in zip(report.targets, data["targets"], strict=True)]
    shown = [t for t in targets if t["failures"] or not t["met_expectation"]]
    passing = [t for t in targets if not (t["failures"] or not t["met_expectation"])]
    return _ENV.get_template("report.html.j2").render(
        report=data, targets=targets, shown=shown, passing=passing, statuses=STATUSES)
