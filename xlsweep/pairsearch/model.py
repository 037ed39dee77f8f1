"""The pooled additive-plus-interaction model of a pair grid: one pair's run informs every pair sharing a language.

For a pair ``p = (S → Q)``, a target language ``t`` and a resource level ``r`` (meta-steps), a score
(a dev score during the search, a test delta for the completed heatmap) is modelled as

    y(p, t, r) = μ[t, r] + κ[r] · ( a[S] + b[Q] + a[S, t] + b[Q, t]         additive language effects
                                    + c_self · ([t ∈ S], [t ∈ Q])            a language helps itself
                                    + c_prior · (sim(S, t), sim(Q, t))       the prior, as a feature
                                    + c_src · (sim(S, src), sim(Q, src))     ... and the source language
                                    + e[p, t] )                              shrunk interaction
                 + noise

``a``/``b`` are effects of a support/query language on every target, ``a[S, t]``/``b[Q, t]`` their
per-target deviations (a set's effect is its members' mean), ``sim`` the prior's similarity of the
set's closest member to ``t``, ``src`` the language the encoder was fine-tuned on before the meta-learning
(stage 1: English for XNLI). The source features carry what a pair's languages do whatever the target. Without
them a language's main effects are learnt only from the pairs that ran it. With a prior, the language effects
of each group are correlated as the prior's similarities say (covariance ``λ·sim + (1 − λ)·I``, :data:`KERNEL`).
Every effect group has a Gaussian prior whose precision, and the noise, are set by evidence maximisation
(:mod:`xlsweep.pairsearch.blr`): the data decide how much each group is shrunk, and where a pair was never run
its value is the additive part, with an interval that includes the interaction's prior variance. The noise is
estimated per target language. ``κ[r]`` scales effects with the resource (a run at 5 meta-steps has moved less
than one at 40); it is fitted by alternating least squares between levels, the highest observed level fixed at
1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from xlsweep.pairsearch.blr import BLRFit, fit_blr
from xlsweep.pairsearch.pair import Pair
from xlsweep.pairsearch.prior import Prior

__all__ = ["KERNEL", "PooledFit", "PooledModel"]

KERNEL = 0.8
"""Default weight of the prior's similarity in the language effects' covariance."""


class PooledModel:
    """The model's design over fixed pairs, targets and resource levels.

    Args:
        pairs: The candidates (every cell of the grid's auxiliary axis).
        targets: The target languages.
        levels: Number of resource levels (1: a single level, e.g. final test deltas).
        prior: Similarities as features (None: no prior features).
        interaction: Whether pair × target interactions are modelled.
        kernel: Weight λ of the prior's similarity in the language effects' prior covariance
            ``λ·sim + (1 − λ)·I`` (0: independent effects; no prior: independent).
        source: The stage-1 source language: its prior similarity to a pair's support and query sets are two
            more features (None, or no prior: not modelled). The prior must know it.
    """

    def __init__(self, pairs: Sequence[Pair], targets: Sequence[str], *, levels: int = 1,
                 prior: Prior | None = None, interaction: bool = True, kinds: Sequence[int] | None = None,
                 kernel: float = KERNEL, source: str | None = None) -> None:
        if not 0 <= kernel <= 1:
            raise ValueError(f"kernel: got {kernel}; expected a weight in [0, 1] (0: independent language effects)")
        self.pairs, self.targets, self.levels, self.kernel = tuple(pairs), tuple(targets), levels, kernel
        # the kind of each level: levels of another kind (test deltas after dev scores) get interactions of their own
        self.kinds = np.zeros(levels, dtype=int) if kinds is None else np.asarray(kinds, dtype=int)
        self.prior, self.interaction = prior, interaction
        self.source = source if prior is not None else None
        if prior is not None:
            prior.check([lang for p in self.pairs for lang in p.languages] + list(self.targets)
                        + ([source] if source else []))
        self.support_langs = sorted({lang for p in self.pairs for lang in p.support})
        self.query_langs = sorted({lang for p in self.pairs for lang in (p.query or p.support)})
        self._cells = self._cell_features()  # (pairs * targets, d_effects)

    @property
    def n_cells(self) -> int:
        return len(self.pairs) * len(self.targets) * (int(self.kinds.max()) + 1)

    def _cell(self, pair: np.ndarray, target: np.ndarray, level: np.ndarray) -> np.ndarray:
        return pair * len(self.targets) + target + self.kinds[level] * len(self.pairs) * len(self.targets)

    def _cell_features(self) -> np.ndarray:
        n_s, n_q, n_t = len(self.support_langs), len(self.query_langs), len(self.targets)
        groups = (["support"] * n_s + ["query"] * n_q + ["support_t"] * (n_s * n_t) + ["query_t"] * (n_q * n_t)
                  + ["self"] * 2 + (["prior"] * 2 if self.prior is not None else [])
                  + (["source"] * 2 if self.source is not None else []))
        self.effect_groups = groups
        rows = np.zeros((len(self.pairs), n_t, len(groups)))
        for i, pair in enumerate(self.pairs):
            query = pair.query or pair.support
            for t, target in enumerate(self.targets):
                row = rows[i, t]
                for lang in pair.support:
                    s = self.support_langs.index(lang)
                    row[s] += 1 / len(pair.support)
                    row[n_s + n_q + s * n_t + t] += 1 / len(pair.support)
                for lang in query:
                    q = self.query_langs.index(lang)
                    row[n_s + q] += 1 / len(query)
                    row[n_s + n_q + n_s * n_t + q * n_t + t] += 1 / len(query)
                base = n_s + n_q + (n_s + n_q) * n_t
                row[base], row[base + 1] = float(target in pair.support), float(target in query)
                if self.prior is not None:
                    row[base + 2] = self.prior.set_similarity(pair.support, target)
                    row[base + 3] = self.prior.set_similarity(query, target)
                    if self.source is not None:
                        row[base + 4] = self.prior.set_similarity(pair.support, self.source)
                        row[base + 5] = self.prior.set_similarity(query, self.source)
        if self.prior is not None and self.kernel > 0:
            # language effects correlated as the prior says: effects ~ N(0, σ² K) with K = λ·sim + (1 − λ)·I,
            # i.e. iid effects u behind the columns x·C, C = K^½ — a language that never ran as a query
            # borrows from the related ones that did
            base_t = n_s + n_q  # the per-target columns: language-major, target-minor
            for langs, first, first_t in ((self.support_langs, 0, base_t), (self.query_langs, n_s, base_t + n_s * n_t)):
                root, n = self._root(langs), len(langs)
                for cols in [first + np.arange(n)] + [first_t + np.arange(n) * n_t + t for t in range(n_t)]:
                    rows[..., cols] = rows[..., cols] @ root
        return rows.reshape(len(self.pairs) * n_t, len(groups))

    def _root(self, langs: Sequence[str]) -> np.ndarray:
        """The symmetric square root of ``K = λ·sim + (1 − λ)·I`` over ``langs`` (eigenvalues floored at 0)."""
        assert self.prior is not None
        sim = np.array([[self.prior.similarity(a, b) for b in langs] for a in langs])
        k = self.kernel * (sim + sim.T) / 2 + (1 - self.kernel) * np.eye(len(langs))
        values, vectors = np.linalg.eigh(k)
        return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T

    def _design(self, pair: np.ndarray, target: np.ndarray, level: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Rows of the design: the (target, level) offset, then the cell's effect features times ``scale``."""
        offsets = np.zeros((len(pair), len(self.targets) * self.levels))
        offsets[np.arange(len(pair)), target * self.levels + level] = 1.0
        cells = self._cells[pair * len(self.targets) + target] * scale[:, None]
        return np.hstack([offsets, cells])

    def fit(self, pair: ArrayLike, target: ArrayLike, y: ArrayLike, level: ArrayLike | None = None, *,
            noise_group: ArrayLike | None = None, rounds: int = 3) -> PooledFit:
        """Fit to observations ``y`` of (pair index, target index, level index).

        ``noise_group`` gives each row its noise level (default: its target; groups ``0 .. targets − 1``
        are the ones :attr:`PooledFit.noise_var` reports).

        Raises:
            ValueError: If there are no observations or an index is out of range.
        """
        p, t = np.asarray(pair, dtype=int), np.asarray(target, dtype=int)
        lv = np.zeros_like(p) if level is None else np.asarray(level, dtype=int)
        yy = np.asarray(y, dtype=np.float64)
        if len(yy) == 0:
            raise ValueError("PooledModel.fit: no observations")
        if p.max() >= len(self.pairs) or t.max() >= len(self.targets) or lv.max() >= self.levels:
            raise ValueError("PooledModel.fit: a pair, target or level index is out of range")
        groups = ["offset"] * (len(self.targets) * self.levels) + self.effect_groups
        top = int(lv.max())
        kappa = np.ones(self.levels)
        seen = np.unique(lv)
        for round_ in range(rounds):
            x = self._design(p, t, lv, kappa[lv])
            cell = self._cell(p, t, lv) if self.interaction else None
            kinds = np.repeat(np.arange(int(self.kinds.max()) + 1), len(self.pairs) * len(self.targets))
            blr = fit_blr(x, yy, groups, cell=cell, z=kappa[lv], n_cells=self.n_cells if self.interaction else 0,
                          cell_group=kinds if self.interaction else None,
                          noise_group=t if noise_group is None else np.asarray(noise_group, dtype=int),
                          fixed={"offset": 1e-6})
            if len(seen) < 2 or round_ == rounds - 1:
                break
            kappa = self._refit_kappa(blr, p, t, lv, yy, kappa, top)
        # a level without observations borrows the offset and scale of the closest observed level below it
        # (above it for levels below every observation): no further growth is assumed beyond the data
        nearest = np.array([max((s for s in seen if s <= level), default=int(seen.min()))
                            for level in range(self.levels)])
        return PooledFit(self, blr, kappa[nearest], nearest)

    def _refit_kappa(self, blr: BLRFit, p: np.ndarray, t: np.ndarray, lv: np.ndarray, y: np.ndarray,
                     kappa: np.ndarray, top: int) -> np.ndarray:
        n_off = len(self.targets) * self.levels
        offset = blr.w0[t * self.levels + lv]
        effect = self._cells[p * len(self.targets) + t] @ blr.w0[n_off:]
        if self.interaction:
            effect = effect + blr.u[self._cell(p, t, lv)]
        new = kappa.copy()
        for level in np.unique(lv):
            sel = lv == level
            den = float(effect[sel] @ effect[sel])
            if den > 1e-12:
                new[level] = float((y[sel] - offset[sel]) @ effect[sel]) / den
        new = np.clip(new / new[top], 0.05, 5.0)
        return new


@dataclass(frozen=True)
class PooledFit:
    """A fitted :class:`PooledModel`: predictions with their uncertainty."""

    model: PooledModel
    blr: BLRFit
    kappa: np.ndarray  # (levels,) effect scale at each level
    offset_level: np.ndarray  # (levels,) the observed level whose offsets a level uses

    @property
    def noise_var(self) -> np.ndarray:
        """(targets,) noise variance of one observation of each target (targets differ: one near 100 % hardly
        varies between seeds); a target without observations gets the largest."""
        v = np.asarray(self.blr.noise_var, dtype=np.float64)
        n_t = len(self.model.targets)
        out = np.full(n_t, float(v.max()))
        out[: min(len(v), n_t)] = v[:n_t]
        return out

    def predict(self, pair: ArrayLike, target: ArrayLike, level: ArrayLike | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance (of the mean, noise excluded) at (pair, target, level; default: the top)."""
        m = self.model
        p, t = np.asarray(pair, dtype=int), np.asarray(target, dtype=int)
        lv = np.full_like(p, m.levels - 1) if level is None else np.broadcast_to(np.asarray(level, dtype=int), p.shape)
        x = m._design(p, t, self.offset_level[lv], self.kappa[lv])
        cell = m._cell(p, t, lv) if m.interaction else np.full_like(p, -1)
        return self.blr.mean(x, cell, self.kappa[lv]), self.blr.variance(x, cell, self.kappa[lv])

    def grid(self, level: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of every (pair, target) cell, as (pairs, targets) arrays."""
        m = self.model
        p, t = np.meshgrid(np.arange(len(m.pairs)), np.arange(len(m.targets)), indexing="ij")
        mean, var = self.predict(p.ravel(), t.ravel(), level)
        return mean.reshape(p.shape), var.reshape(p.shape)
