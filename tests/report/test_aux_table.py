"""Tests for :mod:`xlsweep.report.aux_table`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import AxesImage, imread

from xlsweep.report import (
    TrialRecord,
    delta_table,
    write_csv,
    write_heatmap,
)
from xlsweep.report.heatmap import _heatmap_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BASELINE = {"bel": 0.50, "rus": 0.60, "ukr": 0.40}


def _records() -> list[TrialRecord]:
    """Two aux labels × two seeds × three targets; the first record lacks "ukr".

    Deltas (score - baseline), by hand:
        ana→bel seed 0: rus +0.02, bel +0.06            (no ukr)
        bel     seed 0: bel -0.03, rus +0.01, ukr -0.02
        ana→bel seed 1: bel +0.04, rus +0.06, ukr +0.05
        bel     seed 1: bel -0.01, rus -0.03, ukr +0.02
    """
    return [
        TrialRecord("ana→bel", 0, {"rus": 0.62, "bel": 0.56}, dict(BASELINE)),
        TrialRecord("bel", 0, {"bel": 0.47, "rus": 0.61, "ukr": 0.38}, dict(BASELINE)),
        TrialRecord("ana→bel", 1, {"bel": 0.54, "rus": 0.66, "ukr": 0.45}, dict(BASELINE)),
        TrialRecord("bel", 1, {"bel": 0.49, "rus": 0.57, "ukr": 0.42}, dict(BASELINE)),
    ]


# --- delta_table -------------------------------------------------------------


def test_delta_table_cells_avg_counts_and_order() -> None:
    table = delta_table(_records())

    assert list(table.index) == ["ana→bel", "bel"]  # first appearance
    assert list(table.columns) == ["rus", "bel", "ukr", "avg"]  # first appearance across records, then avg
    assert table.index.name == "aux"
    assert table.columns.name == "target"
    assert "n" not in table.columns
    assert table.attrs["n"] == {"ana→bel": 2, "bel": 2}

    ana = table.loc["ana→bel"]
    assert ana["rus"] == pytest.approx((0.02 + 0.06) / 2)
    assert ana["bel"] == pytest.approx((0.06 + 0.04) / 2)
    assert ana["ukr"] == pytest.approx(0.05)  # only seed 1 scored ukr
    assert ana["avg"] == pytest.approx((0.04 + 0.05 + 0.05) / 3)

    bel = table.loc["bel"]
    assert bel["rus"] == pytest.approx((0.01 - 0.03) / 2)
    assert bel["bel"] == pytest.approx((-0.03 - 0.01) / 2)
    assert bel["ukr"] == pytest.approx((-0.02 + 0.02) / 2, abs=1e-12)
    assert bel["avg"] == pytest.approx((-0.01 - 0.02 + 0.0) / 3)


def test_delta_table_given_targets_order_and_subset() -> None:
    table = delta_table(_records(), targets=["ukr", "bel"])

    assert list(table.columns) == ["ukr", "bel", "avg"]
    assert table.loc["ana→bel", "avg"] == pytest.approx((0.05 + 0.05) / 2)
    assert table.loc["bel", "avg"] == pytest.approx((0.0 - 0.02) / 2)


def test_delta_table_cell_without_values_is_nan_and_avg_skips_it() -> None:
    records = [*_records(), TrialRecord("rus", 0, {"bel": 0.53, "rus": 0.70}, dict(BASELINE))]
    table = delta_table(records)

    assert math.isnan(table.loc["rus", "ukr"])
    assert table.loc["rus", "avg"] == pytest.approx((0.03 + 0.10) / 2)
    assert table.attrs["n"]["rus"] == 1


def test_delta_table_rejects_empty_records() -> None:
    with pytest.raises(ValueError, match="no trial records"):
        delta_table([])


def test_delta_table_rejects_unknown_target_and_names_it() -> None:
    with pytest.raises(ValueError, match="kaz"):
        delta_table(_records(), targets=["bel", "kaz"])


def test_delta_table_rejects_score_without_baseline() -> None:
    record = TrialRecord("bel", 0, {"bel": 0.5, "ukr": 0.4}, {"bel": 0.5})
    with pytest.raises(ValueError, match="missing baseline for target 'ukr'"):
        delta_table([record])


# --- write_csv ---------------------------------------------------------------


def test_write_csv_round_trip(tmp_path: Path) -> None:
    table = delta_table(_records())
    path = write_csv(table, tmp_path / "nested" / "dir" / "aux.csv")

    assert path == tmp_path / "nested" / "dir" / "aux.csv"
    assert path.is_file()
    back = pd.read_csv(path, index_col=0)
    assert list(back.index) == list(table.index)
    assert list(back.columns) == list(table.columns)
    np.testing.assert_allclose(back.to_numpy(), table.to_numpy(), rtol=0, atol=1e-15)


def test_write_csv_keeps_nan_cells(tmp_path: Path) -> None:
    records = [*_records(), TrialRecord("rus", 0, {"bel": 0.53}, dict(BASELINE))]
    table = delta_table(records)
    back = pd.read_csv(write_csv(table, str(tmp_path / "aux.csv")), index_col=0)
    np.testing.assert_allclose(back.to_numpy(), table.to_numpy(), equal_nan=True)


# --- write_heatmap -----------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, after checking the PNG signature."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    return pixels.shape[1], pixels.shape[0]


def test_write_heatmap_writes_png_of_plausible_size(tmp_path: Path) -> None:
    path = write_heatmap(delta_table(_records()), tmp_path / "fig" / "aux.png", title="test")

    assert path.is_file()
    width, height = _png_size(path)
    assert 300 <= width <= 3000
    assert 200 <= height <= 3000
    assert width > height  # 4 columns, 2 rows


def test_write_heatmap_single_cell_and_all_zero(tmp_path: Path) -> None:
    record = TrialRecord("bel", 0, {"bel": 0.5}, {"bel": 0.5})
    table = delta_table([record]).drop(columns="avg")  # a 1×1 table, delta exactly 0

    width, height = _png_size(write_heatmap(table, tmp_path / "one.png"))
    assert width > 0 and height > 0


def test_write_heatmap_with_nan_cell(tmp_path: Path) -> None:
    records = [*_records(), TrialRecord("rus", 0, {"bel": 0.53}, dict(BASELINE))]
    table = delta_table(records)
    assert table.isna().to_numpy().any()

    small = _png_size(write_heatmap(delta_table(_records()[:1]), tmp_path / "small.png"))
    large = _png_size(write_heatmap(table, tmp_path / "nan.png"))
    assert large[1] > small[1]  # more rows -> taller figure


def test_heatmap_figure_annotations_limits_and_labels() -> None:
    records = [*_records(), TrialRecord("rus", 0, {"bel": 0.53}, dict(BASELINE))]
    table = delta_table(records)
    figure = _heatmap_figure(table, title="t", metric="accuracy")
    heat_axes = figure.axes[0]

    texts = {
        (round(text.get_position()[0]), round(text.get_position()[1])): text.get_text()
        for text in heat_axes.texts
    }
    columns = list(table.columns)
    rows = list(table.index)
    assert texts[(columns.index("bel"), rows.index("ana→bel"))] == "+5.0"
    assert texts[(columns.index("bel"), rows.index("bel"))] == "\N{MINUS SIGN}2.0"
    assert texts[(columns.index("ukr"), rows.index("bel"))] == "+0.0"
    assert (columns.index("ukr"), rows.index("rus")) not in texts  # NaN cell blank
    assert (columns.index("rus"), rows.index("rus")) not in texts
    assert len(texts) == table.notna().to_numpy().sum()

    image = next(artist for artist in heat_axes.get_children() if isinstance(artist, AxesImage))
    low, high = image.get_clim()
    assert high == pytest.approx(5.0)  # largest |cell|: ana→bel bel/ukr +0.05, in points
    assert low == pytest.approx(-high)

    assert heat_axes.get_xlabel() == "target language"
    assert heat_axes.get_ylabel() == "auxiliary languages"
    assert figure.axes[1].get_ylabel() == "Δ accuracy vs baseline (points)"
    separators = [float(np.asarray(line.get_xdata())[0]) for line in heat_axes.lines]
    assert separators == [pytest.approx(columns.index("avg") - 0.5)]


def test_heatmap_figure_all_zero_uses_unit_limits() -> None:
    table = delta_table([TrialRecord("bel", 0, {"bel": 0.5, "rus": 0.7}, {"bel": 0.5, "rus": 0.7})])
    figure = _heatmap_figure(table, title="t", metric="f1")
    image = next(artist for artist in figure.axes[0].get_children() if isinstance(artist, AxesImage))
    assert image.get_clim() == (-1.0, 1.0)


def test_write_heatmap_rejects_empty_table(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty table"):
        write_heatmap(pd.DataFrame(), tmp_path / "empty.png")


# --- marks: significant, untested, predicted; their legend; the per-cell CSV ---------------------


def _marks(table: pd.DataFrame, cells: set[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([[(aux, t) in cells for t in table.columns] for aux in table.index], index=table.index,
                        columns=table.columns, dtype=bool)


def test_untested_cells_carry_their_own_mark_and_a_legend_entry() -> None:
    table = delta_table(_records())  # ana→bel on bel: +5.0, the largest cell; say its test could not run
    untested = _marks(table, {("ana→bel", "bel")})
    significant = _marks(table, {("ana→bel", "rus")})
    figure = _heatmap_figure(table, title="t", metric="acc", significant=significant, untested=untested)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in figure.axes[0].texts}
    columns = list(table.columns)
    assert texts[(0, columns.index("bel"))] == "+5.0○"
    assert texts[(0, columns.index("rus"))] == "+4.0*"
    assert texts[(1, columns.index("bel"))] == "\N{MINUS SIGN}2.0"
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "significant difference (the report's test, adjusted for its family)",
        "not tested (< 2 seed pairs or zero-variance differences)"]
    assert not _heatmap_figure(table, title="t", metric="acc").legends  # no masks, no legend


def test_predicted_cells_are_hatched_in_italics_with_a_legend_entry(tmp_path: Path) -> None:
    table = delta_table(_records())
    predicted = _marks(table, {("bel", "ukr"), ("bel", "rus")})
    figure = _heatmap_figure(table, title="t", metric="acc", predicted=predicted)
    heat = figure.axes[0]
    hatched = sorted((p.get_x() + 0.5, p.get_y() + 0.5) for p in heat.patches if p.get_hatch())
    columns = list(table.columns)
    assert hatched == sorted([(columns.index("rus"), 1.0), (columns.index("ukr"), 1.0)])
    styles = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_fontstyle() for t in heat.texts}
    assert styles[(1, columns.index("ukr"))] == "italic" and styles[(0, columns.index("ukr"))] == "normal"
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["predicted, not run"]
    path = write_heatmap(table, tmp_path / "p.png", predicted=predicted.to_numpy(), untested=predicted)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match=r"predicted mask: expected a boolean array of shape \(2, 4\)"):
        write_heatmap(table, tmp_path / "x.png", predicted=np.zeros((1, 4), dtype=bool))


def test_write_csv_with_predicted_cells_and_intervals_is_one_line_per_cell(tmp_path: Path) -> None:
    table = delta_table(_records())
    predicted = _marks(table, {("bel", "ukr")})
    low, high = table - 0.01, table + 0.02
    low.loc["ana→bel", "rus"] = np.nan
    path = write_csv(table, tmp_path / "cells.csv", predicted=predicted, interval=(low, high))
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["aux", "target", "delta", "status", "low", "high"]
    assert len(frame) == table.size
    row = frame[(frame["aux"] == "bel") & (frame["target"] == "ukr")].iloc[0]
    assert row["status"] == "predicted" and row["delta"] == pytest.approx(0.0)
    assert row["low"] == pytest.approx(-0.01) and row["high"] == pytest.approx(0.02)
    assert (frame["status"] == "observed").sum() == table.size - 1
    other = frame[(frame["aux"] == "ana→bel") & (frame["target"] == "rus")].iloc[0]
    assert math.isnan(other["low"]) and other["high"] == pytest.approx(0.06)
    only_mask = pd.read_csv(write_csv(table, tmp_path / "m.csv", predicted=predicted))
    assert only_mask["low"].isna().all() and set(only_mask["status"]) == {"observed", "predicted"}
    with pytest.raises(ValueError, match="interval low does not match the table"):
        write_csv(table, tmp_path / "bad.csv", interval=(low.drop(columns="avg"), high))
