"""Bayesian linear regression with grouped Gaussian priors, one group diagonal (a random effect per cell).

    y = X0 w0 + z · u[cell] + ε,   w0_k ~ N(0, 1/α_g(k)),   u_j ~ N(0, 1/α_u),   ε ~ N(0, 1/β_h(i))

``X0`` holds the fixed and shrunk effects (intercepts, language effects, prior features); each row also
has at most one interaction column ``cell`` with value ``z``, so that block of ``XᵀX`` is diagonal and the
posterior is computed through its Schur complement in ``O(d0³ + m·d0²)`` rather than ``O((d0 + m)³)``.
The precisions α of each group and the noise precision β are set by evidence maximisation (MacKay's
fixed-point updates; Bishop, *PRML* §3.5.2). Groups with a fixed precision (e.g. intercepts, nearly
flat) are not updated. The noise may differ between groups of rows ``h`` (e.g. one per target language:
a language near 100 % varies little between seeds); each group's precision is updated on its own
residuals, its variance floored at 1/1000 of the pooled one.
Pure numpy, float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BLRFit", "fit_blr"]

_ALPHA_RANGE = (1e-6, 1e8)


@dataclass(frozen=True)
class BLRFit:
    """The posterior of :func:`fit_blr`.

    Attributes:
        w0: Posterior mean of the dense weights (d0,).
        u: Posterior mean of the cell effects (m,); 0 for cells without observations.
        s_inv: Posterior covariance of ``w0`` (d0, d0).
        q_dinv: ``Q D⁻¹`` (d0, m), with ``D`` the diagonal of the cell block of the precision matrix.
        d: That diagonal (m,).
        noise_var: 1/β of each noise group (one entry without groups).
        alphas: Group name -> prior precision.
    """

    w0: np.ndarray
    u: np.ndarray
    s_inv: np.ndarray
    q_dinv: np.ndarray
    d: np.ndarray
    noise_var: np.ndarray
    alphas: dict[str, float]

    def mean(self, x0: np.ndarray, cell: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Posterior mean of rows ``x0`` (n, d0) with cell effects ``cell`` (-1: none) scaled by ``z``."""
        if self.u.size == 0:
            return x0 @ self.w0
        u = np.where(cell >= 0, self.u[np.maximum(cell, 0)], 0.0)
        return x0 @ self.w0 + z * u

    def variance(self, x0: np.ndarray, cell: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Posterior variance of the mean of those rows (noise not included)."""
        xs = x0 @ self.s_inv
        v = (xs * x0).sum(axis=1)
        if self.u.size == 0:
            return np.maximum(v, 0.0)
        has = cell >= 0
        j = np.maximum(cell, 0)
        qd = np.where(has[:, None], self.q_dinv[:, j].T, 0.0)  # (n, d0)
        cross = -(xs * qd).sum(axis=1)  # x0 Σ01[:, j]
        sigma11 = 1.0 / self.d[j] + ((qd @ self.s_inv) * qd).sum(axis=1)
        return np.maximum(v + np.where(has, 2 * z * cross + z * z * sigma11, 0.0), 0.0)


def fit_blr(
    x0: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    cell: np.ndarray | None = None,
    z: np.ndarray | None = None,
    n_cells: int = 0,
    cell_group: np.ndarray | None = None,
    noise_group: np.ndarray | None = None,
    fixed: dict[str, float] | None = None,
    iterations: int = 60,
    tol: float = 1e-4,
) -> BLRFit:
    """Fit the model by evidence maximisation.

    Args:
        x0: (n, d0) design matrix of the dense weights.
        y: (n,) targets.
        groups: Group name of each column of ``x0``; each group shares one prior precision.
        cell: (n,) index of each row's cell effect (-1: none); None: no cell effects.
        z: (n,) the value of that column (default 1).
        n_cells: Number of cell effects m.
        cell_group: (m,) prior group of each cell effect, 0..k-1, each with its own precision (``cell``,
            ``cell1``, ...); None: one group.
        noise_group: (n,) noise group of each row, 0..h-1 (None: one noise level).
        fixed: Group name -> a precision kept fixed (e.g. ``{"offset": 1e-6}``).
        iterations: At most this many fixed-point updates.
        tol: Stop when no log-precision moves by more than this.
    """
    n, d0 = x0.shape
    if y.shape != (n,) or len(groups) != d0:
        raise ValueError(f"fit_blr: x0 {x0.shape}, y {y.shape} and {len(groups)} groups do not fit")
    fixed = dict(fixed or {})
    cell = np.full(n, -1) if cell is None else np.asarray(cell)
    z = np.ones(n) if z is None else np.asarray(z, dtype=np.float64)
    noise = np.zeros(n, dtype=int) if noise_group is None else np.asarray(noise_group, dtype=int)
    m = max(n_cells, 1)
    kinds = np.zeros(m, dtype=int) if cell_group is None else np.asarray(cell_group, dtype=int)
    cell_names = ["cell"] + [f"cell{k}" for k in range(1, int(kinds.max()) + 1)]
    names = list(dict.fromkeys(groups)) + cell_names
    col_group = np.array([names.index(g) for g in groups])
    stats = _Stats(x0, y, cell, z, m, noise)
    alpha = {name: fixed.get(name, 1.0) for name in names}
    beta = np.full(stats.h, 1.0 / max(float(np.var(y)), 1e-6))
    for _ in range(iterations):
        a0 = np.array([alpha[names[g]] for g in col_group])
        a_cell = np.array([alpha[cell_names[k]] for k in kinds])
        post = stats.posterior(a0, a_cell, beta)
        gamma0 = 1.0 - a0 * np.diag(post.s_inv)
        diag1 = 1.0 / post.d + ((post.q_dinv.T @ post.s_inv) * post.q_dinv.T).sum(axis=1)
        gamma1 = np.where(stats.observed, 1.0 - a_cell * diag1, 0.0)
        new = dict(alpha)
        for g, name in enumerate(names):
            if name in fixed:
                continue
            if name in cell_names:
                sel1 = kinds == cell_names.index(name)
                num, den = gamma1[sel1].sum(), float((post.u[sel1] ** 2).sum())
            else:
                sel = col_group == g
                num, den = gamma0[sel].sum(), float((post.w0[sel] ** 2).sum())
            if num > 1e-9 and den > 0:
                new[name] = float(np.clip(num / den, *_ALPHA_RANGE))
        beta = stats.noise_precision(post, gamma0.sum() + gamma1.sum())
        # a group whose precision runs off to the upper bound is pruned (its effects ~0): not waited for
        moved = max((abs(np.log(new[k]) - np.log(alpha[k])) for k in names if min(new[k], alpha[k]) < 1e5),
                    default=0.0)
        alpha = new
        if moved < tol:
            break
    post = stats.posterior(np.array([alpha[names[g]] for g in col_group]),
                           np.array([alpha[cell_names[k]] for k in kinds]), beta)
    return BLRFit(w0=post.w0, u=post.u[:n_cells], s_inv=post.s_inv, q_dinv=post.q_dinv[:, :n_cells],
                  d=post.d[:n_cells], noise_var=1.0 / beta, alphas=alpha)


@dataclass(frozen=True)
class _Posterior:
    w0: np.ndarray
    u: np.ndarray
    s_inv: np.ndarray
    q_dinv: np.ndarray
    d: np.ndarray


class _Stats:
    """Sufficient statistics per noise group (XᵀX, Xᵀy and the cell block), computed once per fit."""

    def __init__(self, x0: np.ndarray, y: np.ndarray, cell: np.ndarray, z: np.ndarray, m: int,
                 noise: np.ndarray) -> None:
        self.x0, self.y, self.cell, self.z, self.noise = x0, y, cell, z, noise
        has, j = cell >= 0, np.maximum(cell, 0)
        self.has, self.j = has, j
        self.h = int(noise.max()) + 1 if len(noise) else 1
        d0 = x0.shape[1]
        self.xtx, self.xty = np.zeros((self.h, d0, d0)), np.zeros((self.h, d0))
        self.q, self.dz, self.b1 = np.zeros((self.h, d0, m)), np.zeros((self.h, m)), np.zeros((self.h, m))
        for g in range(self.h):
            rows = noise == g
            xg = x0[rows]
            self.xtx[g], self.xty[g] = xg.T @ xg, xg.T @ y[rows]
            hg = has & rows
            np.add.at(self.q[g].T, j[hg], x0[hg] * z[hg, None])
            np.add.at(self.dz[g], j[hg], z[hg] ** 2)
            np.add.at(self.b1[g], j[hg], z[hg] * y[hg])
        self.count = np.bincount(noise, minlength=self.h)
        self.observed = self.dz.sum(axis=0) > 0

    def posterior(self, a0: np.ndarray, a_cell: np.ndarray, beta: np.ndarray) -> _Posterior:
        q = np.einsum("g,gij->ij", beta, self.q)  # β-weighted cell block
        d = beta @ self.dz + a_cell
        q_dinv = q / d
        s_inv = np.linalg.inv(np.einsum("g,gij->ij", beta, self.xtx) + np.diag(a0) - q_dinv @ q.T)
        s_inv = (s_inv + s_inv.T) / 2
        b1 = beta @ self.b1
        w0 = s_inv @ (beta @ self.xty - q_dinv @ b1)
        u = np.where(self.observed, (b1 - q.T @ w0) / d, 0.0)
        return _Posterior(w0, u, s_inv, q_dinv, d)

    def noise_precision(self, post: _Posterior, gamma: float) -> np.ndarray:
        """Each noise group's precision from its residuals; ``gamma`` effective parameters shared by row count."""
        resid = self.y - self.x0 @ post.w0 - np.where(self.has, self.z * post.u[self.j], 0.0)
        n = max(len(self.y), 1)
        rss = np.bincount(self.noise, weights=resid ** 2, minlength=self.h)
        dof = np.maximum(self.count - gamma * self.count / n, 1.0)
        pooled = max(n - gamma, 1.0) / max(float(rss.sum()), 1e-12)
        # a group's variance is at least 1/1000 of the pooled one (a target at 100 % still has a resolution)
        return np.clip(dof / np.maximum(rss, 1e-12), 1e-6, 1e3 * pooled)
