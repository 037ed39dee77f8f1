"""A hierarchical paired bootstrap over seeds and test examples: the reports' default significance test.

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
4. repeat ``B`` times. The p-value is two-sided: the bootstrap distribution of Δ shifted to
   the null (centred on 0), ``p = (1 + #{|Δ*_b − Δ̂| ≥ |Δ̂|}) / (B + 1)`` (Efron & Tibshirani
   1993, §16.4; the shifted-distribution reading of Berg-Kirkpatrick et al. 2012, §2 with both tails).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from xlsweep.tasks.outcomes import corpus_metrics

__all__ = ["DEFAULT_RESAMPLES", "BootstrapResult", "paired_bootstrap"]

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples per test: p-values resolve to 1/2001, enough for α = 0.05 after Holm over ~100 cells."""

_CHUNK = 4_000_000  # example draws held at once (resamples × seeds × examples)

SeedOutcomes = Sequence[Mapping[str, np.ndarray]]
"""Per paired seed (same order on both sides), language -> ``(N, k)`` per-example outcomes."""


@dataclass(frozen=True)
class BootstrapResult:
    """Observed mean difference (row − reference, over seeds and languages), its two-sided p and the resamples."""

    delta: float
    p: float
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
    if not row or len(row) != len(reference) or not languages or resamples < 1:
        raise ValueError(f"paired bootstrap: expected ≥ 1 seed pair, ≥ 1 language and ≥ 1 resample; got "
                         f"{len(row)} row seeds, {len(reference)} reference seeds, languages {list(languages)}, "
                         f"{resamples} resamples")
    rng = np.random.default_rng(seed)
    n_seeds = len(row)
    seed_draw = rng.integers(0, n_seeds, size=(resamples, n_seeds))  # (B, S): the seeds of each resample
    observed = 0.0
    total = np.zeros((resamples, n_seeds))
    for lang in languages:
        ours = np.stack([np.asarray(r[lang], dtype=np.float64) for r in row])  # (S, N, k)
        theirs = np.stack([np.asarray(r[lang], dtype=np.float64) for r in reference])
        if ours.shape != theirs.shape or ours.ndim != 3:
            raise ValueError(f"paired bootstrap on {lang!r}: outcomes of shape {ours.shape} against "
                             f"{theirs.shape}; expected (seeds, the same test examples, columns) on both sides")
        n = ours.shape[1]
        full = [_metric(task, metric, ours[j].sum(0), n) - _metric(task, metric, theirs[j].sum(0), n)
                for j in range(n_seeds)]
        observed += float(np.mean(full))
        step = max(1, _CHUNK // (n_seeds * n))
        for start in range(0, resamples, step):
            stop = min(resamples, start + step)
            draws = rng.integers(0, n, size=((stop - start) * n_seeds, n))
            draws += (np.arange(len(draws)) * n)[:, None]
            counts = np.bincount(draws.ravel(), minlength=len(draws) * n).reshape(len(draws), n).astype(np.float64)
            chosen = seed_draw[start:stop].ravel()  # the original seed behind each (resample, position)
            diff = np.empty(len(draws))
            for j in range(n_seeds):
                at = chosen == j
                if at.any():
                    c = counts[at]
                    diff[at] = _metric(task, metric, c @ ours[j], n) - _metric(task, metric, c @ theirs[j], n)
            total[start:stop] += diff.reshape(stop - start, n_seeds)
    deltas = total.mean(axis=1) / len(languages)
    delta = observed / len(languages)
    extreme = int(np.sum(np.abs(deltas - delta) >= abs(delta) - 1e-15))
    return BootstrapResult(delta, (1 + extreme) / (resamples + 1), resamples, deltas)


def _metric(task: str, metric: str, totals: np.ndarray, n: int) -> np.ndarray:
    values = corpus_metrics(task, totals, n)
    if metric not in values:
        raise ValueError(f"metric {metric!r} cannot be recomputed from {task} outcomes: expected one of "
                         f"{sorted(values)}")
    return values[metric]
