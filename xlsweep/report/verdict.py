"""The one verdict of every report: which test, which correction, and the test of one cell.

Every mark in the reports — report.html, the heatmap, the paper-shaped tables, ``best_pairs.csv``,
``xlsweep best-pairs``, the parent run's description and the tied sets — comes from
:func:`compare` (one cell's test) and :func:`xlsweep.report.stats.adjust` (its family's
correction), with the :class:`TestOptions` of the report:

* ``test = "pooled"`` (default): per seed, Δ and its test-sample variance from the paired bootstrap
  of that seed's test examples (:func:`xlsweep.report.bootstrap.seed_spread`), and the seed-to-seed
  variance of Δ pooled over the cells corrected together (:mod:`xlsweep.report.pooled`;
  :func:`xlsweep.report.stats.pool_tests` runs where each family is corrected), on the per-example
  test outcomes every trial stores (``test_outcomes.npz``, :mod:`xlsweep.tasks.outcomes`);
* ``test = "bootstrap"``: the two-sided hierarchical paired bootstrap over seeds and test examples
  of :mod:`xlsweep.report.bootstrap` (anti-conservative with 2–3 seeds when the seeds' own variance
  of Δ is large: docs/results/significance.md).
  Where a cell lacks outcomes (runs of an older xlsweep, few-shot scores, a seed with several
  trials) both fall back to the t-test over seeds and say why in the cell's note;
* ``test = "t-test"``: the one-sided paired t-test over seeds (:func:`~xlsweep.report.stats.paired_test`);
* ``correction = "holm"`` (default; family-wise error, for claims) or ``"bh"`` (Benjamini–Hochberg,
  false discovery rate, for heatmaps of hundreds of cells).

The family of a cell is named under each table: the per-target tests of every auxiliary choice
against the stage-1 baseline are one family across the sweep (so a cell has one verdict wherever
it is shown); average columns, method tables and XLA-MAML − X-MAML rows are families of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from xlsweep.report.bootstrap import DEFAULT_RESAMPLES, paired_bootstrap, seed_spread
from xlsweep.report.pooled import pool_seed_variance, pooled_p
from xlsweep.report.row_groups import TRANSFER
from xlsweep.report.stats import CORRECTIONS, DEFAULT_ALPHA, TEST_NAME, PairedTest, paired_test
from xlsweep.report.sweep_results import RunRecord

__all__ = ["TESTS", "Evidence", "TestOptions", "compare", "record_evidence"]

TESTS = ("pooled", "bootstrap", "t-test")

BOOTSTRAP_NAME = ("two-sided hierarchical paired bootstrap over seeds and test examples, corpus metric recomputed on "
                  "each resample (Koehn 2004; Berg-Kirkpatrick et al. 2012; Dror et al. 2018)")
POOLED_NAME = ("two-sided paired test over seeds and test examples: per seed the paired bootstrap of the test "
               "examples, the seed-to-seed variance pooled over the family's cells, Student's t on the pooled degrees "
               "of freedom (random effects, Smyth 2004; Koehn 2004)")

SeedOutcomes = Mapping[int, Mapping[str, np.ndarray]]
"""Seed -> target language -> ``(N, k)`` per-example outcomes."""


@dataclass(frozen=True)
class TestOptions:
    """How the reports test and correct.

    Attributes:
        test: ``pooled``, ``bootstrap`` or ``t-test`` (module docstring).
        correction: ``holm`` or ``bh``.
        alpha: Significance level, in (0, 1).
        resamples: Bootstrap resamples per test.
        seed: Seeds the bootstrap (the same report twice gives the same verdicts).
    """

    __test__ = False  # a settings class, not a pytest test class

    test: str = "pooled"
    correction: str = "holm"
    alpha: float = DEFAULT_ALPHA
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ValueError(f"test: unknown {self.test!r}; expected one of {', '.join(TESTS)}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction: unknown {self.correction!r}; expected one of {', '.join(CORRECTIONS)}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha: expected a significance level in (0, 1), got {self.alpha!r}")
        if self.resamples < 100:  # fewer leave the standard error of Δ uncertain by more than 7%
            raise ValueError(f"resamples: expected at least 100 bootstrap resamples, got {self.resamples}")

    @property
    def test_name(self) -> str:
        """The test as notes and legends name it."""
        if self.test == "t-test":
            return TEST_NAME
        if self.test == "pooled":
            return f"{POOLED_NAME}, {self.resamples} resamples per seed"
        return f"{BOOTSTRAP_NAME}, {self.resamples} resamples"

    @property
    def claim(self) -> str:
        """What a mark says: a two-sided test finds a difference, the one-sided t-test an improvement."""
        return "improvement over" if self.test == "t-test" else "difference from"

    @property
    def correction_name(self) -> str:
        return CORRECTIONS[self.correction][0]

    @property
    def short(self) -> str:
        """``bootstrap, Holm`` — for legends."""
        name = {"pooled": "paired bootstrap with pooled seed variance", "bootstrap": "paired bootstrap"}.get(
            self.test, "paired t-test over seeds")
        return f"{name}, {self.correction_name}"


@dataclass(frozen=True)
class Evidence:
    """The per-example outcomes behind one comparison: the row's and its reference's, per seed and language."""

    task: str
    metric: str
    row: SeedOutcomes
    reference: SeedOutcomes


def compare(values: Mapping[int, float], reference: Mapping[int, float], *, evidence: Evidence | None,
            languages: Sequence[str], options: TestOptions) -> PairedTest:
    """The test of one cell: ``values`` (seed -> the row's score over ``languages``) against ``reference``.

    With ``options.test == "bootstrap"`` and the outcomes of every paired seed and language in
    ``evidence``, the hierarchical paired bootstrap; with ``"pooled"``, the pooled test with this cell
    alone as its family (:func:`xlsweep.report.stats.pool_tests` re-tests it with its family's seed
    variance); otherwise the t-test over seeds, with the reason in ``note`` when a bootstrap was asked for.
    """
    seeds = sorted(s for s in values if s in reference)
    t_test = paired_test(values, reference, alpha=options.alpha)
    if options.test == "t-test":
        return t_test
    missing = _missing(evidence, seeds, languages)
    if missing:
        return replace(t_test, note=f"t-test over seeds: {missing}")
    assert evidence is not None
    if options.test == "pooled":
        spread = seed_spread(evidence.task, evidence.metric, [evidence.row[s] for s in seeds],
                             [evidence.reference[s] for s in seeds], languages, resamples=options.resamples,
                             seed=options.seed)
        t, _, p = pooled_p(spread, pool_seed_variance([spread]))
        return PairedTest(len(seeds), t_test.mean_diff, t_test.std_diff, t, p, options.alpha, p < options.alpha,
                          method="pooled", spread=spread)
    result = paired_bootstrap(evidence.task, evidence.metric, [evidence.row[s] for s in seeds],
                              [evidence.reference[s] for s in seeds], languages, resamples=options.resamples,
                              seed=options.seed)
    note = "" if len(seeds) > 1 else "1 seed: test examples resampled, seed variance not in the test"
    return PairedTest(len(seeds), t_test.mean_diff, t_test.std_diff, math.nan, result.p, options.alpha,
                      result.p < options.alpha, method="bootstrap", note=note)


def _missing(evidence: Evidence | None, seeds: Sequence[int], languages: Sequence[str]) -> str:
    """Why the bootstrap cannot run (``""`` when it can)."""
    if not seeds:
        return "no seed pairs"
    if evidence is None:
        return "no per-example test outcomes for this metric"
    for side, per in (("the row", evidence.row), ("the reference", evidence.reference)):
        for seed in seeds:
            absent = [lang for lang in languages if lang not in per.get(seed, {})]
            if absent:
                return f"{side} has no per-example test outcomes for seed {seed} on {', '.join(absent)}"
    return ""


def record_evidence(records: Iterable[RunRecord], metric: str) -> tuple[str, dict[int, dict[str, np.ndarray]],
                                                                         dict[int, dict[str, np.ndarray]]]:
    """The task, and per seed and language the trials' and their stage-1 baselines' outcomes.

    Only the zero-shot scores have outcomes (``fs_`` metrics do not); a seed with several trials
    on a language (repeats of one experiment) has none there, since their scores are averaged.
    """
    task = ""
    trial: dict[int, dict[str, np.ndarray]] = {}
    base: dict[int, dict[str, np.ndarray]] = {}
    repeated: set[tuple[int, str]] = set()
    for record in records:
        outcomes = record.outcomes
        if outcomes is None or metric.startswith("fs_"):
            continue
        task = outcomes.task
        for lang, rows in outcomes.trial.items():
            if lang not in record.scores.get(metric, {}) or lang not in outcomes.baseline or (
                    record.algorithm in TRANSFER and lang not in record.query):
                continue
            if lang in trial.get(record.seed, {}):
                repeated.add((record.seed, lang))
            trial.setdefault(record.seed, {})[lang] = rows
            base.setdefault(record.seed, {})[lang] = outcomes.baseline[lang]
    for seed, lang in repeated:
        del trial[seed][lang], base[seed][lang]
    return task, trial, base
