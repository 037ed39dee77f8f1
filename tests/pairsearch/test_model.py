"""Tests for :mod:`xlsweep.pairsearch.blr` and :mod:`xlsweep.pairsearch.model` (float64, planted tables)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xlsweep.pairsearch.blr import fit_blr
from xlsweep.pairsearch.model import PooledModel
from xlsweep.pairsearch.pair import Pair
from xlsweep.pairsearch.prior import Prior

LANGS = ("a", "b", "c", "d", "e", "f")
TARGETS = LANGS + ("g", "h")
PAIRS = tuple(Pair((s,), (q,)) for s, q in itertools.permutations(LANGS, 2))


def test_the_schur_complement_posterior_equals_the_dense_one() -> None:
    rng = np.random.default_rng(0)
    n, d0, m = 40, 5, 7
    x0 = rng.normal(size=(n, d0))
    cell = rng.integers(-1, m, n)
    z = rng.uniform(0.5, 1.5, n)
    y = rng.normal(size=n)
    groups = ["g1", "g1", "g2", "g2", "g2"]
    alphas = {"g1": 0.7, "g2": 2.5, "cell": 4.0}
    fit = fit_blr(x0, y, groups, cell=cell, z=z, n_cells=m, fixed=alphas, iterations=0)
    beta = 1.0 / fit.noise_var
    # the dense reference: cell effects as m more columns
    x = np.hstack([x0, np.zeros((n, m))])
    x[np.arange(n)[cell >= 0], d0 + cell[cell >= 0]] = z[cell >= 0]
    prior = np.diag([0.7, 0.7, 2.5, 2.5, 2.5] + [4.0] * m)
    sigma = np.linalg.inv(beta * x.T @ x + prior)
    w = beta * sigma @ x.T @ y
    np.testing.assert_allclose(fit.w0, w[:d0], rtol=1e-10, atol=1e-12)
    observed = np.isin(np.arange(m), cell)
    np.testing.assert_allclose(fit.u[observed], w[d0:][observed], rtol=1e-10, atol=1e-12)
    rows = np.hstack([rng.normal(size=(6, d0)), np.zeros((6, m))])
    new_cell = np.array([0, 1, 2, 3, 4, 5])
    new_z = rng.uniform(0.5, 1.5, 6)
    rows[np.arange(6), d0 + new_cell] = new_z
    np.testing.assert_allclose(fit.variance(rows[:, :d0], new_cell, new_z), np.einsum("ij,jk,ik->i", rows, sigma, rows),
                               rtol=1e-9)
    np.testing.assert_allclose(fit.mean(rows[:, :d0], new_cell, new_z), rows @ w, rtol=1e-9, atol=1e-12)


def _planted(rng: np.random.Generator, *, interaction: float = 0.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(pairs, targets) values μ_t + a[s] + b[q] + a[s, t] + b[q, t] (+ an interaction)."""
    n_l, n_t = len(LANGS), len(TARGETS)
    effects = {"mu": rng.normal(0.7, 0.1, n_t), "a": rng.normal(0, 0.02, n_l), "b": rng.normal(0, 0.05, n_l),
               "a_t": rng.normal(0, 0.01, (n_l, n_t)), "b_t": rng.normal(0, 0.03, (n_l, n_t))}
    value = np.zeros((len(PAIRS), n_t))
    for i, p in enumerate(PAIRS):
        s, q = LANGS.index(p.support[0]), LANGS.index(p.query[0])
        value[i] = (effects["mu"] + effects["a"][s] + effects["b"][q] + effects["a_t"][s] + effects["b_t"][q]
                    + interaction * rng.normal(size=n_t))
    return value, effects


def _observe(value: np.ndarray, pairs: list[int], rng: np.random.Generator, noise: float, reps: int = 2):
    p = np.repeat(pairs, reps * len(TARGETS))
    t = np.tile(np.arange(len(TARGETS)), len(pairs) * reps)
    return p, t, value[p, t] + rng.normal(0, noise, len(p))


