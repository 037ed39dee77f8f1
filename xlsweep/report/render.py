"""A :class:`~xlsweep.report.paper_tables.PaperTable` as Markdown, CSV and LaTeX.

Markdown and LaTeX show values ×100 with one decimal, ``mean ± std`` (std left out for one
seed, ``(n=…)`` added where a cell has fewer seeds than its row), mark significant cells
(Holm-adjusted) bold with a ``*`` and cells whose test could not run with ``○``; the
XLA-MAML − X-MAML comparison rows follow the table. The CSV is long-format (one line per row
and column) and keeps fractions at full precision, with n, the test's mean difference, t,
the raw p-value, the Holm-adjusted one, the flag and the test's family (``vs reference``
for the table's rows, ``XLA-MAML − X-MAML`` for the comparisons).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from xlsweep.report.paper_tables import UNTESTED_MARK, Cell, PaperTable, Row
from xlsweep.report.sweep_results import ReportError
from xlsweep.tracking.runs import points_cell, statistic_cell

__all__ = ["CSV_FIELDS", "FAMILIES", "FORMATS", "MISSING", "cell_text", "csv_rows", "latex", "markdown",
           "parse_formats", "write_table"]

FORMATS = ("md", "csv", "tex")
CSV_FIELDS = ("row", "algorithm", "reference", "aux_languages", "column", "n", "mean (points)", "std (points)",
              "mean_diff (points)", "t", "p", "p_adjusted", "significant", "test_note", "family")
FAMILIES = ("vs reference", "XLA-MAML − X-MAML")
"""The CSV's ``family`` values: the table's rows against their reference; the between-method comparisons."""
MISSING = "–"

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$",
          "→": r"$\rightarrow$", "†": r"$^\dagger$", "±": r"$\pm$", "∪": r"$\cup$", "×": r"$\times$",
          "α": r"$\alpha$", "Δ": r"$\Delta$", "–": "--", "—": "---", "−": "$-$", UNTESTED_MARK: r"$^\circ$"}


def parse_formats(text: str) -> tuple[str, ...]:
    """``"md,csv"`` -> ``("md", "csv")``, or raise naming the unknown format."""
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportError(f"--format: expected a comma-separated subset of {','.join(FORMATS)}, got {text!r}")
    return formats


def cell_text(cell: Cell, row_n: int, *, scale: float = 100.0, digits: int = 1, signed: bool = False) -> str:
    """``"56.3 ± 1.2"`` (×``scale``; ``signed``: ``"+1.3 ± 0.4"``); ``"–"`` for a cell without values."""
    if cell.n == 0 or math.isnan(cell.mean):
        return MISSING
    text = f"{cell.mean * scale:{'+' if signed else ''}.{digits}f}"
    if not math.isnan(cell.std):
        text += f" ± {cell.std * scale:.{digits}f}"
    if cell.n != row_n:
        text += f" (n={cell.n})"
    return text


def markdown(table: PaperTable) -> str:
    """The table, its title as a heading and its notes as a list, in Markdown."""
    lines = [f"### {_md(table.title)}", "", "| method | n | " + " | ".join(table.columns) + " |",
             "|---|---:|" + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = [_md_cell(row.cells[c], row) for c in table.columns]
        lines.append(f"| {_md(row.label)} | {row.n} | " + " | ".join(cells) + " |")
    if table.comparisons:
        lines += ["", "| XLA-MAML − X-MAML | n | " + " | ".join(table.columns) + " |",
                  "|---|---:|" + "---:|" * len(table.columns)]
        for row in table.comparisons:
            cells = [_md_cell(row.cells[c], row, signed=True) for c in table.columns]
            lines.append(f"| {_md(row.label)} | {row.n} | " + " | ".join(cells) + " |")
    lines += ["", *(f"- {_md(note)}" for note in table.notes)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", r"\|").replace("*", r"\*")


def _md_cell(cell: Cell, row: Row, *, signed: bool = False) -> str:
    text = cell_text(cell, row.n, signed=signed)
    if cell.significant:
        return rf"**{text}**\*"
    return f"{text} {UNTESTED_MARK}" if cell.untested else text


def latex(table: PaperTable) -> str:
    """A booktabs ``table`` with the notes in its caption (needs ``\\usepackage{booktabs}``)."""
    header = " & ".join(["Method", "$n$", *(_tex(c) for c in table.columns)]) + r" \\"
    lines = [f"% {table.title} -- needs \\usepackage{{booktabs}}", r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{lr" + "c" * len(table.columns) + "}", r"\toprule", header, r"\midrule"]
    for i, row in enumerate(table.rows):
        cells = [_tex_cell(row.cells[c], row) for c in table.columns]
        lines.append(" & ".join([_tex(row.label), str(row.n), *cells]) + r" \\")
        if i == 0 and len(table.rows) > 1:
            lines.append(r"\midrule")
    if table.comparisons:
        lines += [r"\midrule", r"\multicolumn{" + str(len(table.columns) + 2) + r"}{l}{XLA-MAML $-$ X-MAML} \\"]
    for row in table.comparisons:
        cells = [_tex_cell(row.cells[c], row, signed=True) for c in table.columns]
        lines.append(" & ".join([_tex(row.label), str(row.n), *cells]) + r" \\")
    caption = ". ".join([table.title, *table.notes])
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}.}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def _tex_cell(cell: Cell, row: Row, *, signed: bool = False) -> str:
    text = _tex(cell_text(cell, row.n, signed=signed))
    if cell.significant:
        return rf"\textbf{{{text}}}$^{{*}}$"
    return rf"{text}$^{{\circ}}$" if cell.untested else text


def csv_rows(table: PaperTable) -> list[dict[str, object]]:
    """One dict per row and column, fields :data:`CSV_FIELDS`: scores in points to 2 decimals
    (:func:`~xlsweep.tracking.runs.points_written`), t and p to 4 significant digits; NaN and "no test" are empty
    strings."""
    out: list[dict[str, object]] = []
    for family, rows in zip(FAMILIES, (table.rows, table.comparisons), strict=True):
        for row in rows:
            for column in table.columns:
                cell, test = row.cells[column], row.cells[column].test
                out.append({
                    "row": row.label, "algorithm": row.algorithm, "reference": row.reference,
                    "aux_languages": ",".join(row.aux_languages), "column": column, "n": cell.n,
                    "mean (points)": points_cell(cell.mean), "std (points)": points_cell(cell.std),
                    "mean_diff (points)": points_cell(test.mean_diff) if test else "",
                    "t": statistic_cell(test.t) if test else "",
                    "p": statistic_cell(test.p) if test else "", "p_adjusted": statistic_cell(cell.p_adjusted),
                    "significant": cell.significant, "test_note": (test.reason or test.note) if test else "",
                    "family": family})
    return out




def write_table(table: PaperTable, stem: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and/or ``<stem>.tex``; returns the paths written."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "md":
            path.write_text(markdown(table), encoding="utf-8")
        elif fmt == "tex":
            path.write_text(latex(table), encoding="utf-8")
        elif fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
                writer.writeheader()
                writer.writerows(csv_rows(table))
        else:
            raise ReportError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        paths.append(path)
    return paths
