"""The "auxiliary × target" table of metric deltas against a baseline.

After a sweep every trial yields one :class:`TrialRecord`: the auxiliary-language
choice it meta-learned with (the row label, e.g. ``"ana→bel"`` for support→query),
its seed, its per-target metric after meta-learning and the baseline's metric on
the same targets (the stage-1 model, zero-shot). :func:`delta_table` averages
``score - baseline`` over the seeds of each auxiliary choice, giving the shape of
Figure 2 of the XLA-MAML paper: one row per auxiliary choice, one column per target
language, and a final ``avg`` column. :func:`write_csv` and :func:`write_heatmap`
render that table for files and figures (the sweep's own tables come from
:mod:`xlsweep.report.paper_tables`, which hands its deltas to the same writers).

Values in the table are fractions (the metric's own scale); the heatmap shows them
in percentage points (×100).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from xlsweep.report.stats import mean

__all__ = [
    "AVG_COLUMN",
    "TrialRecord",
    "delta_table",
    "write_csv",
    "write_heatmap",
]

BASELINE_TOLERANCE = 1e-9
"""Largest difference allowed between two records' baselines for the same target."""

AVG_COLUMN = "avg"
"""Name of the table's last column: the row's mean over its target columns."""

DEFAULT_TITLE = "Auxiliary languages × target language"

_HEATMAP_DPI = 120
_COLORMAP = "RdBu"  # diverging: red below the baseline, blue above it
_NAN_COLOR = "lightgrey"
_MINUS = "\N{MINUS SIGN}"


@dataclass(frozen=True)
class TrialRecord:
    """The outcome of one sweep trial.

    Attributes:
        aux: Row label: the auxiliary-language choice, e.g. ``"ana→bel"``
            (support→query) or ``"bel"``.
        seed: The trial's random seed.
        scores: Target language -> metric after meta-learning (e.g. accuracy in [0, 1]).
            A target absent here is left out of that target's cell.
        baseline: Target language -> the baseline's metric (stage-1 model, zero-shot).
            Must cover every target in ``scores``.
    """

    aux: str
    seed: int
    scores: Mapping[str, float]
    baseline: Mapping[str, float]


# ---------------------------------------------------------------------------
# Building the table
# ---------------------------------------------------------------------------


