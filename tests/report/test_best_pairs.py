"""Best auxiliary choices per target: ranking by mean improvement, n, std, the Holm-adjusted flag, the tied set."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as scipy_stats

from tests.report.conftest import Store
from xlsweep.report.best_pairs import best_pairs, best_pairs_lines, write_best_pairs_csv
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.sweep_results import ReportError
from xlsweep.report.verdict import TestOptions


def test_choices_are_ranked_by_mean_improvement_per_target(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc")
    assert list(ranked) == ["bel", "cor", "dun"]
    # dun: ana→bel +.02/+.03/+.04 (p = .018), ana→cor +.05/-.03/+.01 (p = .35), X-MAML +.01 (one seed)
    dun = ranked["dun"]
    assert [p.label for p in dun] == ["XLA-MAML (ana→bel)", "XLA-MAML (ana→cor)", "X-MAML (bel)"]
    assert [p.rank for p in dun] == [1, 2, 3]
    assert dun[0].test.mean_diff == pytest.approx(0.03) and dun[0].test.std_diff == pytest.approx(0.01)
    assert dun[0].test.n == 3 and dun[0].test.significant  # raw p = .018, but not after Holm (below)
    assert dun[1].test.mean_diff == pytest.approx(0.01) and not dun[1].test.significant
    assert dun[2].test.n == 1 and not dun[2].test.significant
    bel = ranked["bel"]
    assert [p.label for p in bel] == ["XLA-MAML (ana→bel)", "X-MAML (bel)", "XLA-MAML (ana→cor)"]
    assert bel[0].uses_target and not bel[2].uses_target


def _p(ours: list[float], theirs: list[float]) -> float:
    return float(scipy_stats.ttest_rel(ours, theirs, alternative="greater").pvalue)


def test_significance_is_holm_adjusted_over_every_target_and_choice(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc")
    pairs = [p for per in ranked.values() for p in per]
    tested = [p for p in pairs if p.test.tested]
    assert len(tested) == 6  # 3 targets × the 2 XLA-MAML choices (X-MAML has one seed)
    raw = sorted(p.test.p for p in tested)
    by_hand = [max(min(1.0, (6 - j) * raw[j]) for j in range(k + 1)) for k in range(6)]  # Holm, step-down
    assert sorted(p.p_adjusted for p in tested) == pytest.approx(by_hand)
    dun_best = ranked["dun"][0]
    assert dun_best.test.significant and not dun_best.significant  # p = .018 raw, .070 adjusted
    assert ranked["bel"][0].significant and ranked["bel"][0].p_adjusted == pytest.approx(6 * raw[0])
    # one target shown, the same family
    only = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc", target="dun")
    assert [p.p_adjusted for p in only["dun"][:2]] == pytest.approx([p.p_adjusted for p in ranked["dun"][:2]])


def test_the_set_tied_with_the_best_per_target(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc")
    # bel: ana→bel +.06/+.05/+.07 beats ana→cor +.02/-.03/+.01 on every seed (p = .018, the only test: Holm m = 1);
    # X-MAML has one seed, so it cannot be told apart from the best
    bel = {p.label: p for p in ranked["bel"]}
    assert [p.label for p in ranked["bel"] if p.tied] == ["XLA-MAML (ana→bel)", "X-MAML (bel)"]
    assert bel["XLA-MAML (ana→bel)"].best and bel["XLA-MAML (ana→bel)"].vs_best is None
    worse = bel["XLA-MAML (ana→cor)"]
    assert worse.vs_best is not None and worse.vs_best.p == pytest.approx(_p([0.56, 0.55, 0.57], [0.52, 0.47, 0.51]))
    assert worse.vs_best_adjusted == pytest.approx(worse.vs_best.p) and not worse.tied
    # dun: ana→cor (+.05/-.03/+.01) is noisy: not significantly worse than ana→bel (+.02/+.03/+.04)
    assert all(p.tied for p in ranked["dun"])
    assert ranked["dun"][1].vs_best is not None
    assert ranked["dun"][1].vs_best.p == pytest.approx(_p([0.42, 0.43, 0.44], [0.45, 0.37, 0.41]))


def test_lines_show_points_n_flags_and_the_tied_set_and_respect_top(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc", target="dun")
    lines = best_pairs_lines(ranked, "acc", top=2)
    assert "variance pooled over the family" in lines[1] and "Holm-adjusted over the 6 tests" in lines[1]
    t_lines = best_pairs_lines(ranked, "acc", options=TestOptions(test="t-test"))
    assert "one-sided paired t-test over seeds" in t_lines[1]
    assert lines[2].startswith("best / tied = the best choice and the choices not significantly worse")
    assert lines[3].startswith("zero-shot = the best choice whose training never read the target's data")
    assert lines[5] == "target dun: best XLA-MAML (ana→bel) +3.0 (zero-shot)"
    assert lines[6].split()[-1] == "tied"
    assert lines[7].split() == ["1", "XLA-MAML", "(ana→bel)", "+3.0", "1.0", "3", "best"]  # no * after Holm
    assert lines[8].split() == ["2", "XLA-MAML", "(ana→cor)", "+1.0", "4.0", "3", "tied"]
    assert len(lines) == 9  # top 2 of 3
    bel = best_pairs_lines(best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc",
                                      target="bel"), "acc")
    # the best choice read bel's data (†); the zero-shot answer is the best one that did not
    assert bel[5] == "target bel: best XLA-MAML (ana→bel) +6.0* · zero-shot best XLA-MAML (ana→cor) +0.0"
    assert bel[7].split() == ["1", "XLA-MAML", "(ana→bel)", "†", "+6.0", "1.0", "3", "*", "best"]
    assert bel[9].split() == ["3", "XLA-MAML", "(ana→cor)", "+0.0", "2.6", "3"]
    with pytest.raises(ReportError, match="--top: expected a positive number of choices per target, got 0"):
        best_pairs_lines(ranked, "acc", top=0)


def test_an_unknown_target_names_the_scored_ones(demo_store: Store) -> None:
    records = load_sweep_results(demo_store.uri, experiment="demo").records
    with pytest.raises(ReportError, match="--target: unknown target 'zul': expected one of bel, cor, dun"):
        best_pairs(records, "acc", target="zul")


def test_metaxl_family_counts_each_trial_on_its_own_target(mx_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(mx_store.uri, experiment="mx").records, "f1")
    qu = ranked["qu"]
    assert [p.label for p in qu] == ["metaxl", "jt", "target-only"]
    assert qu[0].test.mean_diff == pytest.approx((0.55 + 0.58 + 0.54) / 3 - 0.30)
    assert not any(p.uses_target for p in qu)  # MetaXL always trains on its target: no † mark


def test_csv_has_one_line_per_target_and_choice(demo_store: Store, tmp_path: Path) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc")
    frame = pd.read_csv(write_best_pairs_csv(ranked, tmp_path / "best.csv"))
    assert len(frame) == 9
    first = frame[(frame["target"] == "cor") & (frame["rank"] == 1)].iloc[0]
    assert first["choice"] == "XLA-MAML (ana→cor)" and first["n"] == 3 and bool(first["significant"])
    assert first["mean_delta (points)"] == 5.0 and bool(first["uses_target"])  # points, no float noise
    assert first["p_adjusted"] == float(f"{ranked['cor'][0].p_adjusted:.4g}") and first["p_adjusted"] > first["p"]
    assert bool(first["tied_with_best"]) and math.isnan(first["p_vs_best"])
    bel = frame[frame["target"] == "bel"].set_index("rank")
    assert bel["tied_with_best"].tolist() == [True, True, False]
    assert bel.loc[3, "p_vs_best_adjusted"] == float(f"{ranked['bel'][2].vs_best_adjusted:.4g}")  # 4 digits
