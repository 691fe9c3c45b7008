"""Inline SVG pictures, drawn by code: the timeline grid and the coverage heat map.

Contract: each function returns one ``<svg>`` element as text (``markupsafe.Markup``), escaped,
self-contained (no external references), styled by CSS classes the HTML page defines
(``st-<status>`` for timeline boxes, ``heat`` cells carrying their count). Boxes that show
something are ``<rect class="box ...">``: tests count them.
"""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from chaosdurable.checks.base import plural
from chaosdurable.report.timeline import HANDLER_ROW, Cell, Timeline

LABEL_W, LANE_W, ROW_H, HEAD_H, PAD = 220, 150, 28, 46, 6
_ACTION_MARK = {"START": "S", "SUCCEED": "✓", "FAIL": "✗", "RETRY": "R", "CANCEL": "C"}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell_title(row_label: str, lane: int, cell: Cell) -> str:
    lines = [f"{row_label}, invocation {lane}: {cell.status}"]
    lines += [f"checkpoint {a}{'' if ok else ' (rejected)'}" for a, ok in cell.checkpoints]
    if cell.bodies:
        lines.append(f"body ran {plural(cell.bodies, 'time')}")
    lines += [f"effect {e}" for e in cell.effects]
    lines += [f"FAULT: {f}" for f in cell.faults]
    return "\n".join(lines)


def timeline_svg(timeline: Timeline, title: str = "timeline") -> Markup:
    """The grid as SVG: a column per invocation, a box per operation and invocation, coloured by outcome."""
    width = LABEL_W + LANE_W * max(1, len(timeline.lanes)) + PAD
    height = HEAD_H + ROW_H * max(1, len(timeline.rows)) + PAD
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for n, lane in enumerate(timeline.lanes):
        x = LABEL_W + n * LANE_W
        out.append(f'<g class="lane"><rect class="lane-bg" x="{x + 2}" y="2" width="{LANE_W - 4}" '
                   f'height="{height - 4}" rx="4"/>')
        out.append(f'<text class="lane-head" x="{x + LANE_W / 2}" y="18">invocation {lane.index}</text>')
        outcome_class = "bad" if any(w in lane.outcome for w in ("crash", "timed", "killed", "error")) else "good"
        out.append(f'<text class="lane-sub {outcome_class}" x="{x + LANE_W / 2}" y="34">'
                   f'{escape(_clip(lane.outcome, 24))}</text></g>')
    for r, row in enumerate(timeline.rows):
        y = HEAD_H + r * ROW_H
        classes = "row-label" + (" hl" if row.highlight else "")
        if row.highlight:
            out.append(f'<rect class="row-hl" x="0" y="{y}" width="{width}" height="{ROW_H}">'
                       f'<title>{escape(row.highlight)}</title></rect>')
        label = row.label if row.key != HANDLER_ROW else "handler code (outside steps)"
        out.append(f'<text class="{classes}" x="{PAD}" y="{y + ROW_H / 2 + 4}">'
                   f'<title>{escape(row.label)}</title>{escape(_clip(label, 30))}</text>')
        for n, lane in enumerate(timeline.lanes):
            cell = timeline.cells.get((row.key, lane.index))
            if cell is None or not cell.status:
                continue
            x = LABEL_W + n * LANE_W + PAD
            w, h = LANE_W - 2 * PAD, ROW_H - 6
            out.append(f'<g class="cell"><title>{escape(_cell_title(row.label, lane.index, cell))}</title>')
            out.append(f'<rect class="box st-{cell.status}" x="{x}" y="{y + 3}" width="{w}" height="{h}" rx="3"/>')
            marks = "".join(_ACTION_MARK.get(a, a[:1]) if ok else "⊘" for a, ok in cell.checkpoints)
            text = cell.status + (f" {marks}" if marks else "")
            out.append(f'<text class="box-text" x="{x + 5}" y="{y + ROW_H / 2 + 4}">{escape(_clip(text, 17))}</text>')
            if cell.effects:
                out.append(f'<circle class="effect{" dup" if row.highlight else ""}" cx="{x + w - 24}" '
                           f'cy="{y + ROW_H / 2}" r="8"/><text class="effect-n" x="{x + w - 24}" '
                           f'y="{y + ROW_H / 2 + 4}">{len(cell.effects)}</text>')
            if cell.faults:
                cx, cy = x + w - 8, y + ROW_H / 2
                out.append(f'<path class="fault" d="M{cx - 2},{cy - 10} L{cx - 8},{cy + 1} L{cx - 2},{cy + 1} '
                           f'L{cx - 5},{cy + 10} L{cx + 6},{cy - 3} L{cx},{cy - 3} L{cx + 3},{cy - 10} Z"/>')
            out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def heat_svg(coverage: dict[tuple[str, str], int], title: str = "coverage") -> Markup:
    """Operations x fault kinds, each cell shaded by how many faults of that kind hit that operation."""
    ops = sorted({op for op, _ in coverage})
    kinds = sorted({kind for _, kind in coverage})
    cell_w, cell_h, label_w, head_h = 86, 22, 240, 90
    width, height = label_w + cell_w * max(1, len(kinds)) + 110, head_h + cell_h * max(1, len(ops)) + PAD
    top = max(coverage.values(), default=1)
    out = [f'<svg class="heat" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for k, kind in enumerate(kinds):
        x = label_w + k * cell_w + cell_w / 2
        out.append(f'<text class="heat-kind" transform="translate({x},{head_h - 6}) rotate(-35)">'
                   f'{escape(kind)}</text>')
    for r, op in enumerate(ops):
        y = head_h + r * cell_h
        out.append(f'<text class="heat-op" x="{PAD}" y="{y + cell_h / 2 + 4}"><title>{escape(op)}</title>'
                   f'{escape(_clip(op, 34))}</text>')
        for k, kind in enumerate(kinds):
            count = coverage.get((op, kind), 0)
            x = label_w + k * cell_w
            level = 0 if not count else 1 + int(4 * math.log1p(count) / math.log1p(top) - 1e-9)
            faults = plural(count, "fault")
            out.append(f'<g><title>{escape(op)} x {escape(kind)}: {faults}</title>'
                       f'<rect class="heat-cell h{min(level, 4)}" x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" '
                       f'height="{cell_h - 2}"/>'
                       f'<text class="heat-n" x="{x + cell_w / 2}" y="{y + cell_h / 2 + 4}">'
                       f'{count or "·"}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))
