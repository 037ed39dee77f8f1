"""A hierarchical paired bootstrap over seeds and test examples (``--test bootstrap``), and the per-seed example
bootstrap behind the default pooled test (:func:`seed_spread`, :mod:`xlsweep.report.pooled`).

Whether a row beats its reference (the stage-1 baseline, another method) is a question about
two sources of chance: the **test sample** (500 examples are a sample of the language) and the
**training seed**. Over seeds alone a paired t-test with the papers' 3 seeds has 2 degrees of
freedom and cannot mark anything after a correction for dozens of cells; the test examples
carry most of the evidence. This test resamples both:

1. draw ``S`` seeds with replacement from the ``S`` seeds both sides have (the pairs);
2. within each drawn seed, draw the test examples with replacement — the *same* draw for the
   row and its reference (paired: Koehn 2004, §4; Berg-Kirkpatrick, Burkett & Klein 2012, §2);
3. recompute the **corpus** metric of both sides on that resample from their per-example
   outcomes (:func:`xlsweep.tasks.outcomes.corpus_metrics`: accuracy, binary F1, entity F1,
   QA EM/F1 — never a mean of per-example F1 where the metric is a corpus F1), average the
   differences over the drawn seeds (and over a column's languages, each resampled on its own);
4. repeat ``B`` times. The p-value is two-sided, from the bootstrap distribution of Δ shifted to
   the null (centred on 0; Berg-Kirkpatrick et al. 2012, §2, with both tails): its standard
   error ``se = sd(Δ*)`` gives ``p = 2 Φ(−|Δ̂| / se)`` (the bootstrap-standard-error test under a
   normal approximation, Efron & Tibshirani 1993, §12.2, §16.4; a corpus metric over hundreds of
   examples is close to normal). Unlike the count ``(1 + #{|Δ*_b − Δ̂| ≥ |Δ̂|}) / (B + 1)``, also
   returned, it resolves p below 1/B, which Holm over hundreds of cells needs (α/238 = 0.0002).

Resampling at two levels (seeds, then examples within them) is the hierarchical bootstrap
for nested data (Davison & Hinkley 1997, §3.8); Dror, Baumer, Shlomov & Reichart 2018 (§3,
Table 2) recommend the bootstrap for metrics such as F1 whose distribution is unknown.
Deterministic given ``seed``; numpy throughout (one matrix product per seed and chunk).

References:
    Koehn, P. (2004). Statistical significance tests for machine translation evaluation. EMNLP.
    Berg-Kirkpatrick, T., Burkett, D., Klein, D. (2012). An empirical investigation of statistical
    significance in NLP. EMNLP-CoNLL.
    Dror, R., Baumer, G., Shlomov, S., Reichart, R. (2018). The hitchhiker's guide to testing
    statistical significance in natural language processing. ACL.
    Efron, B., Tibshirani, R. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    Davison, A. C., Hinkley, D. V. (1997). Bootstrap Methods and their Application. CUP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from xlsweep.report.pooled import SeedSpread
from xlsweep.tasks.outcomes import corpus_metrics

__all__ = ["DEFAULT_RESAMPLES", "BootstrapResult", "paired_bootstrap", "seed_spread"]

DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples per test: the standard error of Δ to about 2% (``1/√(2B)``)."""

_CHUNK = 4_000_000  # example draws held at once (resamples × seeds × examples)

SeedOutcomes = Sequence[Mapping[str, np.ndarray]]
"""Per paired seed (same order on both sides), language -> ``(N, k)`` per-example outcomes."""


@dataclass(frozen=True)
class BootstrapResult:
    """Observed mean difference (row − reference, over seeds and languages), its two-sided p, the bootstrap
    standard error, the counting p-value and the resampled differences."""

    delta: float
    p: float
    se: float
    p_count: float
    resamples: int
    deltas: np.ndarray


