"""Best auxiliary choices per target: ranking by mean improvement, n, std and the significance flag."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.report.conftest import Store
from xlsweep.report.best_pairs import best_pairs, best_pairs_lines, write_best_pairs_csv
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.records import ReportError


def test_choices_are_ranked_by_mean_improvement_per_target(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc")
    assert list(ranked) == ["bel", "cor", "dun"]
    # dun: ana→bel +.02/+.03/+.04 (p = .018), ana→cor +.05/-.03/+.01 (p = .35), X-MAML +.01 (one seed)
    dun = ranked["dun"]
    assert [p.label for p in dun] == ["XLA-MAML (ana→bel)", "XLA-MAML (ana→cor)", "X-MAML (bel)"]
    assert [p.rank for p in dun] == [1, 2, 3]
    assert dun[0].test.mean_diff == pytest.approx(0.03) and dun[0].test.std_diff == pytest.approx(0.01)
    assert dun[0].test.n == 3 and dun[0].test.significant
    assert dun[1].test.mean_diff == pytest.approx(0.01) and not dun[1].test.significant
    assert dun[2].test.n == 1 and not dun[2].test.significant
    bel = ranked["bel"]
    assert [p.label for p in bel] == ["XLA-MAML (ana→bel)", "X-MAML (bel)", "XLA-MAML (ana→cor)"]
    assert bel[0].uses_target and not bel[2].uses_target


def test_lines_show_points_n_and_flags_and_respect_top(demo_store: Store) -> None:
    ranked = best_pairs(load_sweep_results(demo_store.uri, experiment="demo").records, "acc", target="dun")
    lines = best_pairs_lines(ranked, "acc", top=2)
    assert "one-sided paired t-test over seeds" in lines[0]
    assert lines[2] == "target dun"
    assert lines[4].split() == ["1", "XLA-MAML", "(ana→bel)", "+3.0", "1.0", "3", "*"]
    assert lines[5].split() == ["2", "XLA-MAML", "(ana→cor)", "+1.0", "4.0", "3"]
    assert len(lines) == 6  # top 2 of 3
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
    assert first["mean_delta"] == pytest.approx(0.05) and bool(first["uses_target"])