def delta_table(records: Sequence[TrialRecord], targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Average ``score - baseline`` per auxiliary choice and target language.

    Args:
        records: One record per trial; at least one.
        targets: Target columns in display order. ``None`` takes every target that
            occurs in the records' scores, in order of first appearance. Targets not
            listed here are ignored.

    Returns:
        A float DataFrame indexed by aux label (order of first appearance, index name
        ``"aux"``) with one column per target and a final ``"avg"`` column (columns
        name ``"target"``). A cell is the mean over that aux's records that scored the
        target; a cell no record scored is NaN, and ``avg`` is the mean of the row's
        non-NaN target cells (NaN if there are none). ``df.attrs["n"]`` maps each aux
        label to its number of records.

    Raises:
        ValueError: If there are no records, ``targets`` is empty, repeats a name,
            uses the reserved name ``"avg"`` or names a target no record scored, or a
            record has a non-finite value or a score without a baseline.
    """
    _require_records(records)
    for record in records:
        _check_record(record)
    columns = _resolve_targets(records, targets)
    deltas = _collect_deltas(records, columns)
    table = pd.DataFrame(
        [[mean(deltas[aux][target]) for target in columns] for aux in deltas],
        index=pd.Index(list(deltas), name="aux"),
        columns=pd.Index(list(columns), name="target"),
        dtype=float,
    )
    table[AVG_COLUMN] = table[list(columns)].mean(axis=1, skipna=True)
    table.columns.name = "target"
    table.attrs["n"] = _count_per_aux(records)
    return table


def _require_records(records: Sequence[TrialRecord]) -> None:
    """Raise if ``records`` is empty."""
    if len(records) == 0:
        raise ValueError("no trial records: expected at least one TrialRecord, got an empty sequence")


def _check_record(record: TrialRecord) -> None:
    """Raise if a record has a non-finite value or a score without a baseline."""
    if AVG_COLUMN in record.scores:
        raise ValueError(
            f"target name {AVG_COLUMN!r} is reserved for the average column: "
            f"got it in the scores of aux {record.aux!r}, seed {record.seed}"
        )
    for target, score in record.scores.items():
        if target not in record.baseline:
            raise ValueError(
                f"missing baseline for target {target!r} in aux {record.aux!r}, seed {record.seed}: "
                f"expected one of the scored targets to have a baseline, got baselines for "
                f"{sorted(record.baseline)}"
            )
        for kind, value in (("score", score), ("baseline", record.baseline[target])):
            if not math.isfinite(float(value)):
                raise ValueError(
                    f"non-finite {kind} for target {target!r} in aux {record.aux!r}, seed {record.seed}: "
                    f"expected a finite number, got {value!r}"
                )


def _resolve_targets(records: Sequence[TrialRecord], targets: Sequence[str] | None) -> list[str]:
    """The table's target columns: ``targets`` validated, or those seen in the records."""
    seen = list(dict.fromkeys(target for record in records for target in record.scores))
    if targets is None:
        if not seen:
            raise ValueError("no targets: expected at least one record with a score, got only empty scores")
        return seen
    columns = list(targets)
    if not columns:
        raise ValueError("no targets: expected at least one target name (or None for all), got an empty list")
    duplicates = sorted({target for target in columns if columns.count(target) > 1})
    if duplicates:
        raise ValueError(f"repeated targets: expected each target once, got {duplicates} more than once")
    if AVG_COLUMN in columns:
        raise ValueError(f"target name {AVG_COLUMN!r} is reserved for the average column: got it in targets")
    unknown = [target for target in columns if target not in seen]
    if unknown:
        raise ValueError(
            f"unknown target(s) {unknown}: expected targets that some record scored, "
            f"got records scoring {seen}"
        )
    return columns


def _collect_deltas(
    records: Sequence[TrialRecord], columns: Sequence[str]
) -> dict[str, dict[str, list[float]]]:
    """Aux -> target -> the records' deltas, aux labels in order of first appearance."""
    deltas: dict[str, dict[str, list[float]]] = {}
    for record in records:
        row = deltas.setdefault(record.aux, {target: [] for target in columns})
        for target in columns:
            if target in record.scores:
                row[target].append(float(record.scores[target]) - float(record.baseline[target]))
    return deltas


def _count_per_aux(records: Sequence[TrialRecord]) -> dict[str, int]:
    """Aux label -> number of records, in order of first appearance."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.aux] = counts.get(record.aux, 0) + 1
    return counts


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table, with its index, as UTF-8 CSV.

    Values stay fractions at full precision (each float's shortest round-trip repr),
    so ``pandas.read_csv(path, index_col=0)`` recovers them exactly. ``attrs`` (the
    per-aux counts) are not written.

    Args:
        table: A table from :func:`delta_table`.
        path: Destination file; missing parent directories are created.

    Returns:
        The path written, as a :class:`~pathlib.Path`.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=True, encoding="utf-8")
    return out


def write_heatmap(
    table: pd.DataFrame,
    path: str | Path,
    *,
    title: str = DEFAULT_TITLE,
    metric: str = "accuracy",
    significant: pd.DataFrame | np.ndarray | None = None,
) -> Path:
    """Write the table as a PNG heatmap of deltas in percentage points.

    The colormap diverges around 0 with symmetric limits (± the largest absolute
    delta, or ±1 when every delta is 0); every cell is annotated with its signed
    value ("+1.2", "−0.4"), NaN cells are grey and blank, and the ``avg`` column is
    set off by a vertical line. The figure grows with the table.

    Args:
        table: A table from :func:`delta_table` (fractions).
        path: Destination PNG file; missing parent directories are created.
        title: Figure title.
        metric: Metric name for the colorbar label.
        significant: Optional boolean mask of the table's shape (a DataFrame is aligned
            by index and columns); True cells get a ``*`` after their value ("+1.2*").

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If the table is empty or has non-numeric values, or the mask does
            not match the table.
    """
    figure = _heatmap_figure(table, title=title, metric=metric, significant=significant)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(out, format="png", dpi=_HEATMAP_DPI)
    return out


def _require_rows(table: pd.DataFrame) -> None:
    """Raise if the table has no rows or no columns."""
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError(f"empty table: expected at least one row and one column, got shape {table.shape}")


def _format_points(points: float, *, minus: str = _MINUS) -> str:
    """Format a delta in points, signed, one decimal; NaN -> ``""``, rounding to zero -> ``"+0.0"``."""
    if math.isnan(points):
        return ""
    text = f"{points:+.1f}"
    if text == "-0.0":
        text = "+0.0"
    return text.replace("-", minus)


def _numeric_points(table: pd.DataFrame) -> np.ndarray:
    """The table's values ×100 as a float array, or raise if it is empty or not numeric."""
    _require_rows(table)
    try:
        values = table.to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"non-numeric table: expected float deltas, got dtypes {dict(table.dtypes.astype(str))}"
        ) from error
    return values * 100.0