def paired_bootstrap(task: str, metric: str, row: SeedOutcomes, reference: SeedOutcomes, languages: Sequence[str],
                     *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> BootstrapResult:
    """Two-sided hierarchical paired bootstrap of ``row`` against ``reference`` (module docstring).

    Args:
        task: The task whose outcomes these are (``nli``, ``sentiment``, ``ner``, ``qa``).
        metric: The metric compared (``acc``, ``f1``, ``em``).
        row: Per seed pair, the row's outcomes per language.
        reference: Per seed pair, the reference's outcomes per language, examples in the same order.
        languages: The languages averaged (one for a target column, several for an average column).
        resamples: ``B``.
        seed: Seeds the resampling (same inputs and seed: same p).

    Raises:
        ValueError: Without seed pairs or languages, or when the two sides' example counts differ.
    """
    per_seed, total = _resampled(task, metric, row, reference, languages, resamples=resamples, seed=seed,
                                 resample_seeds=True)
    deltas = total.mean(axis=1)
    delta = float(per_seed.mean())
    extreme = int(np.sum(np.abs(deltas - delta) >= abs(delta) - 1e-15))
    p_count = (1 + extreme) / (resamples + 1)
    se = float(np.std(deltas, ddof=1)) if resamples > 1 else 0.0
    # 2 Φ(−|Δ̂|/se); with se = 0 every resample gave the same Δ: none differs (p = 1), or all alike (the count's p)
    p = float(math.erfc(abs(delta) / se / math.sqrt(2))) if se > 0 else 1.0 if abs(delta) < 1e-15 else p_count
    return BootstrapResult(delta, p, se, p_count, resamples, deltas)


def seed_spread(task: str, metric: str, row: SeedOutcomes, reference: SeedOutcomes, languages: Sequence[str],
                *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> SeedSpread:
    """Per seed pair, the observed Δ (over ``languages``) and its within-seed variance: the variance of Δ over
    ``resamples`` paired resamples of that seed's test examples (seeds are not resampled). The input of the pooled
    test, :mod:`xlsweep.report.pooled`; arguments and errors as :func:`paired_bootstrap`'s."""
    per_seed, total = _resampled(task, metric, row, reference, languages, resamples=resamples, seed=seed,
                                 resample_seeds=False)
    within = np.var(total, axis=0, ddof=1) if resamples > 1 else np.zeros(len(row))
    return SeedSpread(tuple(float(d) for d in per_seed), tuple(float(v) for v in within))


def _resampled(task: str, metric: str, row: SeedOutcomes, reference: SeedOutcomes, languages: Sequence[str], *,
               resamples: int, seed: int, resample_seeds: bool) -> tuple[np.ndarray, np.ndarray]:
    """The observed Δ per seed ``(S,)`` and the resampled Δ ``(B, S)`` (position j: the drawn seed's, or seed j's
    own when ``resample_seeds`` is False), each averaged over ``languages``."""
    if not row or len(row) != len(reference) or not languages or resamples < 1:
        raise ValueError(f"paired bootstrap: expected ≥ 1 seed pair, ≥ 1 language and ≥ 1 resample; got "
                         f"{len(row)} row seeds, {len(reference)} reference seeds, languages {list(languages)}, "
                         f"{resamples} resamples")
    rng = np.random.default_rng(seed)
    n_seeds = len(row)
    seed_draw = rng.integers(0, n_seeds, size=(resamples, n_seeds)) if resample_seeds else np.tile(
        np.arange(n_seeds), (resamples, 1))  # (B, S): the seeds of each resample
    observed = np.zeros(n_seeds)
    total = np.zeros((resamples, n_seeds))
    for lang in languages:
        ours = np.stack([np.asarray(r[lang], dtype=np.float64) for r in row])  # (S, N, k)
        theirs = np.stack([np.asarray(r[lang], dtype=np.float64) for r in reference])
        if ours.shape != theirs.shape or ours.ndim != 3:
            raise ValueError(f"paired bootstrap on {lang!r}: outcomes of shape {ours.shape} against "
                             f"{theirs.shape}; expected (seeds, the same test examples, columns) on both sides")
        _, n, k = ours.shape
        full = [_metric(task, metric, ours[j].sum(0), n) - _metric(task, metric, theirs[j].sum(0), n)
                for j in range(n_seeds)]
        observed += np.asarray(full, dtype=np.float64)
        both = np.concatenate([ours, theirs], axis=2).transpose(1, 0, 2).reshape(n, n_seeds * 2 * k)  # (N, S·2k)
        step = max(1, _CHUNK // (n_seeds * n))
        for start in range(0, resamples, step):
            stop = min(resamples, start + step)
            m = (stop - start) * n_seeds
            draws = rng.integers(0, n, size=(m, n), dtype=np.int64) + (np.arange(m) * n)[:, None]
            counts = np.bincount(draws.ravel(), minlength=m * n).reshape(m, n).astype(np.float64)
            chosen = seed_draw[start:stop].ravel()  # the original seed behind each (resample, position)
            totals = (counts @ both).reshape(m, n_seeds, 2 * k)[np.arange(m), chosen]  # (m, 2k): its own seed's
            diff = _metric(task, metric, totals[:, :k], n) - _metric(task, metric, totals[:, k:], n)
            total[start:stop] += diff.reshape(stop - start, n_seeds)
    return observed / len(languages), total / len(languages)


def _metric(task: str, metric: str, totals: np.ndarray, n: int) -> np.ndarray:
    values = corpus_metrics(task, totals, n)
    if metric not in values:
        raise ValueError(f"metric {metric!r} cannot be recomputed from {task} outcomes: expected one of "
                         f"{sorted(values)}")
    return values[metric]
