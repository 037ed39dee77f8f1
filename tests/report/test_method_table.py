"""The method × target table of MetaXL-style sweeps: one score per trial on its own target, seeds averaged."""

from __future__ import annotations

import math

import pytest

from xlsweep.report import TrialRecord
from xlsweep.report.method_table import BASELINE_ROW, markdown_table, method_label, method_table


def _record(method: str, target: str, score: float, seed: int = 0, baseline: float = 0.5) -> TrialRecord:
    return TrialRecord(aux=method, seed=seed, scores={target: score}, baseline={target: baseline})


RECORDS = [
    _record("jt", "qu", 0.60, 0), _record("jt", "qu", 0.70, 1), _record("jt", "mi", 0.40, baseline=0.3),
    _record("metaxl", "qu", 0.75), _record("metaxl", "mi", 0.50, baseline=0.3),
]


def test_rows_are_methods_after_the_source_only_baseline_and_cells_average_seeds() -> None:
    table = method_table(RECORDS)
    assert list(table.index) == [BASELINE_ROW, "jt", "metaxl"]
    assert list(table.columns) == ["qu", "mi", "avg"]
    assert table.loc["jt", "qu"] == pytest.approx(0.65)  # mean of two seeds
    assert table.loc[BASELINE_ROW, "mi"] == pytest.approx(0.3)
    assert table.loc["metaxl", "avg"] == pytest.approx((0.75 + 0.50) / 2)
    assert table.attrs["n"] == {BASELINE_ROW: 1, "jt": 3, "metaxl": 2}


def test_a_cell_no_trial_scored_is_nan_and_left_out_of_the_average() -> None:
    table = method_table([*RECORDS, _record("target-only", "qu", 0.2)])
    assert list(table.index) == [BASELINE_ROW, "target-only", "jt", "metaxl"]  # baselines first, as in the paper
    assert math.isnan(table.loc["target-only", "mi"]) and table.loc["target-only", "avg"] == pytest.approx(0.2)


def test_markdown_shows_points_and_bolds_each_columns_best_method() -> None:
    text = markdown_table(method_table(RECORDS))
    assert text.splitlines()[0] == "| method | n | qu | mi | avg |"
    assert "| metaxl | 2 | **75.0** | **50.0** | **62.5** |" in text
    assert "| jt | 3 | 65.0 | 40.0 | 52.5 |" in text


def test_disagreeing_baselines_are_an_error() -> None:
    with pytest.raises(ValueError, match="baselines disagree for target 'qu'"):
        method_table([*RECORDS, _record("jt", "qu", 0.6, baseline=0.9)])


def test_labels_name_the_method_and_its_varying_settings() -> None:
    assert method_label("metaxl", {"metaxl.rtn_layers": [1, 2], "metaxl.source_size": 5000}) == \
        "metaxl rtn_layers=1,2 source_size=5000"
    assert method_label("jt", {}) == "jt"
