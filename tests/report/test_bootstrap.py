"""The hierarchical paired bootstrap: its observed Δ, its standard error against the analytical one (float64), its
determinism, its false-positive rate under the null, and the verdict's fallback to the t-test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xlsweep.report.bootstrap import paired_bootstrap
from xlsweep.report.stats import adjust, benjamini_hochberg, holm
from xlsweep.report.verdict import Evidence, TestOptions, compare
from xlsweep.tasks.outcomes import classification_outcomes, full_sample


def _nli(rng: np.random.Generator, p: float, n: int = 500) -> np.ndarray:
    return (rng.random(n) < p).astype(np.int64)[:, None]


def test_the_observed_delta_is_the_difference_of_the_reported_scores() -> None:
    rng = np.random.default_rng(0)
    row = [{"a": _nli(rng, 0.6), "b": _nli(rng, 0.5)} for _ in range(3)]
    ref = [{"a": _nli(rng, 0.5), "b": _nli(rng, 0.5)} for _ in range(3)]
    result = paired_bootstrap("nli", "acc", row, ref, ["a", "b"], resamples=200)
    expected = np.mean([np.mean([full_sample("nli", r[lang])["acc"] - full_sample("nli", f[lang])["acc"]
                                 for lang in "ab"]) for r, f in zip(row, ref, strict=True)])
    assert result.delta == pytest.approx(expected, abs=1e-15)
    assert result.deltas.shape == (200,)


def test_one_seed_standard_error_matches_the_paired_analytical_one() -> None:
    rng = np.random.default_rng(1)
    ours, theirs = _nli(rng, 0.62, 2000), _nli(rng, 0.55, 2000)
    d = (ours - theirs)[:, 0].astype(np.float64)
    analytical = float(np.std(d, ddof=0) / math.sqrt(len(d)))  # the bootstrap's plug-in standard error of a mean
    result = paired_bootstrap("nli", "acc", [{"a": ours}], [{"a": theirs}], ["a"], resamples=4000, seed=2)
    assert result.se == pytest.approx(analytical, rel=0.05)
    assert result.p == pytest.approx(math.erfc(abs(d.mean()) / result.se / math.sqrt(2)))


def test_it_is_deterministic_given_its_seed_and_two_sided() -> None:
    rng = np.random.default_rng(3)
    row, ref = [{"a": _nli(rng, 0.4)} for _ in range(2)], [{"a": _nli(rng, 0.5)} for _ in range(2)]
    first = paired_bootstrap("nli", "acc", row, ref, ["a"], seed=7)
    assert first.p == paired_bootstrap("nli", "acc", row, ref, ["a"], seed=7).p
    assert first.delta < 0 and first.p < 0.05  # a drop is found as well as a gain
    assert paired_bootstrap("nli", "acc", ref, row, ["a"], seed=7).p == pytest.approx(first.p)


def test_identical_sides_give_p_one() -> None:
    rows = [{"a": _nli(np.random.default_rng(4), 0.5)}] * 2
    assert paired_bootstrap("nli", "acc", rows, rows, ["a"]).p == 1.0


def test_corpus_f1_is_recomputed_on_each_resample() -> None:
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 2, 400)
    ours = classification_outcomes("sentiment", np.where(rng.random(400) < 0.8, gold, 1 - gold), gold)
    theirs = classification_outcomes("sentiment", np.where(rng.random(400) < 0.7, gold, 1 - gold), gold)
    result = paired_bootstrap("sentiment", "f1", [{"a": ours}], [{"a": theirs}], ["a"], resamples=300)
    assert result.delta == pytest.approx(full_sample("sentiment", ours)["f1"] - full_sample("sentiment", theirs)["f1"])
    assert len(set(np.round(result.deltas, 12))) > 100  # F1 of each resample, not a fixed per-example mean


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="same test examples"):
        paired_bootstrap("nli", "acc", [{"a": np.zeros((5, 1))}], [{"a": np.zeros((6, 1))}], ["a"])
    with pytest.raises(ValueError, match="cannot be recomputed"):
        paired_bootstrap("nli", "f1", [{"a": np.zeros((5, 1))}], [{"a": np.zeros((5, 1))}], ["a"])


def test_under_the_null_the_false_positive_rate_is_near_nominal() -> None:
    """Both sides drawn from one per-example distribution (stage 2 changes nothing but the examples' luck):
    200 cells of 2 seeds; fixed seeds, so the count is fixed; nominal 5%, binomial 95% band for 200 is 2-8%."""
    rng = np.random.default_rng(11)
    false = 0
    for cell in range(200):
        difficulty = rng.normal(0.0, 1.5, 300)

        def model(difficulty: np.ndarray = difficulty) -> np.ndarray:
            return (difficulty + rng.normal(0.0, 1.0, 300) > 0).astype(np.int64)[:, None]

        row, ref = [{"a": model()} for _ in range(2)], [{"a": model()} for _ in range(2)]
        false += paired_bootstrap("nli", "acc", row, ref, ["a"], resamples=300, seed=cell).p < 0.05
    assert 2 <= false <= 16, false


def test_benjamini_hochberg_against_a_hand_computed_case() -> None:
    p = [0.01, 0.04, 0.03, 0.2, math.nan]
    # sorted 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, min(0.06, 0.0533) = 0.0533, 0.0533, 0.2
    assert benjamini_hochberg(p)[:4] == pytest.approx([0.04, 4 * 0.04 / 3, 4 * 0.04 / 3, 0.2])
    assert math.isnan(benjamini_hochberg(p)[4])
    assert adjust(p, "holm")[:4] == pytest.approx(holm(p)[:4])
    with pytest.raises(ValueError, match="correction: unknown 'bonf'"):
        adjust(p, "bonf")


def test_the_verdict_falls_back_to_the_t_test_and_says_why() -> None:
    values, bases = {0: 0.6, 1: 0.62, 2: 0.61}, {0: 0.5, 1: 0.5, 2: 0.52}
    test = compare(values, bases, evidence=None, languages=["a"], options=TestOptions())
    assert test.method == "t-test" and "no per-example test outcomes" in test.note
    t_only = compare(values, bases, evidence=None, languages=["a"], options=TestOptions(test="t-test"))
    assert t_only.p == test.p and t_only.note == ""
    rng = np.random.default_rng(6)
    rows = {s: {"a": _nli(rng, 0.6)} for s in range(3)}
    refs = {s: {"a": _nli(rng, 0.5)} for s in range(3)}
    evidence = Evidence("nli", "acc", rows, refs)
    boot = compare(values, bases, evidence=evidence, languages=["a"], options=TestOptions(test="bootstrap"))
    assert boot.method == "bootstrap" and boot.tested and boot.p < 0.05 and math.isnan(boot.t)
    pooled = compare(values, bases, evidence=evidence, languages=["a"], options=TestOptions())  # the default
    assert pooled.method == "pooled" and pooled.spread is not None and pooled.spread.k == 3
    missing = compare(values, bases, evidence=Evidence("nli", "acc", {0: rows[0]}, refs), languages=["a"],
                      options=TestOptions())
    assert missing.method == "t-test" and "seed 1" in missing.note
    with pytest.raises(ValueError, match="test: unknown 'z'"):
        TestOptions(test="z")
