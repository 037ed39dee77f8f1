"""Markdown, LaTeX and CSV of the paper-shaped tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tests.report.conftest import Store
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.paper_tables import PaperTable, aux_paper_table
from xlsweep.report.render import cell_text, latex, markdown, parse_formats, write_table
from xlsweep.report.sweep_results import ReportError, RunRecord
from xlsweep.report.verdict import TestOptions


@pytest.fixture(scope="module")
def demo_table(demo_store: Store) -> PaperTable:
    return aux_paper_table(load_sweep_results(demo_store.uri, experiment="demo").records, "acc", title="demo: acc",
                           options=TestOptions(test="t-test"))  # the seeds-only option: its numbers are pinned here


def test_markdown_rows_mark_significant_cells_bold_with_a_star(demo_table: PaperTable) -> None:
    lines = markdown(demo_table).splitlines()
    assert lines[0] == "### demo: acc"
    assert lines[2] == "| method | n | bel | cor | dun | avg | avg† |"
    assert "| source only (stage 1) | 1 | 50.0 | 60.0 | 40.0 | 50.0 | – |" in lines
    # Holm over the sweep's 6 (choice, target) tests leaves two marks (raw p < 0.05 also on dun); avg: its own family
    assert ("| XLA-MAML (ana→bel) | 3 | **56.0 ± 1.0**\\* | 61.0 ± 2.0 | 43.0 ± 1.0 | 53.3 ± 1.2 "
            "| 52.0 ± 1.3 |") in lines
    assert "| XLA-MAML (ana→cor) | 3 | 50.0 ± 2.6 | **65.0 ± 1.0**\\* | 41.0 ± 4.0 | 52.0 ± 2.5 | 45.5 ± 3.3 |" in lines
    assert "| X-MAML (bel) | 1 | 53.0 ○ | 62.0 ○ | 41.0 ○ | 52.0 ○ | 51.5 ○ |" in lines  # one seed: not tested
    # the X-MAML row and the XLA-MAML row of the same aux (bel; ana is the source) are compared below the table
    assert "| XLA-MAML − X-MAML | n | bel | cor | dun | avg | avg† |" in lines
    assert "| XLA-MAML (ana→bel) − X-MAML (bel) | 1 | +3.0 ○ | -1.0 ○ | +1.0 ○ | +1.0 ○ | +0.0 ○ |" in lines
    notes = "\n".join(lines)
    assert "avg†: average that excludes the row's auxiliary languages" in notes
    assert "one-sided paired t-test over seeds" in notes and "α = 0.05" in notes
    assert "Holm-adjusted over the sweep's 6 (choice, target) tests" in notes and "over their own 4" in notes


def test_latex_is_booktabs_with_escaped_labels_and_marks(demo_table: PaperTable) -> None:
    text = latex(demo_table)
    assert r"\begin{tabular}{lrccccc}" in text
    assert text.count(r"\toprule") == 1 and text.count(r"\bottomrule") == 1 and text.count(r"\midrule") == 3
    assert r"Method & $n$ & bel & cor & dun & avg & avg$^\dagger$ \\" in text
    assert (r"XLA-MAML (ana$\rightarrow$bel) & 3 & \textbf{56.0 $\pm$ 1.0}$^{*}$ & 61.0 $\pm$ 2.0 & "
            r"43.0 $\pm$ 1.0 & ") in text
    assert r"X-MAML (bel) & 1 & 53.0$^{\circ}$ & " in text and r"\multicolumn{7}{l}{XLA-MAML $-$ X-MAML} \\" in text
    assert r"source only (stage 1) & 1 & 50.0 & 60.0 & 40.0 & 50.0 & -- \\" in text
    assert r"scipy.stats.ttest\_rel" in text
    assert not {"→", "±", "†", "○", "−", "—"} & set(text)


def test_latex_escapes_special_characters_in_labels() -> None:
    records = [RunRecord(f"r{s}", f"t{s}", "xla-maml", "ana→bel", ("ana",), ("bel",), s,
                         {"aux": "ana→bel", "seed": s, "meta.inner_lr": lr}, {"acc": {"cor": 0.5 + lr}},
                         {"acc": {"cor": 0.5}}, {}) for s, lr in ((0, 0.01), (1, 0.02))]
    text = latex(aux_paper_table(records, "acc", title="50% & more_x"))
    assert r"XLA-MAML (ana$\rightarrow$bel) inner\_lr=0.01 & 1 &" in text
    assert r"\caption{50\% \& more\_x." in text


def test_csv_is_long_format_in_points_with_test_results(demo_table: PaperTable, tmp_path: Path) -> None:
    (path,) = write_table(demo_table, tmp_path / "sub" / "aux_table", ["csv"])
    assert path == tmp_path / "sub" / "aux_table.csv"
    frame = pd.read_csv(path)
    assert len(frame) == (4 + 1) * 5  # (rows + the XLA-MAML − X-MAML comparison) × columns
    assert frame["family"].tolist() == ["vs reference"] * 20 + ["XLA-MAML − X-MAML"] * 5
    cell = frame[(frame["row"] == "XLA-MAML (ana→bel)") & (frame["column"] == "bel")].iloc[0]
    assert cell["mean (points)"] == 56.0 and cell["std (points)"] == 1.0 and cell["n"] == 3  # no float noise
    assert cell["mean_diff (points)"] == 6.0 and bool(cell["significant"])
    assert cell["p"] == pytest.approx(0.004566, abs=1e-5)  # raw, and Holm-adjusted over the 6 target cells:
    assert cell["p_adjusted"] == pytest.approx(6 * 0.004566, abs=1e-4)
    dun = frame[(frame["row"] == "XLA-MAML (ana→bel)") & (frame["column"] == "dun")].iloc[0]
    assert dun["p"] < 0.05 and dun["p_adjusted"] > 0.05 and not bool(dun["significant"])
    dagger = frame[(frame["row"] == "XLA-MAML (ana→bel)") & (frame["column"] == "avg†")].iloc[0]
    assert dagger["mean (points)"] == pytest.approx((51.5 + 51 + 53.5) / 3) and not bool(dagger["significant"])
    one = frame[(frame["row"] == "X-MAML (bel)") & (frame["column"] == "bel")].iloc[0]
    assert math.isnan(one["std (points)"]) and one["test_note"] == "not tested: 1 seed pair, a paired test needs 2"
    assert math.isnan(one["p"]) and math.isnan(one["p_adjusted"])


def test_write_table_writes_the_chosen_formats(demo_table: PaperTable, tmp_path: Path) -> None:
    paths = write_table(demo_table, tmp_path / "t", parse_formats("tex, md"))
    assert [p.name for p in paths] == ["t.tex", "t.md"]
    assert paths[1].read_text(encoding="utf-8") == markdown(demo_table)


@pytest.mark.parametrize("bad", ["pdf", "md,html", "", " , "])
def test_unknown_formats_are_named(bad: str) -> None:
    with pytest.raises(ReportError, match=rf"--format: expected a comma-separated subset of md,csv,tex, got '{bad}'"):
        parse_formats(bad)


def test_cell_text_shows_fewer_seeds_than_the_row(demo_table: PaperTable) -> None:
    cell = demo_table.row("XLA-MAML (ana→bel)").cells["bel"]
    assert cell_text(cell, 3) == "56.0 ± 1.0"
    assert cell_text(cell, 4) == "56.0 ± 1.0 (n=3)"