def test_the_model_recovers_planted_additive_effects() -> None:
    rng = np.random.default_rng(1)
    value, effects = _planted(rng)
    p, t, y = _observe(value, list(range(len(PAIRS))), rng, noise=0.002)
    mean, _ = PooledModel(PAIRS, TARGETS, interaction=False).fit(p, t, y).grid()
    assert np.abs(mean - value).max() < 0.004  # noise 0.002, effects ~0.05
    # the effect of a query language on a target: b[q] + b[q, t], read from pairs with a fixed support
    a_to = {q: PAIRS.index(Pair(("a",), (q,))) for q in LANGS[1:]}
    for tgt in range(len(TARGETS)):
        fitted = [mean[a_to[q], tgt] - mean[a_to["b"], tgt] for q in LANGS[2:]]
        planted = [effects["b"][LANGS.index(q)] + effects["b_t"][LANGS.index(q), tgt]
                   - effects["b"][1] - effects["b_t"][1, tgt] for q in LANGS[2:]]
        np.testing.assert_allclose(fitted, planted, atol=0.004)


def test_pairs_never_run_are_predicted_from_the_pairs_that_share_their_languages() -> None:
    rng = np.random.default_rng(2)
    value, _ = _planted(rng, interaction=0.005)
    seen = [0, 6, 12, 18, 24, 5, 11, 17, 23, 29, 3, 14]  # every language as support and as query
    assert {PAIRS[i].support[0] for i in seen} == set(LANGS) == {PAIRS[i].query[0] for i in seen}
    p, t, y = _observe(value, seen, rng, noise=0.005)
    fit = PooledModel(PAIRS, TARGETS).fit(p, t, y)
    mean, var = fit.grid()
    hidden = [i for i in range(len(PAIRS)) if i not in seen]
    err = mean[hidden] - value[hidden]
    assert np.sqrt(np.mean(err ** 2)) < 0.02  # the values spread over ~0.1
    inside = np.abs(err) <= 1.645 * np.sqrt(var[hidden] + fit.noise_var / 2)
    assert inside.mean() >= 0.8


def test_effects_scale_with_the_resource_level() -> None:
    rng = np.random.default_rng(3)
    value, _ = _planted(rng)
    centred = value - value.mean(axis=0)
    growth = np.array([0.3, 0.6, 1.0])
    p, t, lv, y = [], [], [], []
    for level, g in enumerate(growth):
        pairs = list(range(len(PAIRS))) if level == 0 else list(range(0, len(PAIRS), 3))
        pp, tt, _ = _observe(value, pairs, rng, noise=0.0, reps=1)
        p += list(pp)
        t += list(tt)
        lv += [level] * len(pp)
        y += list(0.5 + level * 0.01 + g * centred[pp, tt] + rng.normal(0, 0.001, len(pp)))
    fit = PooledModel(PAIRS, TARGETS, levels=3, interaction=False).fit(p, t, y, lv)
    np.testing.assert_allclose(fit.kappa, growth / growth[-1], atol=0.05)
    mean, _ = fit.grid()  # the top level: every pair, also those seen at the first level only
    np.testing.assert_allclose(mean - mean.mean(axis=0), centred, atol=0.01)


def _random_prior(rng: np.random.Generator, high: float = 1.0) -> Prior:
    """Symmetric similarities uniform in [0, ``high``] between the targets (1 with itself)."""
    n_t = len(TARGETS)
    sim = rng.uniform(0, high, (n_t, n_t))
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    return Prior("test", {a: {b: float(sim[i, j]) for j, b in enumerate(TARGETS)} for i, a in enumerate(TARGETS)})


def test_the_prior_feature_carries_relatedness_to_pairs_never_run() -> None:
    rng = np.random.default_rng(4)
    prior = _random_prior(rng)
    value = np.array([[0.1 * prior.similarity(p.query[0], t) + 0.03 * prior.similarity(p.support[0], t)
                       for t in TARGETS] for p in PAIRS])
    seen = [0, 7, 14, 21, 28]  # five pairs: few observations per language effect
    p, t, y = _observe(value, seen, rng, noise=0.003)
    hidden = [i for i in range(len(PAIRS)) if i not in seen]
    errors = {}
    for name, pr in (("prior", prior), ("none", None)):
        mean, _ = PooledModel(PAIRS, TARGETS, prior=pr).fit(p, t, y).grid()
        errors[name] = np.sqrt(np.mean((mean[hidden] - value[hidden]) ** 2))
    assert errors["prior"] < 0.5 * errors["none"]


