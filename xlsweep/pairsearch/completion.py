"""The completed aux × target heatmap: observed cells as they are, every unrun cell predicted with an interval.

The pooled model (:mod:`xlsweep.pairsearch.model`, the prior as a feature) is fitted to the test
deltas of every seed of the pairs that ran to full length — and, in a search, to the dev scores
every run reported on the way, full or partial — and predicts each other cell's mean over seeds:
``mean ± z · sqrt(var + noise / seeds)``. :func:`write_completed_csv` writes one row
per cell with ``status`` (``observed``/``predicted``), the value and its interval — the columns the
shared heatmap writer (:mod:`xlsweep.report.aux_table`) will draw, predicted cells hatched; until
then :func:`write_completed_heatmap` draws them itself (outlined, hatched, with a legend).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlsweep.pairsearch.model import PooledModel
from xlsweep.pairsearch.prior import Prior
from xlsweep.pairsearch.world import Pair

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


def complete_grid(pairs: Sequence[Pair], targets: Sequence[str], observed: Mapping[int, np.ndarray], *,
                  prior: Prior | None = None, level: float = 0.9, seeds: int | None = None,
                  partial: Sequence[tuple[int, int, np.ndarray]] = (), dev_levels: int = 0) -> CompletedGrid:
    """Complete a grid from ``observed``: pair index -> (seeds, targets) test deltas of that pair.

    Observed cells keep their mean over seeds (their interval: the model's, for reference); unrun
    cells get the model's prediction of the mean over ``seeds`` seeds (default: as many as observed).
    ``partial`` adds what runs of any length reported: (pair, dev level 0..``dev_levels`` − 1, dev
    score per target) — the dev scores are lower levels of the same model, the test deltas its top
    level (own offsets, scale, noise and interactions, whose spread the pairs run to full length show),
    so a pair screened for a few meta-steps informs its cells.

    Raises:
        ValueError: If nothing was observed.
    """
    from scipy.stats import norm

    if not observed:
        raise ValueError("complete_grid: no pair ran to full length; nothing to complete from")
    n_t = len(targets)
    model = PooledModel(pairs, targets, prior=prior, levels=dev_levels + 1, kinds=[0] * dev_levels + [1])
    rows = [(i, np.asarray(v, dtype=np.float64).reshape(-1, n_t), dev_levels) for i, v in observed.items()]
    rows += [(i, np.asarray(v, dtype=np.float64).reshape(1, n_t), lv) for i, lv, v in partial]
    p = np.concatenate([np.full(v.size, i) for i, v, _ in rows])
    t = np.concatenate([np.tile(np.arange(n_t), len(v)) for _, v, _ in rows])
    lv = np.concatenate([np.full(v.size, k) for _, v, k in rows])
    y = np.concatenate([v.reshape(-1) for _, v, _ in rows])
    fit = model.fit(p, t, y, lv, noise_group=t + n_t * (lv < dev_levels))  # test and dev noise apart
    mean, var = fit.grid(dev_levels)
    n_seeds = seeds or max(np.asarray(v).reshape(-1, n_t).shape[0] for v in observed.values())
    half = float(norm.ppf(0.5 + level / 2)) * np.sqrt(var + fit.noise_var[None, :] / n_seeds)
    value = mean.copy()
    mask = np.zeros(mean.shape, dtype=bool)
    for i, v in observed.items():
        value[i] = np.asarray(v, dtype=np.float64).reshape(-1, n_t).mean(axis=0)
        mask[i] = True
    return CompletedGrid(tuple(pairs), tuple(targets), value, mean - half, mean + half, mask, level)


def write_completed_csv(grid: CompletedGrid, path: str | Path, *, scale: float = 100.0) -> Path:
    """One row per cell: aux, target, status (observed/predicted), value and interval (× ``scale``: points)."""
    out = Path(path)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        pct = f"{grid.level:.0%}"
        writer.writerow(["aux", "target", "status", "delta", f"low_{pct}", f"high_{pct}"])
        for i, pair in enumerate(grid.pairs):
            for k, target in enumerate(grid.targets):
                writer.writerow([pair.label, target, "observed" if grid.observed[i, k] else "predicted",
                                 f"{scale * grid.value[i, k]:.2f}", f"{scale * grid.low[i, k]:.2f}",
                                 f"{scale * grid.high[i, k]:.2f}"])
    return out


def write_completed_heatmap(grid: CompletedGrid, path: str | Path, *, title: str = "", scale: float = 100.0) -> Path:
    """The aux × target heatmap of ``grid``, predicted cells hatched with a legend (points × ``scale``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    values = scale * grid.value
    bound = float(np.abs(values).max()) or 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(grid.targets), 1.2 + 0.42 * len(grid.pairs)))
    image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto")
    for i in range(len(grid.pairs)):
        for k in range(len(grid.targets)):
            predicted = not grid.observed[i, k]
            if predicted:
                ax.add_patch(Rectangle((k - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.45", lw=0))
            dark = abs(values[i, k]) > 0.6 * bound
            ax.text(k, i, f"{values[i, k]:+.1f}", ha="center", va="center", fontsize=7,
                    style="italic" if predicted else "normal", color="white" if dark else "0.15")
    ax.set_xticks(range(len(grid.targets)), grid.targets)
    ax.set_yticks(range(len(grid.pairs)), [p.label for p in grid.pairs])
    ax.set_xlabel("target language")
    ax.set_ylabel("auxiliary (support→query)")
    fig.colorbar(image, ax=ax, label="Δ vs stage 1 (points)")
    ax.legend(handles=[Patch(facecolor="white", edgecolor="0.45", hatch="///",
                             label=f"predicted (pooled model; {grid.level:.0%} interval in the CSV)"),
                       Patch(facecolor="white", edgecolor="0.45", label="observed (mean over seeds)")],
              loc="upper center", bbox_to_anchor=(0.5, -0.08 - 0.4 / max(len(grid.pairs), 1)), fontsize=7, ncol=2)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
