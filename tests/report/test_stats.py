"""Seeds as repeats: mean, sample std and the one-sided paired t-test, against scipy and a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xlsweep.report.stats import holm, mean, paired_test, std, tied_with_best


def test_mean_and_sample_std_by_hand() -> None:
    values = [0.5, 0.7, 0.6]
    assert mean(values) == pytest.approx(0.6)
    assert std(values) == pytest.approx(math.sqrt(((0.1) ** 2 + 0.1**2 + 0) / 2))  # ddof=1


def test_mean_of_nothing_and_std_of_fewer_than_two_are_nan() -> None:
    assert math.isnan(mean([]))
    assert math.isnan(std([0.4]))
    assert math.isnan(std([]))


def test_non_finite_values_are_rejected_naming_them() -> None:
    with pytest.raises(ValueError, match="expected finite numbers, got nan"):
        mean([0.1, math.nan])
    with pytest.raises(ValueError, match="baseline: expected finite numbers, got inf"):
        paired_test({0: 0.5, 1: 0.6}, {0: 0.5, 1: math.inf})


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_matches_scipy_ttest_rel_and_a_float64_hand_computation(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ours = rng.uniform(0.4, 0.7, n)
    base = ours - rng.normal(0.01, 0.02, n)
    result = paired_test(dict(enumerate(ours)), dict(enumerate(base)))

    reference = scipy_stats.ttest_rel(ours, base, alternative="greater")
    diffs = ours.astype(np.float64) - base.astype(np.float64)
    sd = math.sqrt(sum((d - diffs.mean()) ** 2 for d in diffs) / (n - 1))
    t_hand = diffs.mean() / (sd / math.sqrt(n))
    p_hand = scipy_stats.t.sf(t_hand, df=n - 1)  # one-sided: P(T > t)

    assert result.tested and result.n == n
    assert result.t == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-12)
    assert result.t == pytest.approx(t_hand, rel=1e-10)
    assert result.p == pytest.approx(p_hand, rel=1e-10)
    assert result.mean_diff == pytest.approx(diffs.mean())
    assert result.std_diff == pytest.approx(sd)
    assert result.significant == (reference.pvalue < 0.05)


def test_a_clear_improvement_is_significant_and_a_noisy_one_is_not() -> None:
    # differences +.06, +.05, +.07: t = .06 / (.01 / sqrt 3) = 10.39, df 2, p = 0.0046
    clear = paired_test({0: 0.56, 1: 0.55, 2: 0.57}, {0: 0.5, 1: 0.5, 2: 0.5})
    assert clear.t == pytest.approx(0.06 / (0.01 / math.sqrt(3)))
    assert clear.p == pytest.approx(0.00457, abs=1e-4)
    assert clear.significant
    # differences +.01, -.01, +.03: t = .01 / (.02 / sqrt 3) = 0.866, p = 0.239
    noisy = paired_test({0: 0.61, 1: 0.59, 2: 0.63}, {0: 0.6, 1: 0.6, 2: 0.6})
    assert noisy.p == pytest.approx(0.2387, abs=1e-3)
    assert not noisy.significant


def test_one_sided_a_significant_loss_is_not_an_improvement() -> None:
    worse = paired_test({0: 0.44, 1: 0.45, 2: 0.43}, {0: 0.5, 1: 0.5, 2: 0.5})
    assert worse.t < 0 and worse.p > 0.99 and not worse.significant


def test_alpha_decides() -> None:
    values, base = {0: 0.61, 1: 0.59, 2: 0.63}, {0: 0.6, 1: 0.6, 2: 0.6}  # p = 0.239
    assert paired_test(values, base, alpha=0.3).significant
    assert not paired_test(values, base, alpha=0.2).significant
    with pytest.raises(ValueError, match=r"alpha: expected a significance level in \(0, 1\), got 1.5"):
        paired_test(values, base, alpha=1.5)


def test_pairs_are_matched_by_seed_and_unpaired_seeds_left_out() -> None:
    values = {2: 0.57, 0: 0.56, 1: 0.55, 7: 0.10}
    base = {0: 0.50, 1: 0.50, 2: 0.50, 9: 0.90}
    result = paired_test(values, base)
    assert result.n == 3
    assert result.mean_diff == pytest.approx(0.06)
    shuffled = paired_test({0: 0.56, 1: 0.55, 2: 0.57}, {0: 0.50, 1: 0.49, 2: 0.52})
    reference = scipy_stats.ttest_rel([0.56, 0.55, 0.57], [0.50, 0.49, 0.52], alternative="greater")
    assert shuffled.p == pytest.approx(reference.pvalue)


def test_fewer_than_two_pairs_is_not_tested_and_not_significant() -> None:
    one = paired_test({0: 0.9}, {0: 0.1})
    assert not one.tested and not one.significant
    assert one.reason == "not tested: 1 seed pair, a paired test needs 2"
    assert one.n == 1 and one.mean_diff == pytest.approx(0.8)
    assert math.isnan(one.t) and math.isnan(one.p) and math.isnan(one.std_diff)
    none = paired_test({0: 0.9}, {1: 0.1})
    assert none.n == 0 and math.isnan(none.mean_diff) and "0 seed pairs" in none.reason


def test_zero_variance_of_differences_is_not_tested_even_when_positive() -> None:
    same = paired_test({0: 0.6, 1: 0.7, 2: 0.8}, {0: 0.5, 1: 0.6, 2: 0.7})  # every difference +0.1
    assert not same.tested and not same.significant
    assert "all 3 differences equal (+10 points)" in same.reason and "zero variance" in same.reason
    assert same.mean_diff == pytest.approx(0.1) and same.std_diff == pytest.approx(0.0, abs=1e-12)
    zero = paired_test({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5})
    assert not zero.tested and not zero.significant


def test_holm_by_hand() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.04 -> 4·0.01, max(., 3·0.02), max(., 2·0.03), max(., 1·0.04)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # step-down monotonicity and the cap at 1
    assert holm([0.5, 0.001, 0.9]) == pytest.approx([1.0, 0.003, 1.0])


def test_holm_leaves_untested_cells_out_of_the_family() -> None:
    adjusted = holm([math.nan, 0.02, math.nan, 0.04])
    assert math.isnan(adjusted[0]) and math.isnan(adjusted[2])
    assert adjusted[1] == pytest.approx(0.04) and adjusted[3] == pytest.approx(0.04)
    assert holm([]) == []


def test_holm_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError, match="expected probabilities in \\[0, 1\\].*got 1.5"):
        holm([0.1, 1.5])


def test_tied_with_best_by_hand() -> None:
    # a is best; b is consistently far behind (rejected); c is behind on average but noisy (kept)
    candidates = {"a": {0: 0.80, 1: 0.82, 2: 0.81}, "b": {0: 0.60, 1: 0.61, 2: 0.62},
                  "c": {0: 0.81, 1: 0.70, 2: 0.83}}
    tied = tied_with_best(candidates)
    assert tied.best == "a" and tied.tied == ("a", "c")
    p_b = scipy_stats.ttest_rel([0.80, 0.82, 0.81], [0.60, 0.61, 0.62], alternative="greater").pvalue
    p_c = scipy_stats.ttest_rel([0.80, 0.82, 0.81], [0.81, 0.70, 0.83], alternative="greater").pvalue
    # Holm over m = 2: the smaller p doubled, the larger kept (but not below the first)
    assert tied.adjusted_p["b"] == pytest.approx(2 * p_b)
    assert tied.adjusted_p["c"] == pytest.approx(max(2 * p_b, p_c))
    assert "a" not in tied.tests


def test_tied_with_best_correction_keeps_a_borderline_candidate() -> None:
    # c alone would be rejected at 0.05 (0.025 < p < 0.05); with m = 2 comparisons Holm doubles the smallest p
    best = {0: 0.9, 1: 0.95, 2: 0.92, 3: 0.97}
    c = {s: v - d for (s, v), d in zip(best.items(), [0.01, 0.03, 0.005, 0.03], strict=True)}
    b = {s: v - d for (s, v), d in zip(best.items(), [0.08, -0.05, 0.06, -0.04], strict=True)}
    raw_c = scipy_stats.ttest_rel(list(best.values()), list(c.values()), alternative="greater").pvalue
    raw_b = scipy_stats.ttest_rel(list(best.values()), list(b.values()), alternative="greater").pvalue
    assert 0.025 < raw_c < 0.05 < raw_b  # the case the correction is for
    tied = tied_with_best({"best": best, "b": b, "c": c})
    assert tied.tied == ("best", "b", "c")  # by mean: b is 1.25 points behind, c 1.9
    assert tied.adjusted_p["c"] == pytest.approx(2 * raw_c)


def test_tied_with_best_zero_variance_and_single_seed() -> None:
    tied = tied_with_best({"a": {0: 0.5, 1: 0.6}, "worse": {0: 0.4, 1: 0.5}, "same": {0: 0.5, 1: 0.6},
                           "one_seed": {0: 0.1}})
    assert tied.best == "a"
    # two equal gaps: the sign test's p = 0.25, Holm over the two tested comparisons -> 0.5: still tied
    assert tied.tied == ("a", "same", "worse", "one_seed")  # one seed pair: nothing can be rejected
    assert tied.adjusted_p["worse"] == pytest.approx(0.5)
    assert math.isnan(tied.adjusted_p["one_seed"])


def test_tied_with_best_zero_variance_gap_over_enough_seeds_is_rejected() -> None:
    seeds = range(6)  # six equal positive gaps: sign test p = 0.5**6 = 0.016 < 0.05
    tied = tied_with_best({"a": {s: 0.5 + s / 100 for s in seeds}, "worse": {s: 0.4 + s / 100 for s in seeds}})
    assert tied.tied == ("a",)
    assert tied.adjusted_p["worse"] == pytest.approx(0.5**6)


def test_tied_with_best_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="expected at least one candidate"):
        tied_with_best({})
    with pytest.raises(ValueError, match="'x' has no values"):
        tied_with_best({"x": {}})
