"""Seeds as repeats: mean, sample standard deviation and a paired test over seeds.

Every report cell aggregates the trials of one row over their seeds. A cell is marked
as a significant improvement over its baseline only when :func:`paired_test` says so:

* pairs are matched by seed — the row's value for seed *s* against the baseline's value
  for the same seed *s*; seeds present on one side only are left out;
* the test is Student's **one-sided paired t-test** (``scipy.stats.ttest_rel`` with
  ``alternative="greater"``; H0: mean difference ≤ 0, H1: the row improves on the
  baseline), at ``alpha = 0.05`` unless told otherwise; significant means ``p < alpha``;
* with fewer than 2 pairs, or when every difference is the same (zero variance, where the
  t statistic is undefined — ±inf or 0/0), no test is possible: the result says why and is
  **not** significant, whatever the sign of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from xlsweep.report.pooled import SeedSpread, pool_seed_variance, pooled_p

__all__ = ["CORRECTIONS", "DEFAULT_ALPHA", "TEST_NAME", "PairedTest", "TiedSet", "adjust", "benjamini_hochberg",
           "holm", "mean", "paired_test", "pool_tests", "std", "tied_with_best"]

DEFAULT_ALPHA = 0.05
TEST_NAME = "one-sided paired t-test over seeds, scipy.stats.ttest_rel(alternative='greater')"
"""How the reports name the test, in footnotes and CSV files."""

ZERO_VARIANCE_TOLERANCE = 1e-12
"""Differences that all lie within this of the first one count as having zero variance."""


@dataclass(frozen=True)
class PairedTest:
    """The outcome of :func:`paired_test`.

    Attributes:
        n: Number of seed pairs.
        mean_diff: Mean of ``value - baseline`` over the pairs (NaN when there are none).
        std_diff: Sample standard deviation (ddof=1) of the differences (NaN when n < 2).
        t: The t statistic (NaN when no test was possible).
        p: One-sided p-value for H1 "value > baseline" (NaN when no test was possible).
        alpha: Significance level.
        significant: ``p < alpha``; False whenever no test was possible.
        reason: Why no test was possible (``""`` when it was).
        method: The test that gave ``p``: ``"t-test"`` (this module), ``"bootstrap"``
            (:mod:`xlsweep.report.bootstrap`, two-sided; ``t`` is NaN) or ``"pooled"``
            (:mod:`xlsweep.report.pooled`, two-sided; ``p`` final once :func:`pool_tests` has seen the family).
        note: What the reader should know about how it was tested, e.g. why the bootstrap fell
            back to the t-test over seeds.
        spread: For the pooled test, the cell's per-seed Δ and within-seed variances.
    """

    n: int
    mean_diff: float
    std_diff: float
    t: float
    p: float
    alpha: float
    significant: bool
    reason: str = ""
    method: str = "t-test"
    note: str = ""
    spread: SeedSpread | None = None

    @property
    def tested(self) -> bool:
        """Whether a t-test was computed (else :attr:`reason` says why not)."""
        return not self.reason


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (``math.fsum``), or NaN for no values."""
    checked = _finite(values, "values")
    return math.fsum(checked) / len(checked) if checked else math.nan


def std(values: Sequence[float]) -> float:
    """The sample standard deviation (ddof=1), or NaN for fewer than two values."""
    checked = _finite(values, "values")
    if len(checked) < 2:
        return math.nan
    return float(np.std(np.asarray(checked, dtype=np.float64), ddof=1))


