"""The pooled test (the reports' default): the family's seed variance against a hand computation in float64, the
per-seed spread against the analytical test-sample variance, and its level under a null with seed variance where the
hierarchical bootstrap over 2 seeds over-rejects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xlsweep.report.bootstrap import paired_bootstrap, seed_spread
from xlsweep.report.pooled import PooledSeedVariance, SeedSpread, pool_seed_variance, pooled_p
from xlsweep.report.stats import holm, paired_test, pool_tests
from xlsweep.report.verdict import Evidence, TestOptions, compare
from xlsweep.tasks.outcomes import full_sample


def test_pooled_seed_variance_and_p_against_a_hand_computation() -> None:
    a = SeedSpread((0.03, 0.01), (1e-4, 2e-4))  # s² = 2e-4, mean v = 1.5e-4: excess 0.5e-4 on 1 df
    b = SeedSpread((0.00, 0.03, 0.03), (1e-4, 1e-4, 1e-4))  # s² = 3e-4, mean v = 1e-4: excess 2e-4 on 2 df
    c = SeedSpread((0.02,), (1e-4,))  # one seed: no df, takes the family's τ²
    pooled = pool_seed_variance([a, b, c])
    tau2 = (1 * 0.5e-4 + 2 * 2e-4) / 3
    assert pooled.df == 3 and pooled.tau2 == pytest.approx(tau2, rel=1e-12)
    t, se, p = pooled_p(a, pooled)
    assert se == pytest.approx(math.sqrt((1e-4 + 2e-4) / 4 + tau2 / 2), rel=1e-12)
    assert t == pytest.approx(0.02 / se, rel=1e-12)
    assert p == pytest.approx(2 * stats.t.sf(0.02 / se, 3), rel=1e-10)
    _, se_c, p_c = pooled_p(c, pooled)
    assert se_c == pytest.approx(math.sqrt(1e-4 + tau2), rel=1e-12)
    assert p_c == pytest.approx(2 * stats.t.sf(0.02 / se_c, 3), rel=1e-10)
    # the excess is floored at 0; without 2-seed cells the test is over the examples, with the normal reference
    assert pool_seed_variance([SeedSpread((0.01, 0.01), (1e-4, 1e-4))]) == PooledSeedVariance(0.0, 1)
    assert pool_seed_variance([c]) == PooledSeedVariance(0.0, 0)
    assert pooled_p(c, PooledSeedVariance(0.0, 0))[2] == pytest.approx(math.erfc(2.0 / math.sqrt(2)), rel=1e-12)


def test_the_seed_spread_is_each_seeds_observed_delta_and_test_sample_variance() -> None:
    rng = np.random.default_rng(1)
    ours = [(rng.random(2000) < p).astype(np.int64)[:, None] for p in (0.62, 0.58)]
    theirs = [(rng.random(2000) < 0.55).astype(np.int64)[:, None] for _ in range(2)]
    spread = seed_spread("nli", "acc", [{"a": o} for o in ours], [{"a": t} for t in theirs], ["a"],
                         resamples=4000, seed=2)
    for j in range(2):
        d = (ours[j] - theirs[j])[:, 0].astype(np.float64)
        observed = full_sample("nli", ours[j])["acc"] - full_sample("nli", theirs[j])["acc"]
        assert spread.deltas[j] == pytest.approx(observed, abs=1e-15)
        assert spread.within[j] == pytest.approx(np.var(d, ddof=0) / len(d), rel=0.1)  # plug-in variance of a mean


def _null_family(rng: np.random.Generator, cells: int, seed_sd: float) -> list[tuple[dict[int, float], dict[int, float],
                                                                                     Evidence]]:
    """``cells`` null cells of 2 seeds: row and reference from one distribution, with a per-model seed shift."""
    family = []
    for _ in range(cells):
        difficulty = rng.normal(0.0, 1.5, 300)

        def model(difficulty: np.ndarray = difficulty) -> np.ndarray:
            shift = rng.normal(0.0, seed_sd)
            return (difficulty + shift + rng.normal(0.0, 1.0, 300) > 0).astype(np.int64)[:, None]

        rows, refs = {s: {"a": model()} for s in range(2)}, {s: {"a": model()} for s in range(2)}
        values = {s: float(r["a"].mean()) for s, r in rows.items()}
        bases = {s: float(r["a"].mean()) for s, r in refs.items()}
        family.append((values, bases, Evidence("nli", "acc", rows, refs)))
    return family


def test_under_a_null_with_seed_variance_the_pooled_test_holds_its_level_and_the_bootstrap_does_not() -> None:
    """20 families of 10 null cells, 2 seeds, a seed shift (sd 0.2) larger than the test-sample noise; fixed seeds,
    so the counts are fixed. Nominal 5% per test and family-wise after Holm."""
    rng = np.random.default_rng(21)
    options = TestOptions(resamples=200)
    pooled_marks = boot_marks = pooled_fw = boot_fw = 0
    for f in range(20):
        family = _null_family(rng, 10, 0.2)
        tests = pool_tests([compare(v, b, evidence=e, languages=["a"], options=options) for v, b, e in family])
        assert {t.method for t in tests} == {"pooled"} and all("pooled over 10 cells (10 df)" in t.note for t in tests)
        boot = [paired_bootstrap("nli", "acc", [e.row[s] for s in (0, 1)], [e.reference[s] for s in (0, 1)], ["a"],
                                 resamples=200, seed=f * 10 + i).p for i, (_, _, e) in enumerate(family)]
        pooled_marks += sum(t.p < 0.05 for t in tests)
        boot_marks += sum(p < 0.05 for p in boot)
        pooled_fw += any(p < 0.05 for p in holm([t.p for t in tests]))
        boot_fw += any(p < 0.05 for p in holm(boot))
    # 200 tests: the binomial 95% band at 5% is 2–8% (4–16); the bootstrap over 2 seeds rejects far more
    assert pooled_marks <= 16 and boot_marks >= 30, (pooled_marks, boot_marks)
    assert pooled_fw <= 3 and boot_fw >= 6, (pooled_fw, boot_fw)


def test_a_family_lends_its_seed_variance_to_each_cell() -> None:
    """A cell alone has 1 df for its seed variance and no power; in a family of 10 cells it has 10 (the t-test over
    2 seeds cannot mark it either)."""
    rng = np.random.default_rng(5)
    options = TestOptions(resamples=300)
    family = _null_family(rng, 9, 0.0)  # seeds vary no more than their test samples
    gain = {s: {"a": np.maximum(family[0][2].reference[s]["a"], (rng.random(300) < 0.2)[:, None])} for s in (0, 1)}
    values = {s: float(r["a"].mean()) for s, r in gain.items()}
    alone = compare(values, family[0][1], evidence=Evidence("nli", "acc", gain, family[0][2].reference),
                    languages=["a"], options=options)
    pooled = pool_tests([alone, *(compare(v, b, evidence=e, languages=["a"], options=options)
                                  for v, b, e in family[1:])])
    t_test = paired_test(values, family[0][1])
    assert alone.method == "pooled" and alone.p > 0.05 and pooled[0].p < 0.001, (alone.p, pooled[0].p)
    assert t_test.p > 0.001
    # tests of another kind pass through untouched
    assert pool_tests([t_test]) == [t_test]
