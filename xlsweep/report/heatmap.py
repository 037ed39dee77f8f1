"""The auxiliary × target table of deltas as a PNG heatmap and as CSV.

Cells carry their marks on the figure itself, with a legend line under it for each kind
of mark the caller passes:

* ``*`` — significant (the reports: :mod:`xlsweep.report.verdict`, the test and correction in the legend);
* ``○`` — not tested (fewer than 2 seed pairs, zero-variance differences), so a large
  cell without ``*`` is told apart from one whose test could not run;
* hatched, value in italics — predicted, not observed (the pair search, :mod:`xlsweep.pairsearch`,
  fills unrun cells from the ones that ran).

:func:`write_csv` writes the table as it is (wide: aux × targets), or — given the predicted
mask and/or an interval per cell — one line per cell with ``status`` (``observed`` /
``predicted``) and the interval's ``low`` and ``high``.

Values are fractions (the metric's own scale); the heatmap shows percentage points (×100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

__all__ = ["AVG_COLUMN", "PREDICTED_HATCH", "SIGNIFICANT_MARK", "UNTESTED_MARK", "Mask", "write_csv",
           "write_heatmap"]

AVG_COLUMN = "avg"
"""Name of the table's last column: the row's mean over its target columns."""

SIGNIFICANT_MARK = "*"
UNTESTED_MARK = "○"
PREDICTED_HATCH = "////"
DEFAULT_TITLE = "Auxiliary languages × target language"
DEFAULT_SIGNIFICANT_LABEL = "significant difference (the report's test, adjusted for its family)"
DEFAULT_UNTESTED_LABEL = "not tested (< 2 seed pairs or zero-variance differences)"
DEFAULT_PREDICTED_LABEL = "predicted, not run"

Mask: TypeAlias = pd.DataFrame | np.ndarray
"""A boolean mask of a table's shape; a DataFrame is aligned by index and columns."""

_HEATMAP_DPI = 120
_COLORMAP = "RdBu"  # diverging: red below the baseline, blue above it
_NAN_COLOR = "lightgrey"
_MINUS = "\N{MINUS SIGN}"