def paired_test(
    values: Mapping[int, float], baseline: Mapping[int, float], *, alpha: float = DEFAULT_ALPHA
) -> PairedTest:
    """One-sided paired t-test of ``values`` against ``baseline``, pairs matched by seed.

    Args:
        values: Seed -> the row's value (e.g. accuracy) for that seed.
        baseline: Seed -> the baseline's value for the same seed.
        alpha: Significance level, in (0, 1).

    Returns:
        A :class:`PairedTest` over the seeds present in both mappings.

    Raises:
        ValueError: If ``alpha`` is not in (0, 1) or a value is not finite.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a significance level in (0, 1), got {alpha!r}")
    seeds = [seed for seed in values if seed in baseline]
    ours = _finite([values[s] for s in seeds], "values")
    theirs = _finite([baseline[s] for s in seeds], "baseline")
    diffs = np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    n = len(seeds)
    mean_diff = float(diffs.mean()) if n else math.nan
    std_diff = float(diffs.std(ddof=1)) if n >= 2 else math.nan
    untested = PairedTest(n, mean_diff, std_diff, math.nan, math.nan, alpha, False)
    if n < 2:
        return replace(untested, reason=f"not tested: {n} seed pair{'' if n == 1 else 's'}, a paired test needs 2")
    if np.all(np.abs(diffs - diffs[0]) <= ZERO_VARIANCE_TOLERANCE):
        reason = (f"not tested: all {n} differences equal ({diffs[0] * 100 + 0.0:+.4g} points), zero variance leaves t "
                  "undefined")
        return replace(untested, reason=reason)
    result = stats.ttest_rel(ours, theirs, alternative="greater")
    t, p = float(result.statistic), float(result.pvalue)
    return PairedTest(n, mean_diff, std_diff, t, p, alpha, p < alpha)


def _finite(values: Sequence[float], name: str) -> list[float]:
    """``values`` as floats, or raise naming the first non-finite one."""
    out = [float(v) for v in values]
    for value in out:
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected finite numbers, got {value!r} in {out}")
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (family-wise error rate), in the input's order.

    Sort the m p-values ascending, p_(1) ≤ … ≤ p_(m); the adjusted value of p_(k) is
    ``max_{j ≤ k} min(1, (m − j + 1) · p_(j))``. A hypothesis is rejected at level α exactly
    when its adjusted p-value is < α (Holm, 1979). NaN entries (untested cells) stay NaN and
    do not count towards m.

    Raises:
        ValueError: If a p-value is outside [0, 1] (NaN aside).
    """
    values, tested = _tested(p_values)
    m = len(tested)
    adjusted = [math.nan] * len(values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in the input's order.

    Sort the m p-values ascending; the adjusted value of p_(k) is ``min_{j ≥ k} min(1, m · p_(j) / j)``.
    Rejecting where the adjusted value is < α controls the expected share of false discoveries at α
    for independent (or positively dependent) tests (Benjamini & Hochberg, 1995). NaN entries stay NaN
    and do not count towards m.

    Raises:
        ValueError: If a p-value is outside [0, 1] (NaN aside).
    """
    values, tested = _tested(p_values)
    m = len(tested)
    adjusted = [math.nan] * len(values)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        p, i = tested[rank]
        running = min(running, m * p / (rank + 1))
        adjusted[i] = running
    return adjusted


def _tested(p_values: Sequence[float]) -> tuple[list[float], list[tuple[float, int]]]:
    """The p-values as floats, and the tested (not NaN) ascending with their positions; ValueError outside [0, 1]."""
    values = [float(p) for p in p_values]
    for p in values:
        if not math.isnan(p) and not 0.0 <= p <= 1.0:
            raise ValueError(f"p_values: expected probabilities in [0, 1] (or NaN), got {p!r} in {values}")
    return values, sorted((p, i) for i, p in enumerate(values) if not math.isnan(p))


def pool_tests(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """``tests`` (one family, corrected together), the pooled ones re-tested with the seed variance pooled over the
    family's pooled tests (:mod:`xlsweep.report.pooled`); the others as they are. Call before :func:`adjust`."""
    spreads = [t.spread for t in tests if t.spread is not None]
    if not spreads:
        return list(tests)
    pooled = pool_seed_variance(spreads)
    out = []
    for test in tests:
        if test.spread is None:
            out.append(test)
            continue
        t, _, p = pooled_p(test.spread, pooled)
        note = (f"seed variance pooled over {len(spreads)} cells ({pooled.df} df)" if pooled.df else
                "no cell of the family has 2 seeds: test examples resampled, seed variance not in the test")
        out.append(replace(test, t=t, p=p, significant=p < test.alpha, note=note))
    return out


CORRECTIONS = {"holm": ("Holm", holm), "bh": ("Benjamini–Hochberg", benjamini_hochberg)}
"""Correction name -> (how the reports name it, the adjustment)."""


def adjust(p_values: Sequence[float], correction: str = "holm") -> list[float]:
    """``p_values`` adjusted by ``correction`` (``holm``: family-wise error; ``bh``: false discovery rate)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction: unknown {correction!r}; expected one of {', '.join(CORRECTIONS)}")
    return CORRECTIONS[correction][1](p_values)


@dataclass(frozen=True)
class TiedSet:
    """The outcome of :func:`tied_with_best`.

    Attributes:
        best: The candidate with the highest mean.
        tied: The best and every candidate not significantly worse than it, best first, then by mean.
        tests: Candidate -> the paired test "best > candidate" (the best has none).
        adjusted_p: Candidate -> its Holm-adjusted p-value over the comparisons with the best
            (NaN where no test was possible; then the candidate counts as tied).
        alpha: Family-wise significance level.
    """

    best: str
    tied: tuple[str, ...]
    tests: Mapping[str, PairedTest]
    adjusted_p: Mapping[str, float]
    alpha: float


def tied_with_best(candidates: Mapping[str, Mapping[int, float]], *, alpha: float = DEFAULT_ALPHA,
                   compare: Callable[[str, str], PairedTest] | None = None, correction: str = "holm") -> TiedSet:
    """The candidates statistically tied with the best one, paired over seeds, Holm-corrected.

    The best is the candidate with the highest mean over its seeds (ties: the first given).
    Each other candidate is compared with it by :func:`paired_test` (H1: the best is better,
    pairs matched by seed); the m − 1 p-values are adjusted by :func:`holm`, and a candidate
    leaves the set only when its adjusted p-value is < ``alpha``. Where the differences have
    zero variance the t statistic is undefined, and the exact one-sided sign test stands in:
    n equal positive differences give p = 0.5ⁿ (2 seeds: 0.25, never significant alone), all
    zero give p = 1; with fewer than 2 seed pairs nothing can be rejected, so the candidate stays.

    Args:
        candidates: Candidate label -> seed -> value (higher is better); at least one.
        alpha: Family-wise significance level, in (0, 1).
        compare: ``(best, other) -> test`` in place of :func:`paired_test` over seeds (the reports pass
            their chosen test, :func:`xlsweep.report.verdict.compare`).
        correction: ``holm`` (default) or ``bh`` (:func:`adjust`).

    Raises:
        ValueError: If there are no candidates, a candidate has no values or a value is not finite.
    """
    if not candidates:
        raise ValueError("candidates: expected at least one candidate, got none")
    means = {}
    for label, values in candidates.items():
        if not values:
            raise ValueError(f"candidates: {label!r} has no values; expected seed -> value")
        means[label] = mean(list(values.values()))
    best = max(means, key=lambda label: means[label])  # max keeps the first of equal means
    others = [label for label in candidates if label != best]
    test = compare or (lambda ours, theirs: paired_test(candidates[ours], candidates[theirs], alpha=alpha))
    tests = dict(zip(others, pool_tests([test(best, label) for label in others]), strict=True))
    raw = [_tie_p(tests[label]) for label in others]
    adjusted = dict(zip(others, adjust(raw, correction), strict=True))
    tied = [best] + sorted((label for label in others if not adjusted[label] < alpha),
                           key=lambda label: -means[label])
    return TiedSet(best, tuple(tied), tests, adjusted, alpha)


def _tie_p(test: PairedTest) -> float:
    """The test's p-value; for zero-variance differences the sign test's (0.5ⁿ if positive, else 1); NaN if n < 2."""
    if test.tested:
        return test.p
    if test.n < 2:
        return math.nan
    return 0.5**test.n if test.mean_diff > 0 else 1.0
