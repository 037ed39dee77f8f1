"""Table 3's rows × targets as an inline SVG heatmap for the report page.

Same cells, colours and marks as the PNG (:mod:`xlsweep.report.heatmap`): the mean
improvement over the stage-1 baseline in points, ``*`` for significant after the correction, ``○``
for a test that could not run. Each cell is a link to its trials in the MLflow UI and
carries its details in an SVG ``<title>`` (the browser's tooltip, no script needed):
mean ± std of the improvement and of the score, n, the raw and the Holm-adjusted p-value
and the verdict. ``data-*`` attributes hold the same numbers for scripts and tests.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from xlsweep.report.heatmap import AVG_COLUMN, SIGNIFICANT_MARK, UNTESTED_MARK, color_limit, format_points
from xlsweep.report.paper_tables import PaperTable, heatmap_labels
from xlsweep.report.table_cells import EMPTY, Cell, Row
from xlsweep.tracking.urls import compare_url

__all__ = ["attr", "esc", "heatmap_svg", "verdict"]

CELL_W, CELL_H, TOP, PAD, CHAR_W = 80, 38, 32, 12, 8.6  # pixels; CHAR_W: a wide label character at 14 px
_CMAP = colormaps["RdBu"]
_NAN_FILL = "#d3d3d3"


def heatmap_svg(table: PaperTable, *, base: str, experiment_id: str) -> str:
    """The heatmap of ``table``'s non-reference rows × (targets, avg) as an ``<svg>`` element."""
    rows = [row for row in table.rows if not row.reference]
    labels = heatmap_labels(table)
    columns = [*table.targets, AVG_COLUMN]
    points = np.array([[_delta(row.cells.get(c, EMPTY)) * 100 for c in columns] for row in rows], dtype=float)
    limit = color_limit(points)
    left = PAD + max(len(label) for label in labels) * CHAR_W
    width, height = left + CELL_W * len(columns) + PAD, TOP + CELL_H * len(rows) + PAD
    parts = [f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
             f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{attr(table.title)}">']
    for j, column in enumerate(columns):
        weight = ' font-weight="700"' if column == AVG_COLUMN else ""
        parts.append(f'<text class="col" x="{left + CELL_W * (j + 0.5):.0f}" y="{TOP - 10}" text-anchor="middle"'
                     f'{weight}>{esc(column)}</text>')
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = TOP + CELL_H * i
        parts.append(f'<text class="row" x="{left - 8:.0f}" y="{y + CELL_H / 2 + 5:.0f}" text-anchor="end">'
                     f"{esc(label)}</text>")
        for j, column in enumerate(columns):
            parts.append(_cell(row, column, label, float(points[i, j]), limit, left + CELL_W * j, y, table,
                               base=base, experiment_id=experiment_id))
    if AVG_COLUMN in columns and len(columns) > 1:
        x = left + CELL_W * columns.index(AVG_COLUMN)
        parts.append(f'<line x1="{x:.0f}" y1="{TOP}" x2="{x:.0f}" y2="{TOP + CELL_H * len(rows)}" '
                     'stroke="#1f2328" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _cell(row: Row, column: str, label: str, value: float, limit: float, x: float, y: int, table: PaperTable, *,
          base: str, experiment_id: str) -> str:
    """One cell: a link to its runs around its tooltip, square and text; a grey square without values."""
    cell = row.cells.get(column, EMPTY)
    rect = f'<rect x="{x:.0f}" y="{y}" width="{CELL_W}" height="{CELL_H}"'
    if math.isnan(value):
        return f'{rect} fill="{_NAN_FILL}"><title>{esc(f"{row.label} on {column}: no values")}</title></rect>'
    mark = SIGNIFICANT_MARK if cell.significant else UNTESTED_MARK if cell.untested else ""
    fill = to_hex(_CMAP(0.5 + 0.5 * value / limit))
    ink = "#ffffff" if abs(value) > 0.6 * limit else "#1f2328"
    test = cell.test
    data = {"row": label, "col": column, "delta": _num(test.mean_diff if test else math.nan), "n": str(cell.n),
            "p": _num(test.p if test else math.nan), "p-adjusted": _num(cell.p_adjusted), "mark": mark}
    attrs = " ".join(f'data-{k}="{attr(v)}"' for k, v in data.items())
    href = compare_url(base, experiment_id, [run_id for _, run_id in row.runs]) if row.runs else ""
    body = (f"<title>{esc(_tooltip(row, column, cell, table))}</title>{rect} fill=\"{fill}\"/>"
            f'<text x="{x + CELL_W / 2:.0f}" y="{y + CELL_H / 2 + 5:.0f}" text-anchor="middle" fill="{ink}">'
            f"{esc(format_points(value) + mark)}</text>")
    return f'<a class="cell" href="{attr(href)}" {attrs}>{body}</a>' if href else f'<g class="cell" {attrs}>{body}</g>'


def _tooltip(row: Row, column: str, cell: Cell, table: PaperTable) -> str:
    test = cell.test
    lines = [f"{row.label} on {column}"]
    if test is not None:
        spread = "" if math.isnan(test.std_diff) else f" ± {test.std_diff * 100:.1f}"
        lines.append(f"Δ {format_points(test.mean_diff * 100, minus='−')}{spread} points vs stage 1, "
                     f"n = {cell.n} seed{'' if cell.n == 1 else 's'}")
    spread = "" if math.isnan(cell.std) else f" ± {cell.std * 100:.1f}"
    lines.append(f"{table.metric} {cell.mean * 100:.1f}{spread}")
    lines.append(verdict(cell, table.tested, table.options.correction_name))
    if row.runs:
        lines.append(f"click: {'its run' if len(row.runs) == 1 else f'its {len(row.runs)} runs'} in MLflow")
    return "\n".join(lines)


def verdict(cell: Cell, family: int, correction: str = "Holm") -> str:
    """``bootstrap p = …, Holm-adjusted p = … (N tests): significant at α = …`` or why the cell was not tested;
    ``family`` counts when the cell does not name its own (``cell.family``)."""
    test = cell.test
    if test is None:
        return "reference: not tested"
    if not test.tested:
        return f"{UNTESTED_MARK} {test.reason}"
    outcome = "significant" if cell.significant else "not significant"
    note = f" ({test.note})" if test.note else ""
    return (f"{test.method} p = {test.p:.3g}{note}, {correction}-adjusted p = {cell.p_adjusted:.3g} "
            f"({cell.family or family} tests): {outcome} at α = {test.alpha:g}")


def _delta(cell: Cell) -> float:
    return cell.test.mean_diff if cell.test is not None else math.nan


def _num(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def esc(text: str) -> str:
    """``text`` escaped for an element's content."""
    return escape(text, quote=False)


def attr(text: str) -> str:
    """``text`` escaped for a quoted attribute value."""
    return escape(text, quote=True)