def _color_limit(points: np.ndarray) -> float:
    """Symmetric colour limit: the largest absolute finite value, or 1 when that is 0 or absent."""
    finite = np.abs(points[np.isfinite(points)])
    largest = float(finite.max()) if finite.size else 0.0
    return largest if largest > 0.0 else 1.0


def _figure_size(n_rows: int, n_cols: int) -> tuple[float, float]:
    """Figure size in inches, growing with the table."""
    return max(4.5, 0.9 * n_cols + 3.0), max(2.5, 0.5 * n_rows + 1.8)


def _significance_mask(table: pd.DataFrame, significant: pd.DataFrame | np.ndarray | None) -> np.ndarray:
    """The mask as a boolean array of the table's shape (all False when there is none)."""
    if significant is None:
        return np.zeros(table.shape, dtype=bool)
    if isinstance(significant, pd.DataFrame):
        if set(significant.index) != set(table.index) or set(significant.columns) != set(table.columns):
            raise ValueError(
                f"significance mask does not match the table: expected rows {list(table.index)} and columns "
                f"{list(table.columns)}, got rows {list(significant.index)} and columns {list(significant.columns)}"
            )
        significant = significant.loc[table.index, table.columns].to_numpy()
    mask = np.asarray(significant)
    if mask.shape != table.shape or mask.dtype != bool:
        raise ValueError(
            f"significance mask: expected a boolean array of shape {table.shape}, "
            f"got {mask.dtype} of shape {mask.shape}"
        )
    return mask


def _heatmap_figure(
    table: pd.DataFrame,
    *,
    title: str,
    metric: str,
    significant: pd.DataFrame | np.ndarray | None = None,
) -> Figure:
    """Draw the heatmap on a fresh :class:`Figure` (no pyplot state is touched)."""
    points = _numeric_points(table)
    mask = _significance_mask(table, significant)
    limit = _color_limit(points)
    n_rows, n_cols = points.shape
    figure = Figure(figsize=_figure_size(n_rows, n_cols), dpi=_HEATMAP_DPI, layout="constrained")
    axes = figure.add_subplot()
    cmap = colormaps[_COLORMAP].with_extremes(bad=_NAN_COLOR)
    image = axes.imshow(
        np.ma.masked_invalid(points),
        cmap=cmap,
        vmin=-limit,
        vmax=limit,
        aspect="auto",
        interpolation="nearest",
    )
    _annotate_cells(axes, points, limit, mask)
    _label_axes(axes, table, title)
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label(f"Δ {metric} vs baseline (points)")
    return figure


def _annotate_cells(axes: Axes, points: np.ndarray, limit: float, mask: np.ndarray) -> None:
    """Write each cell's signed value on it, with a ``*`` where ``mask`` is True (NaN cells stay blank)."""
    for row, col in np.ndindex(points.shape):
        value = float(points[row, col])
        text = _format_points(value)
        if not text:
            continue
        if mask[row, col]:
            text += "*"
        color = "white" if abs(value) > 0.6 * limit else "black"
        axes.text(col, row, text, ha="center", va="center", color=color, fontsize=9)


def _label_axes(axes: Axes, table: pd.DataFrame, title: str) -> None:
    """Ticks, axis labels, title, and the line that sets off the ``avg`` column."""
    columns = [str(column) for column in table.columns]
    axes.set_xticks(range(len(columns)), labels=columns)
    axes.set_yticks(range(table.shape[0]), labels=[str(aux) for aux in table.index])
    axes.tick_params(axis="both", length=0)
    axes.set_xlabel("target language")
    axes.set_ylabel("auxiliary languages")
    axes.set_title(title)
    if AVG_COLUMN in columns:
        position = columns.index(AVG_COLUMN)
        for edge in (position - 0.5, position + 0.5):
            if 0 < edge < len(columns) - 0.5:
                axes.axvline(edge, color="black", linewidth=2.0)
        axes.get_xticklabels()[position].set_fontweight("bold")