def test_the_source_feature_carries_what_a_language_does_whatever_the_target() -> None:
    # the grids' main effects: a support like the source helps, a query like it does not (model.py's docstring)
    rng = np.random.default_rng(7)
    prior = _random_prior(rng, high=0.6)
    source = "h"  # stage 1's language: not among the pairs' languages
    offset = rng.normal(0.05, 0.02, len(TARGETS))
    value = np.array([offset + 0.1 * prior.similarity(p.support[0], source) - 0.1 * prior.similarity(p.query[0], source)
                      for p in PAIRS])
    seen = [0, 7, 14, 21, 28]
    p, t, y = _observe(value, seen, rng, noise=0.003)
    hidden = [i for i in range(len(PAIRS)) if i not in seen]
    errors = {}
    for name, src in (("source", source), ("none", None)):
        mean, _ = PooledModel(PAIRS, TARGETS, prior=prior, source=src).fit(p, t, y).grid()
        errors[name] = np.sqrt(np.mean((mean[hidden] - value[hidden]) ** 2))
    assert errors["source"] < 0.5 * errors["none"]
    with pytest.raises(ValueError, match="the test prior has no language 'zz'"):
        PooledModel(PAIRS, TARGETS, prior=prior, source="zz")
    assert PooledModel(PAIRS, TARGETS, source="zz").source is None  # no prior: no similarity to anything


def test_a_prior_without_a_language_is_refused() -> None:
    prior = Prior("test", {a: {b: 1.0 for b in LANGS} for a in LANGS})
    with pytest.raises(ValueError, match="the test prior has no language 'g'"):
        PooledModel(PAIRS, TARGETS, prior=prior)


def test_the_noise_is_estimated_per_target() -> None:
    rng = np.random.default_rng(5)
    value, _ = _planted(rng)
    p, t, _ = _observe(value, list(range(len(PAIRS))), rng, noise=0.0, reps=3)
    sd = np.linspace(0.001, 0.04, len(TARGETS))  # a target near 100 % hardly moves between seeds, others do
    y = value[p, t] + rng.normal(size=len(p)) * sd[t]
    fit = PooledModel(PAIRS, TARGETS).fit(p, t, y)
    np.testing.assert_allclose(np.sqrt(fit.noise_var), sd, rtol=0.35)


def test_levels_of_another_kind_get_their_own_interactions() -> None:
    from xlsweep.pairsearch.blr import fit_blr

    rng = np.random.default_rng(6)
    n, m = 200, 20
    cell = rng.integers(0, m, n)
    kind = (np.arange(m) >= 10).astype(int)  # cells 10.. vary ten times more than cells ..9
    u = rng.normal(size=m) * np.where(kind == 1, 1.0, 0.1)
    y = u[cell] + rng.normal(0, 0.05, n)
    fit = fit_blr(np.ones((n, 1)), y, ["offset"], cell=cell, n_cells=m, cell_group=kind, fixed={"offset": 1e-6})
    assert fit.alphas["cell1"] < 0.2 * fit.alphas["cell"]  # precision = 1 / variance, per group


def test_the_prior_kernel_lends_a_language_never_run_as_query_the_effects_of_its_relatives() -> None:
    # two clusters of languages, {a, b, c} and {d, e, f}: the prior says so, and the effects follow it
    cluster = {lang: int(lang in "def") for lang in TARGETS}
    sim = {x: {y: 1.0 if x == y else (0.9 if cluster[x] == cluster[y] else 0.05) for y in TARGETS} for x in TARGETS}
    prior = Prior("clusters", sim)
    rng = np.random.default_rng(3)
    effect = rng.normal(0, 0.05, (2, len(TARGETS)))  # per cluster and target
    query = {lang: effect[cluster[lang]] + rng.normal(0, 0.005, len(TARGETS)) for lang in LANGS}
    truth = np.array([query[p.query[0]] for p in PAIRS])  # (pairs, targets)
    seen = [i for i, p in enumerate(PAIRS) if p.query != ("e",)]
    hidden = [i for i, p in enumerate(PAIRS) if p.query == ("e",)]
    p_idx = np.repeat(seen, len(TARGETS))
    t_idx = np.tile(np.arange(len(TARGETS)), len(seen))
    y = truth[seen].ravel() + rng.normal(0, 0.002, len(p_idx))
    errors = {}
    for kernel in (0.0, 0.8):
        fit = PooledModel(PAIRS, TARGETS, prior=prior, kernel=kernel).fit(p_idx, t_idx, y)
        mean, _ = fit.grid()
        errors[kernel] = float(np.sqrt(np.mean((mean[hidden] - truth[hidden]) ** 2)))
    assert errors[0.8] < 0.5 * errors[0.0]
    with pytest.raises(ValueError, match=r"kernel: got 1.5; expected a weight in \[0, 1\]"):
        PooledModel(PAIRS, TARGETS, prior=prior, kernel=1.5)