def write_csv(table: pd.DataFrame, path: str | Path, *, predicted: Mask | None = None,
              interval: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Path:
    """Write the table as UTF-8 CSV; with ``predicted`` or ``interval``, one line per cell.

    Without them the table is written with its index (wide), values at full precision
    (each float's shortest round-trip repr), so ``pandas.read_csv(path, index_col=0)``
    recovers it exactly. With them the columns are ``aux, target, delta, status, low,
    high``: ``status`` is ``predicted`` where the mask is True, else ``observed``; ``low``
    and ``high`` come from ``interval`` (empty where it is NaN or not given).

    Args:
        table: A delta table (fractions), e.g. from :func:`xlsweep.report.delta_table`.
        path: Destination file; missing parent directories are created.
        predicted: Optional boolean mask of the table's shape: the cells that were predicted.
        interval: Optional ``(low, high)`` frames of the table's shape (fractions).

    Raises:
        ValueError: If a mask or an interval frame does not match the table.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if predicted is None and interval is None:
        table.to_csv(out, index=True, encoding="utf-8")
        return out
    status = _mask(table, predicted, "predicted mask")
    low, high = (np.full(table.shape, np.nan),) * 2 if interval is None else (
        _aligned(table, frame, name) for frame, name in zip(interval, ("interval low", "interval high"), strict=True))
    rows = [{"aux": aux, "target": target, "delta": table.iat[i, j],
             "status": "predicted" if status[i, j] else "observed", "low": low[i, j], "high": high[i, j]}
            for i, aux in enumerate(table.index) for j, target in enumerate(table.columns)]
    pd.DataFrame(rows, columns=["aux", "target", "delta", "status", "low", "high"]).to_csv(
        out, index=False, encoding="utf-8")
    return out


def write_heatmap(
    table: pd.DataFrame,
    path: str | Path,
    *,
    title: str = DEFAULT_TITLE,
    metric: str = "accuracy",
    significant: Mask | None = None,
    untested: Mask | None = None,
    predicted: Mask | None = None,
    significant_label: str = DEFAULT_SIGNIFICANT_LABEL,
    untested_label: str = DEFAULT_UNTESTED_LABEL,
    predicted_label: str = DEFAULT_PREDICTED_LABEL,
) -> Path:
    """Write the table as a PNG heatmap of deltas in percentage points.

    The colormap diverges around 0 with symmetric limits (± the largest absolute
    delta, or ±1 when every delta is 0); every cell is annotated with its signed
    value ("+1.2", "−0.4"), NaN cells are grey and blank, and the ``avg`` column is
    set off by a vertical line. The figure grows with the table. Each mask given adds
    its mark to its cells and a legend entry under the figure (the ``*_label`` texts).

    Args:
        table: A delta table (fractions).
        path: Destination PNG file; missing parent directories are created.
        title: Figure title.
        metric: Metric name for the colorbar label.
        significant: Optional boolean mask: True cells get ``*`` after their value ("+1.2*").
        untested: Optional boolean mask: True cells get ``○`` after their value ("+1.2○").
        predicted: Optional boolean mask: True cells are hatched, their value in italics.
        significant_label: Legend text for ``*``.
        untested_label: Legend text for ``○``.
        predicted_label: Legend text for hatched cells.

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If the table is empty or has non-numeric values, or a mask does
            not match the table.
    """
    figure = _heatmap_figure(table, title=title, metric=metric, significant=significant, untested=untested,
                             predicted=predicted, labels=(significant_label, untested_label, predicted_label))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(out, format="png", dpi=_HEATMAP_DPI)
    return out


def format_points(points: float, *, minus: str = _MINUS) -> str:
    """Format a delta in points, signed, one decimal; NaN -> ``""``, rounding to zero -> ``"+0.0"``."""
    if math.isnan(points):
        return ""
    text = f"{points:+.1f}"
    if text == "-0.0":
        text = "+0.0"
    return text.replace("-", minus)


def color_limit(points: np.ndarray) -> float:
    """Symmetric colour limit: the largest absolute finite value, or 1 when that is 0 or absent."""
    finite = np.abs(points[np.isfinite(points)])
    largest = float(finite.max()) if finite.size else 0.0
    return largest if largest > 0.0 else 1.0


def _numeric_points(table: pd.DataFrame) -> np.ndarray:
    """The table's values ×100 as a float array, or raise if it is empty or not numeric."""
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError(f"empty table: expected at least one row and one column, got shape {table.shape}")
    try:
        values = table.to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"non-numeric table: expected float deltas, got dtypes {dict(table.dtypes.astype(str))}"
        ) from error
    return values * 100.0


def _figure_size(n_rows: int, n_cols: int, legend_lines: int) -> tuple[float, float]:
    """Figure size in inches, growing with the table and its legend."""
    return max(4.5, 0.9 * n_cols + 3.0), max(2.5, 0.5 * n_rows + 1.8) + 0.25 * legend_lines


def _mask(table: pd.DataFrame, mask: Mask | None, name: str = "significance mask") -> np.ndarray:
    """The mask as a boolean array of the table's shape (all False when there is none)."""
    if mask is None:
        return np.zeros(table.shape, dtype=bool)
    if isinstance(mask, pd.DataFrame):
        if set(mask.index) != set(table.index) or set(mask.columns) != set(table.columns):
            raise ValueError(
                f"{name} does not match the table: expected rows {list(table.index)} and columns "
                f"{list(table.columns)}, got rows {list(mask.index)} and columns {list(mask.columns)}"
            )
        mask = mask.loc[table.index, table.columns].to_numpy()
    array = np.asarray(mask)
    if array.shape != table.shape or array.dtype != bool:
        raise ValueError(f"{name}: expected a boolean array of shape {table.shape}, "
                         f"got {array.dtype} of shape {array.shape}")
    return array


