"""The completed aux × target heatmap: observed cells as they are, every unrun cell predicted with an interval.

The pooled model (:mod:`xlsweep.pairsearch.model`, the prior as a feature) is fitted to the test
deltas of every seed of the pairs that ran to full length — and, in a search, to the dev scores
every run reported on the way, full or partial — and predicts each other cell's mean over seeds:
``mean ± z · sqrt(var + noise / seeds)``, ``z`` calibrated by leave-one-pair-out.
:func:`write_completed_csv` writes one row per cell with ``status``
(``observed``/``predicted``), the value and its interval;
:func:`write_completed_heatmap` draws the grid with the reports' heatmap writer, predicted cells hatched.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlsweep.pairsearch.model import PooledModel
from xlsweep.pairsearch.pair import Pair
from xlsweep.pairsearch.prior import Prior
from xlsweep.tracking.runs import points_written

__all__ = ["CompletedGrid", "complete_grid", "write_completed_csv", "write_completed_heatmap"]


@dataclass(frozen=True)
class CompletedGrid:
    """(pairs, targets) arrays: the value of each cell, its interval and whether it was observed."""

    pairs: tuple[Pair, ...]
    targets: tuple[str, ...]
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    observed: np.ndarray  # bool
    level: float
    z: float = 1.6448536269514722  # the intervals' half-width in predictive sds (normal: 1.645 at 90 %)

    @property
    def predicted(self) -> np.ndarray:
        """The model's mean of every cell, observed ones included (the centre of the symmetric intervals)."""
        return (self.low + self.high) / 2


def complete_grid(pairs: Sequence[Pair], targets: Sequence[str], observed: Mapping[int, np.ndarray], *,
                  prior: Prior | None = None, level: float = 0.9, seeds: int | None = None,
                  partial: Sequence[tuple[int, int, np.ndarray]] = (), dev_levels: int = 0,
                  calibrate: bool = True, source: str | None = None) -> CompletedGrid:
    """Complete a grid from ``observed``: pair index -> (seeds, targets) test deltas of that pair.

    Observed cells keep their mean over seeds (their interval: the model's, for reference); unrun
    cells get the model's prediction of the mean over ``seeds`` seeds (default: as many as observed).
    ``partial`` adds what runs of any length reported: (pair, dev level 0..``dev_levels`` − 1, dev
    score per target) — the dev scores are lower levels of the same model, the test deltas its top
    level (own offsets, scale, noise and interactions, whose spread the pairs run to full length show),
    so a pair screened for a few meta-steps informs its cells.

    The intervals are ``mean ± z · sd``. With ``calibrate`` and at least 3 observed pairs, ``z`` is
    set by leave-one-pair-out: each observed pair is predicted from the others (its partial runs
    kept, as an unrun pair's are), and ``z`` is the conformal quantile of the held-out cells'
    ``|actual − predicted| / sd`` at ``level`` — never below the normal quantile. A model fitted by
    evidence maximisation on a few pairs underestimates its own error.
    With fewer than 3 pairs a held-out pair's test level would rest on one pair: the interval is then
    the model's own, and too narrow.
    ``source``: the stage-1 source language, a feature with the prior (:class:`~xlsweep.pairsearch.model.PooledModel`).

    Raises:
        ValueError: If nothing was observed.
    """
    from scipy.stats import norm

    if not observed:
        raise ValueError("complete_grid: no pair ran to full length; nothing to complete from")
    n_t = len(targets)
    full = {i: np.asarray(v, dtype=np.float64).reshape(-1, n_t) for i, v in observed.items()}
    n_seeds = seeds or max(v.shape[0] for v in full.values())
    model = PooledModel(pairs, targets, prior=prior, levels=dev_levels + 1, kinds=[0] * dev_levels + [1],
                        source=source)
    fit = functools.partial(_fit, model, partial=partial, dev_levels=dev_levels, n_seeds=n_seeds)
    mean, sd = fit(full)
    z = float(norm.ppf(0.5 + level / 2))
    if calibrate and len(full) >= 3:
        scores = []
        for i in full:
            m_i, sd_i = fit({j: v for j, v in full.items() if j != i})
            scores.append(np.abs(full[i].mean(axis=0) - m_i[i]) / np.maximum(sd_i[i], 1e-12))
        flat = np.sort(np.concatenate(scores))
        rank = min(len(flat), math.ceil((len(flat) + 1) * level))  # the conformal quantile
        z = max(z, float(flat[rank - 1]))
    value = mean.copy()
    mask = np.zeros(mean.shape, dtype=bool)
    for i, v in full.items():
        value[i] = v.mean(axis=0)
        mask[i] = True
    return CompletedGrid(tuple(pairs), tuple(targets), value, mean - z * sd, mean + z * sd, mask, level, z)


def _fit(model: PooledModel, full: Mapping[int, np.ndarray], *, partial: Sequence[tuple[int, int, np.ndarray]],
         dev_levels: int, n_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """``model`` fitted to ``full`` (and ``partial``): every cell's predicted mean over ``n_seeds`` seeds and its
    predictive sd (posterior variance plus the noise of that mean), as (pairs, targets) arrays."""
    n_t = len(model.targets)
    rows = [(i, v, dev_levels) for i, v in full.items()]
    rows += [(i, np.asarray(v, dtype=np.float64).reshape(1, n_t), lv) for i, lv, v in partial]
    p = np.concatenate([np.full(v.size, i) for i, v, _ in rows])
    t = np.concatenate([np.tile(np.arange(n_t), len(v)) for _, v, _ in rows])
    lv = np.concatenate([np.full(v.size, k) for _, v, k in rows])
    y = np.concatenate([v.reshape(-1) for _, v, _ in rows])
    fitted = model.fit(p, t, y, lv, noise_group=t + n_t * (lv < dev_levels))  # test and dev noise apart
    mean, var = fitted.grid(dev_levels)
    return mean, np.sqrt(var + fitted.noise_var[None, :] / n_seeds)


def write_completed_csv(grid: CompletedGrid, path: str | Path) -> Path:
    """One row per cell: aux, target, status (observed/predicted), value and interval, in points to 2 decimals
    (:func:`~xlsweep.tracking.runs.points_written`, as every file gives them)."""
    out = Path(path)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        pct = f"{grid.level:.0%}"
        writer.writerow(["aux", "target", "status", "delta (points)", f"low_{pct}", f"high_{pct}"])
        for i, pair in enumerate(grid.pairs):
            for k, target in enumerate(grid.targets):
                writer.writerow([pair.label, target, "observed" if grid.observed[i, k] else "predicted",
                                 *(points_written(float(a[i, k])) for a in (grid.value, grid.low, grid.high))])
    return out


def write_completed_heatmap(grid: CompletedGrid, path: str | Path, *, title: str = "", scale: float = 100.0) -> Path:
    """The aux × target heatmap of ``grid`` in points × ``scale`` / 100, drawn by the reports' heatmap writer
    (:func:`xlsweep.report.heatmap.write_heatmap`): predicted cells hatched, values in italics, with a legend."""
    import pandas as pd

    from xlsweep.report.heatmap import write_heatmap

    table = pd.DataFrame(grid.value * (scale / 100.0), index=[p.label for p in grid.pairs], columns=list(grid.targets))
    return write_heatmap(table, path, title=title, metric="test score", predicted=~grid.observed,
                         predicted_label=f"predicted (pooled model; {grid.level:.0%} interval in the CSV)")
