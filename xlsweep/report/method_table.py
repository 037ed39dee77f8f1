"""The "method × target" table of MetaXL-style sweeps: one row per method, one column per target language.

Each MetaXL trial trains for one target language, so a record holds one score:
its method's (e.g. ``jt``, ``metaxl rtn_layers=2``) on its own target. Rows
average over seeds; a ``source only`` row (the stage-1 model, zero-shot) comes
first, then target-only, JT, JT w/ RTN and MetaXL rows, as in the MetaXL paper's
Tables 2, 5 and 6, and ``avg`` is the mean over the target columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from xlsweep.report.aux_table import AVG_COLUMN, TrialRecord, _require_records, baseline_row

__all__ = ["BASELINE_ROW", "markdown_table", "method_label", "method_table", "write_markdown"]

BASELINE_ROW = "source only (stage 1)"


def method_label(algorithm: str, variant: Mapping[str, object]) -> str:
    """Row label: the method and the grid values that distinguish its trials, e.g. ``metaxl rtn_layers=2``."""
    parts = [algorithm]
    for key, value in variant.items():
        shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        parts.append(f"{key.rsplit('.', 1)[-1]}={shown}")
    return " ".join(parts)


METHOD_ORDER = ("target-only", "jt", "jt-rtn", "metaxl")  # rows: baselines first, as in the paper's tables


def _rank(label: str) -> int:
    method = label.split(" ", 1)[0]
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def method_table(records: Sequence[TrialRecord], targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean score per method row and target column, a source-only row first, and an ``avg`` column.

    Args:
        records: One per trial; ``aux`` is the row label, ``scores`` the trial's target
            score(s) and ``baseline`` the stage-1 model's on the same targets.
        targets: Column order; ``None`` takes the targets in order of first appearance.

    Returns:
        A float DataFrame (fractions), NaN where no trial scored a cell;
        ``attrs["n"]`` maps each row to its number of trials.
    """
    _require_records(records)
    columns = list(targets) if targets is not None else list(dict.fromkeys(t for r in records for t in r.scores))
    cells: dict[str, dict[str, list[float]]] = {BASELINE_ROW: {t: [] for t in columns}}
    for record in records:
        row = cells.setdefault(record.aux, {t: [] for t in columns})
        for target, score in record.scores.items():
            if target in row:
                if not math.isfinite(float(score)):
                    raise ValueError(f"non-finite score for target {target!r} in {record.aux!r}, "
                                     f"seed {record.seed}: {score!r}")
                row[target].append(float(score))
    for target, value in baseline_row(records).items():  # checked to agree across records
        if target in cells[BASELINE_ROW]:
            cells[BASELINE_ROW][target].append(value)
    order = sorted(cells, key=lambda label: (label != BASELINE_ROW, _rank(label), list(cells).index(label)))
    cells = {label: cells[label] for label in order}
    table = pd.DataFrame([[math.fsum(v) / len(v) if v else math.nan for v in row.values()] for row in cells.values()],
                         index=pd.Index(list(cells), name="method"), columns=pd.Index(columns, name="target"),
                         dtype=float)
    table[AVG_COLUMN] = table[columns].mean(axis=1, skipna=True)
    counts: dict[str, int] = {BASELINE_ROW: 1}
    for record in records:
        counts[record.aux] = counts.get(record.aux, 0) + 1
    table.attrs["n"] = counts
    return table


def markdown_table(table: pd.DataFrame, *, scale: float = 100.0, digits: int = 1) -> str:
    """The table as Markdown, values ×``scale`` (points), the best method of each column in bold."""
    methods = [m for m in table.index if m != BASELINE_ROW]
    best = {c: table.loc[methods, c].max() for c in table.columns} if methods else {}
    n = table.attrs.get("n", {})
    lines = ["| method | n | " + " | ".join(map(str, table.columns)) + " |",
             "|---|---|" + "---|" * len(table.columns)]
    for method, row in table.iterrows():
        cells = []
        for column, value in row.items():
            text = "–" if math.isnan(value) else f"{value * scale:.{digits}f}"
            bold = method != BASELINE_ROW and not math.isnan(value) and value == best.get(column)
            cells.append(f"**{text}**" if bold else text)
        lines.append(f"| {method} | {n.get(method, '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(table: pd.DataFrame, path: str | Path, *, title: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# {title}\n\n{markdown_table(table)}", encoding="utf-8")
    return out