def _aligned(table: pd.DataFrame, frame: pd.DataFrame, name: str) -> np.ndarray:
    """``frame`` aligned with the table, as floats."""
    if set(frame.index) != set(table.index) or set(frame.columns) != set(table.columns):
        raise ValueError(f"{name} does not match the table: expected rows {list(table.index)} and columns "
                         f"{list(table.columns)}, got rows {list(frame.index)} and columns {list(frame.columns)}")
    return frame.loc[table.index, table.columns].to_numpy(dtype=float)


def _heatmap_figure(
    table: pd.DataFrame,
    *,
    title: str,
    metric: str,
    significant: Mask | None = None,
    untested: Mask | None = None,
    predicted: Mask | None = None,
    labels: Sequence[str] = (DEFAULT_SIGNIFICANT_LABEL, DEFAULT_UNTESTED_LABEL, DEFAULT_PREDICTED_LABEL),
) -> Figure:
    """Draw the heatmap on a fresh :class:`Figure` (no pyplot state is touched)."""
    points = _numeric_points(table)
    marks = [_mask(table, significant), _mask(table, untested, "untested mask"),
             _mask(table, predicted, "predicted mask")]
    given = [m is not None for m in (significant, untested, predicted)]
    limit = color_limit(points)
    n_rows, n_cols = points.shape
    figure = Figure(figsize=_figure_size(n_rows, n_cols, sum(given)), dpi=_HEATMAP_DPI, layout="constrained")
    axes = figure.add_subplot()
    cmap = colormaps[_COLORMAP].with_extremes(bad=_NAN_COLOR)
    image = axes.imshow(np.ma.masked_invalid(points), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto",
                        interpolation="nearest")
    _annotate_cells(axes, points, limit, *marks)
    _label_axes(axes, table, title)
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label(f"Δ {metric} vs baseline (points)")
    _legend(figure, given, labels)
    return figure


def _annotate_cells(axes: Axes, points: np.ndarray, limit: float, significant: np.ndarray, untested: np.ndarray,
                    predicted: np.ndarray) -> None:
    """Each cell's signed value and marks; predicted cells hatched, their value in italics (NaN cells blank)."""
    for row, col in np.ndindex(points.shape):
        if predicted[row, col]:
            axes.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, hatch=PREDICTED_HATCH,
                                     edgecolor=(0.25, 0.25, 0.25, 0.5), linewidth=0.0))
        value = float(points[row, col])
        text = format_points(value)
        if not text:
            continue
        text += SIGNIFICANT_MARK if significant[row, col] else ""
        text += UNTESTED_MARK if untested[row, col] else ""
        if predicted[row, col]:  # on a light box, so the hatching does not cross the digits
            axes.text(col, row, text, ha="center", va="center", color="black", fontsize=9, fontstyle="italic",
                      bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
            continue
        color = "white" if abs(value) > 0.6 * limit else "black"
        axes.text(col, row, text, ha="center", va="center", color=color, fontsize=9)


def _legend(figure: Figure, given: Sequence[bool], labels: Sequence[str]) -> None:
    """One legend entry per mark the caller passed, under the heatmap."""
    handles = [Line2D([], [], linestyle="none", marker="$*$", markersize=7, color="black"),
               Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="none",
                      markeredgecolor="black"),
               Patch(facecolor="white", edgecolor="dimgrey", hatch=PREDICTED_HATCH)]
    chosen = [(h, label) for h, label, on in zip(handles, labels, given, strict=True) if on]
    if chosen:
        figure.legend([h for h, _ in chosen], [label for _, label in chosen], loc="outside lower center",
                      ncols=1, frameon=False, fontsize=8, handlelength=1.5)


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
