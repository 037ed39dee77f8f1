"""A seed variance pooled over a family of cells: the reports' default test (``--test pooled``).

With 2–3 seeds a cell cannot estimate how much its difference Δ varies from training seed to
training seed; the hierarchical bootstrap over 2 seeds is then anti-conservative (measured in
docs/results/significance.md). Every cell of a sweep shares the same training-noise structure, so
the seed component is estimated once from all the cells corrected together — the empirical-Bayes
idea of the moderated t-statistic (Smyth 2004, §3–4: one variance shared across many parallel
tests) in the random-effects model of a meta-analysis (DerSimonian & Laird 1986):

* per cell c with k seeds, seed s has the observed difference ``Δ_s`` and its within-seed
  (test-sample) variance ``v_s`` from the paired example bootstrap of that seed alone
  (:func:`xlsweep.report.bootstrap.seed_spread`); ``Δ_s = μ_c + u_s + e_s`` with the seed effect
  ``u_s ~ (0, τ²)`` and the test-sample error ``e_s ~ (0, v_s)``;
* ``E[sample variance of Δ_s] = τ² + mean(v_s)``, so the method-of-moments estimate pooled over
  the family, weighted by each cell's degrees of freedom, is
  ``τ̂² = max(0, Σ_c (k_c − 1)(s²_c − mean_c v) / Σ_c (k_c − 1))`` on ``d = Σ_c (k_c − 1)`` degrees of
  freedom (cells of one seed add none, and take the family's τ̂²);
* ``Var(mean Δ_c) = Σ_s v_s / k² + τ̂² / k`` and ``t = mean Δ_c / √Var``; the two-sided p is from
  Student's t on ``d`` degrees of freedom (the normal when ``d = 0``, where nothing estimates τ² and
  the test is over test examples alone). The t reference is conservative when τ² is small against
  the test-sample part, which the bootstrap estimates from hundreds of examples.

Unlike limma, the cell's own seed variance is not mixed in (its 1–2 degrees of freedom would
add little and the family's cells share one training set-up); a family of one cell is a
random-effects test on that cell's own ``k − 1`` degrees of freedom.

References:
    Smyth, G. K. (2004). Linear models and empirical Bayes methods for assessing differential expression
    in microarray experiments. Statistical Applications in Genetics and Molecular Biology 3(1).
    DerSimonian, R., Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical Trials 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PooledSeedVariance", "SeedSpread", "pool_seed_variance", "pooled_p"]


@dataclass(frozen=True)
class SeedSpread:
    """One cell's per-seed differences ``deltas`` and their within-seed (test-sample) variances ``within``."""

    deltas: tuple[float, ...]
    within: tuple[float, ...]

    @property
    def k(self) -> int:
        return len(self.deltas)


@dataclass(frozen=True)
class PooledSeedVariance:
    """The family's excess seed variance ``tau2`` (τ̂², ≥ 0) on ``df`` degrees of freedom."""

    tau2: float
    df: int


def pool_seed_variance(spreads: Sequence[SeedSpread]) -> PooledSeedVariance:
    """τ̂² pooled over ``spreads`` by the method of moments (module docstring); ``tau2 = 0`` when ``df = 0``."""
    df = sum(s.k - 1 for s in spreads if s.k > 1)
    if df == 0:
        return PooledSeedVariance(0.0, 0)
    excess = sum((s.k - 1) * (float(np.var(s.deltas, ddof=1)) - float(np.mean(s.within))) for s in spreads if s.k > 1)
    return PooledSeedVariance(max(0.0, excess / df), df)


def pooled_p(spread: SeedSpread, pooled: PooledSeedVariance) -> tuple[float, float, float]:
    """``(t, se, p)``: the cell's mean Δ over its standard error with the pooled seed component, two-sided."""
    k = spread.k
    delta = float(np.mean(spread.deltas))
    se = float(np.sqrt(np.sum(spread.within) / k**2 + pooled.tau2 / k))
    if se == 0.0:
        return (0.0, 0.0, 1.0) if delta == 0.0 else (np.copysign(np.inf, delta), 0.0, 0.0)
    t = delta / se
    p = float(2 * (stats.t.sf(abs(t), pooled.df) if pooled.df > 0 else stats.norm.sf(abs(t))))
    return t, se, p
