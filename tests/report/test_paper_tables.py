"""The paper-shaped tables: mean ± std and n over seeds, significance marks, avg† and row labels."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.report.conftest import DEMO_BASELINE, DEMO_SCORES, FEW_SHOT_GAIN, MX_BASELINE, MX_SCORES, Store
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.heatmap import _heatmap_figure, write_heatmap
from xlsweep.report.method_table import BASELINE_ROW
from xlsweep.report.paper_tables import aux_paper_table, delta_frames, method_paper_table, untested_frame
from xlsweep.report.stats import mean
from xlsweep.report.sweep_results import ReportError, RunRecord
from xlsweep.report.verdict import TestOptions


def _demo(store: Store, metric: str = "acc") -> Any:
    return aux_paper_table(load_sweep_results(store.uri, parent_run_id=store.parent).records, metric)


def _p(ours: list[float], base: list[float]) -> float:
    return float(scipy_stats.ttest_rel(ours, base, alternative="greater").pvalue)


def _holm_ref(p_values: list[float]) -> list[float]:
    """Holm's adjustment written out: the k-th smallest p times (m - k + 1), running maximum, capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out, running = [0.0] * len(p_values), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - k) * p_values[i]))
        out[i] = running
    return out


def _demo_p_values() -> dict[tuple[str, str], float]:
    """Raw p of each tested cell of the demo's Table 3: 2 XLA-MAML rows × bel, cor, dun, avg, avg† (X-MAML: n = 1)."""
    out = {}
    for key in (("xla-maml", "ana→bel", "ana", "bel"), ("xla-maml", "ana→cor", "ana", "cor")):
        seeds = DEMO_SCORES[key]
        spans = {"bel": ["bel"], "cor": ["cor"], "dun": ["dun"], "avg": ["bel", "cor", "dun"],
                 "avg†": [t for t in ("bel", "cor", "dun") if t != key[3]]}
        for column, langs in spans.items():
            ours = [sum(seeds[s][t] for t in langs) / len(langs) for s in (0, 1, 2)]
            out[(f"XLA-MAML ({key[1]})", column)] = _p(ours, [sum(DEMO_BASELINE[t] for t in langs) / len(langs)] * 3)
    return out


def test_table3_rows_columns_and_counts(demo_store: Store) -> None:
    table = _demo(demo_store)
    assert table.columns == ("bel", "cor", "dun", "avg", "avg†")
    assert [r.label for r in table.rows] == [BASELINE_ROW, "X-MAML (bel)", "XLA-MAML (ana→bel)", "XLA-MAML (ana→cor)"]
    assert [r.n for r in table.rows] == [1, 1, 3, 3]  # one stage-1 model shared by the seeds: shown once
    assert table.rows[0].reference and not any(r.reference for r in table.rows[1:])


def test_table3_cells_are_mean_and_sample_std_over_seeds(demo_store: Store) -> None:
    table = _demo(demo_store)
    seeds = DEMO_SCORES[("xla-maml", "ana→bel", "ana", "bel")]
    for lang in ("bel", "cor", "dun"):
        values = [seeds[s][lang] for s in (0, 1, 2)]
        cell = table.row("XLA-MAML (ana→bel)").cells[lang]
        assert cell.mean == pytest.approx(sum(values) / 3)
        assert cell.std == pytest.approx(float(np.std(values, ddof=1)))
        assert cell.n == 3
    base = table.row(BASELINE_ROW).cells
    assert base["dun"].mean == pytest.approx(0.40) and base["dun"].n == 1 and math.isnan(base["dun"].std)
    assert base["avg"].mean == pytest.approx(0.50)
    assert base["avg†"].n == 0 and math.isnan(base["avg†"].mean)  # the baseline has no auxiliary languages


def test_table3_significance_marks_come_from_the_paired_test_holm_adjusted(demo_store: Store) -> None:
    table = _demo(demo_store)
    bel_row, cor_row = table.row("XLA-MAML (ana→bel)").cells, table.row("XLA-MAML (ana→cor)").cells
    # ana→bel on bel: +.06, +.05, +.07 → p = 0.0046; on cor: +.01, -.01, +.03 → p = 0.24
    assert bel_row["bel"].test is not None
    assert bel_row["bel"].test.p == pytest.approx(_p([0.56, 0.55, 0.57], [0.5] * 3))
    assert bel_row["cor"].test is not None and bel_row["cor"].test.p == pytest.approx(0.2387, abs=1e-3)
    # 10 tested cells (X-MAML's single seed tests nothing) in two families: the 6 target cells share the sweep's
    # (choice, target) family with best_pairs.csv, the 4 average cells are their own; Holm's adjustment in each
    raw = _demo_p_values()
    targets = {k: p for k, p in raw.items() if k[1] in ("bel", "cor", "dun")}
    averages = {k: p for k, p in raw.items() if k not in targets}
    adjusted = (dict(zip(targets, _holm_ref(list(targets.values())), strict=True))
                | dict(zip(averages, _holm_ref(list(averages.values())), strict=True)))
    assert table.tested == 10 and len(targets) == 6
    for (label, column), p_adj in adjusted.items():
        cell = table.row(label).cells[column]
        assert cell.p_adjusted == pytest.approx(p_adj)
        assert cell.significant == (p_adj < 0.05)
    assert bel_row["bel"].significant and bel_row["bel"].p_adjusted == pytest.approx(6 * bel_row["bel"].test.p)
    assert bel_row["bel"].family == 6 and bel_row["avg"].family == 4
    assert bel_row["bel"].test.method == "t-test" and "no per-example test outcomes" in bel_row["bel"].test.note
    # raw p < 0.05 but not after the correction: the marks that a per-cell test gave and Holm takes away
    cell = bel_row["dun"]
    assert cell.test is not None and cell.test.significant and cell.test.p < 0.05
    assert not cell.significant and cell.p_adjusted >= 0.05
    assert cor_row["cor"].significant  # p = 0.0054: kept by Holm over the 6 target tests
    assert not bel_row["cor"].significant and not cor_row["bel"].significant and not cor_row["dun"].significant
    one_seed = table.row("X-MAML (bel)").cells["bel"]
    assert not one_seed.significant and one_seed.untested and one_seed.test is not None
    assert "1 seed pair" in one_seed.test.reason and math.isnan(one_seed.p_adjusted)
    assert all(cell.test is None and not cell.untested for cell in table.row(BASELINE_ROW).cells.values())
    note = table.notes[2]
    assert "Holm-adjusted over the sweep's 6 (choice, target) tests against stage 1" in note and "α = 0.05" in note
    assert "○: not tested" in note


def test_avg_dagger_excludes_the_rows_auxiliary_languages(demo_store: Store) -> None:
    table = _demo(demo_store)
    seeds = DEMO_SCORES[("xla-maml", "ana→bel", "ana", "bel")]
    avg = [sum(seeds[s].values()) / 3 for s in (0, 1, 2)]
    kept = [(seeds[s]["cor"] + seeds[s]["dun"]) / 2 for s in (0, 1, 2)]  # bel is the row's query language
    cells = table.row("XLA-MAML (ana→bel)").cells
    assert cells["avg"].mean == pytest.approx(sum(avg) / 3)
    assert cells["avg†"].mean == pytest.approx(sum(kept) / 3)
    assert cells["avg†"].std == pytest.approx(float(np.std(kept, ddof=1)))
    # the average improves (raw p = 0.02, not after Holm over the table), the average without bel does not (p = 0.06)
    assert cells["avg"].test is not None and cells["avg"].test.significant and not cells["avg"].significant
    assert cells["avg"].test.p == pytest.approx(_p(avg, [0.5] * 3))
    assert cells["avg†"].test is not None and cells["avg†"].test.p == pytest.approx(_p(kept, [0.5] * 3))
    assert not cells["avg†"].significant
    cor_kept = table.row("XLA-MAML (ana→cor)").cells["avg†"]
    assert cor_kept.mean == pytest.approx(sum((v["bel"] + v["dun"]) / 2 for v in
                                              DEMO_SCORES[("xla-maml", "ana→cor", "ana", "cor")].values()) / 3)


def test_few_shot_scores_have_their_own_table(demo_store: Store) -> None:
    table = _demo(demo_store, "fs_acc")
    assert table.row("XLA-MAML (ana→bel)").cells["bel"].mean == pytest.approx(0.56 + FEW_SHOT_GAIN)
    assert table.row(BASELINE_ROW).cells["bel"].mean == pytest.approx(DEMO_BASELINE["bel"] + FEW_SHOT_GAIN)
    assert table.row("XLA-MAML (ana→bel)").cells["bel"].significant


def test_an_unknown_metric_names_the_available_ones(demo_store: Store) -> None:
    records = load_sweep_results(demo_store.uri, parent_run_id=demo_store.parent).records
    with pytest.raises(ReportError, match=r"no 'em' scores in the finished trials: expected one of "
                                          r"\['acc', 'fs_acc'\]"):
        aux_paper_table(records, "em")


def test_delta_frames_and_the_heatmap_mark_significant_cells(demo_store: Store, tmp_path: Path) -> None:
    deltas, mask = delta_frames(_demo(demo_store))
    assert list(deltas.index) == ["X-MAML (bel)", "XLA-MAML (ana→bel)", "XLA-MAML (ana→cor)"]
    assert list(deltas.columns) == ["bel", "cor", "dun", "avg"]
    assert deltas.loc["XLA-MAML (ana→bel)", "bel"] == pytest.approx(0.06)
    assert deltas.loc["XLA-MAML (ana→cor)", "dun"] == pytest.approx(0.01)
    assert deltas.attrs["n"] == {"X-MAML (bel)": 1, "XLA-MAML (ana→bel)": 3, "XLA-MAML (ana→cor)": 3}
    assert mask.loc["XLA-MAML (ana→bel)"].tolist() == [True, False, False, False]  # Holm: dun and avg not
    assert not mask.loc["X-MAML (bel)"].any()

    untested = untested_frame(_demo(demo_store))
    assert untested.loc["X-MAML (bel)"].all() and not untested.drop(index="X-MAML (bel)").to_numpy().any()
    figure = _heatmap_figure(deltas, title="t", metric="acc", significant=mask, untested=untested)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in figure.axes[0].texts}
    assert texts[(1, 0)] == "+6.0*" and texts[(1, 1)] == "+1.0"
    assert texts[(0, 0)] == "+3.0○"  # X-MAML's one seed: its test could not run, and the heatmap says so
    path = write_heatmap(deltas, tmp_path / "heat.png", significant=mask)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_the_heatmap_refuses_a_mask_that_does_not_fit(demo_store: Store, tmp_path: Path) -> None:
    deltas, mask = delta_frames(_demo(demo_store))
    with pytest.raises(ValueError, match=r"expected a boolean array of shape \(3, 4\), got bool of shape \(2, 4\)"):
        write_heatmap(deltas, tmp_path / "x.png", significant=mask.to_numpy()[:2])
    with pytest.raises(ValueError, match="significance mask does not match the table"):
        write_heatmap(deltas, tmp_path / "x.png", significant=mask.drop(columns="avg"))


# --- rows from grid cells (no MLflow) ----------------------------------------------------------


def _record(algorithm: str, aux: str, seed: int, scores: dict[str, float], *, cell: dict[str, Any] | None = None,
            support: tuple[str, ...] = ("ana",), query: tuple[str, ...] = ("bel",),
            baseline: dict[str, float] | None = None, source: str = "") -> RunRecord:
    return RunRecord(run_id=f"{algorithm}-{aux}-{seed}-{cell}", trial_id=f"{algorithm}-{aux}-{seed}-{cell}",
                     algorithm=algorithm, aux=aux, support=support, query=query, seed=seed,
                     cell=cell or {"aux": aux, "seed": seed}, scores={"acc": scores},
                     baseline={"acc": baseline or {k: 0.5 for k in scores}}, metrics={}, source=source)


def test_other_varying_grid_keys_are_part_of_the_row_label_but_seeds_are_not() -> None:
    records = [_record("xla-maml", "ana→bel", seed, {"cor": 0.5 + lr * 10 + seed / 100},
                       cell={"aux": "ana→bel", "seed": seed, "meta.inner_lr": lr})
               for lr in (0.001, 0.01) for seed in (0, 1)]
    table = aux_paper_table(records, "acc")
    assert [r.label for r in table.rows[1:]] == ["XLA-MAML (ana→bel) inner_lr=0.001",
                                                 "XLA-MAML (ana→bel) inner_lr=0.01"]
    assert table.row("XLA-MAML (ana→bel) inner_lr=0.01").cells["cor"].mean == pytest.approx(0.605)


def test_per_seed_baselines_are_paired_with_their_own_seed() -> None:
    # the row beats each seed's own baseline by +.03/+.03/+.04, though not the mean baseline on every seed
    records = [_record("xla-maml", "ana→bel", s, {"cor": v}, baseline={"cor": b})
               for s, v, b in ((0, 0.53, 0.50), (1, 0.43, 0.40), (2, 0.64, 0.60))]
    cell = aux_paper_table(records, "acc").rows[1].cells["cor"]
    assert cell.test is not None and cell.test.p == pytest.approx(_p([0.53, 0.43, 0.64], [0.50, 0.40, 0.60]))
    assert cell.p_adjusted == pytest.approx(cell.test.p)  # cor alone in the (choice, target) family; avg, avg†: 2
    assert cell.significant
    baseline = aux_paper_table(records, "acc").rows[0].cells["cor"]
    assert baseline.mean == pytest.approx(0.5) and baseline.std == pytest.approx(0.1) and baseline.n == 3


def test_disagreeing_baselines_within_a_seed_are_an_error() -> None:
    records = [_record("xla-maml", "ana→bel", 0, {"cor": 0.5}, baseline={"cor": 0.5}),
               _record("xla-maml", "ana→dun", 0, {"cor": 0.5}, baseline={"cor": 0.7}, query=("dun",))]
    with pytest.raises(ReportError, match=r"stage-1 baselines disagree for acc on 'cor', seed 0: 0.5 .* and 0.7"):
        aux_paper_table(records, "acc")


def test_a_missing_baseline_names_the_run_and_the_metric() -> None:
    record = RunRecord("r1", "t1", "xla-maml", "ana→bel", ("ana",), ("bel",), 0, {}, {"acc": {"cor": 0.5}}, {}, {})
    with pytest.raises(ReportError, match=r"run r1 \(ana→bel, seed 0\) has no stage-1 baseline for acc on \['cor'\]"):
        aux_paper_table([record], "acc")


# --- MetaXL's tables -------------------------------------------------------------------------


def test_metaxl_table_rows_cells_and_significance_against_jt(mx_store: Store) -> None:
    records = load_sweep_results(mx_store.uri, experiment="mx").records
    table = method_paper_table(records, "f1")
    assert table.columns == ("mi", "qu", "avg")
    assert [r.label for r in table.rows] == [BASELINE_ROW, "target-only", "jt", "metaxl"]
    assert table.row("jt").reference and not table.row("metaxl").reference

    metaxl, jt = table.row("metaxl").cells, table.row("jt").cells
    assert metaxl["qu"].mean == pytest.approx(sum(MX_SCORES["metaxl"]["qu"]) / 3)  # the 0.99 of other targets unused
    assert metaxl["qu"].std == pytest.approx(float(np.std(MX_SCORES["metaxl"]["qu"], ddof=1)))
    assert metaxl["qu"].n == 3 and table.row("metaxl").n == 3
    assert metaxl["qu"].significant  # vs jt: +.05, +.06, +.06
    assert metaxl["qu"].test is not None
    assert metaxl["qu"].test.p == pytest.approx(_p(MX_SCORES["metaxl"]["qu"], MX_SCORES["jt"]["qu"]))
    assert not metaxl["mi"].significant  # +.03, -.02, +.01
    assert all(cell.test is None for cell in jt.values())  # the reference is not tested
    avg = [(MX_SCORES["metaxl"]["qu"][s] + MX_SCORES["metaxl"]["mi"][s]) / 2 for s in range(3)]
    assert metaxl["avg"].mean == pytest.approx(sum(avg) / 3)
    assert table.row(BASELINE_ROW).cells["qu"].mean == pytest.approx(MX_BASELINE["qu"])
    assert "significant difference from jt by a two-sided paired test over seeds and test examples" in table.notes[1]
    assert "seed-to-seed variance pooled over the family" in table.notes[1]
    assert "significant improvement over jt by a one-sided paired t-test over seeds" in method_paper_table(
        records, "f1", options=TestOptions(test="t-test")).notes[1]


def test_metaxl_table_baseline_choice(mx_store: Store) -> None:
    records = load_sweep_results(mx_store.uri, experiment="mx").records
    vs_target_only = method_paper_table(records, "f1", baseline="target-only")
    assert vs_target_only.row("jt").cells["mi"].significant and vs_target_only.row("target-only").reference
    assert not vs_target_only.row("jt").cells["qu"].significant  # +.05, +.08, +.02: p = 0.051
    vs_stage1 = method_paper_table(records, "f1", baseline="stage1")
    assert vs_stage1.rows[0].reference and vs_stage1.row("target-only").cells["mi"].significant
    no_jt = method_paper_table([r for r in records if r.algorithm != "jt"], "f1")
    assert no_jt.row("target-only").reference  # default: jt, else target-only
    with pytest.raises(ReportError, match=r"unknown baseline 'mbert': expected 'stage1' or a method of this sweep "
                                          r"\(target-only, jt, metaxl\)"):
        method_paper_table(records, "f1", baseline="mbert")


def test_metaxl_rows_pair_with_the_reference_of_the_same_settings() -> None:
    def rec(method: str, size: int, seed: int, value: float, layers: int = 0) -> RunRecord:
        cell = {"aux": "en→qu", "seed": seed, "meta.algorithm": method, "metaxl.source_size": size,
                "metaxl.rtn_layers": layers}
        return RunRecord(f"{method}{size}{layers}{seed}", f"{method}{size}{layers}{seed}", method, "en→qu", ("en",),
                         ("qu",), seed, cell, {"f1": {"qu": value}}, {"f1": {"qu": 0.3}}, {})

    records = [rec("jt", size, s, 0.5 + size / 10000, layers) for size in (1000, 5000) for s in range(3)
               for layers in (1, 2)]  # jt ignores the RTN setting: repeats of one row per seed
    records += [rec("metaxl", 1000, s, v, 2) for s, v in enumerate((0.63, 0.62, 0.63))]
    records += [rec("metaxl", 5000, s, v, 2) for s, v in enumerate((0.49, 0.51, 0.50))]
    table = method_paper_table(records, "f1")
    assert [r.label for r in table.rows[1:]] == [
        "jt source_size=1000", "jt source_size=5000",
        "metaxl source_size=1000 rtn_layers=2", "metaxl source_size=5000 rtn_layers=2"]
    assert table.row("jt source_size=1000").n == 3 and table.row("jt source_size=1000").cells["qu"].n == 3
    small = table.row("metaxl source_size=1000 rtn_layers=2").cells["qu"]
    large = table.row("metaxl source_size=5000 rtn_layers=2").cells["qu"]
    assert small.test is not None and small.test.mean_diff == pytest.approx(0.6267 - 0.6, abs=1e-4)
    assert small.significant  # +.03, +.02, +.03 over jt source_size=1000: p = 0.0077, ×4 tested cells (Holm)
    assert "from jt (the row of the same settings)" in table.notes[1]
    assert large.test is not None and large.test.mean_diff == pytest.approx(0.50 - 1.0)
    assert not large.significant


def test_a_method_without_an_rtn_is_one_row_whatever_rtn_variant_the_grid_sweeps() -> None:
    def rec(method: str, rtn: str, seed: int) -> RunRecord:
        cell = {"aux": "en→qu", "seed": seed, "meta.algorithm": method, "metaxl.rtn": rtn}
        return RunRecord(f"{method}{rtn}{seed}", f"{method}{rtn}{seed}", method, "en→qu", ("en",), ("qu",), seed, cell,
                         {"f1": {"qu": 0.5 + seed / 100}}, {"f1": {"qu": 0.3}}, {})

    records = [rec(m, rtn, s) for m in ("jt", "metaxl") for rtn in ("paper", "authors-code") for s in range(2)]
    assert [r.label for r in method_paper_table(records, "f1").rows[1:]] == [
        "jt", "metaxl rtn=paper", "metaxl rtn=authors-code"]


# --- avg† keeps the source; X-MAML and XLA-MAML in one table, compared ---------------------------

BASE4 = {"ana": 0.95, "bel": 0.90, "cor": 0.70, "dun": 0.60}
JITTER = {"xla-maml": (0.0, 0.01, -0.01, 0.005), "x-maml": (0.004, -0.006, 0.0, 0.002)}
EFFECT = {  # (algorithm, aux language) -> target -> improvement over stage 1
    ("xla-maml", "cor"): {"ana": 0.00, "bel": 0.02, "cor": 0.10, "dun": 0.03},
    ("x-maml", "cor"): {"ana": -0.01, "bel": 0.02, "cor": 0.05, "dun": 0.03},
    ("xla-maml", "dun"): {"ana": 0.00, "bel": 0.01, "cor": 0.02, "dun": 0.08},
    ("x-maml", "dun"): {"ana": 0.00, "bel": 0.01, "cor": 0.02, "dun": 0.08},
}


def _mixed(algorithm: str, lang: str, seed: int) -> RunRecord:
    """A trial of a sweep with meta.algorithm as a grid axis: XLA-MAML ana→lang, or X-MAML on lang alone."""
    xla = algorithm == "xla-maml"
    scores = {t: BASE4[t] + EFFECT[(algorithm, lang)][t] + JITTER[algorithm][seed] for t in BASE4}
    aux = f"ana→{lang}" if xla else lang
    return _record(algorithm, aux, seed, scores, support=("ana",) if xla else (lang,), query=(lang,),
                   baseline=BASE4, source="ana", cell={"aux": aux, "seed": seed, "meta.algorithm": algorithm})


def _mixed_records() -> list[RunRecord]:
    return [_mixed(a, lang, s) for a in ("xla-maml", "x-maml") for lang in ("cor", "dun") for s in range(4)]


def test_avg_dagger_keeps_the_stage1_source_on_source_to_aux_rows() -> None:
    # XLA-MAML ana→cor: inner step on the source ana, meta step on cor. The paper's Table 3 blanks only hi on its
    # "hi → X" rows (en inner, hi meta) and keeps en: avg† leaves out cor, not ana.
    table = aux_paper_table([r for r in _mixed_records() if r.algorithm == "xla-maml"], "acc")
    row = table.row("XLA-MAML (ana→cor)")
    assert row.aux_languages == ("cor",)
    kept = [mean([BASE4[t] + EFFECT[("xla-maml", "cor")][t] + JITTER["xla-maml"][s] for t in ("ana", "bel", "dun")])
            for s in range(4)]
    assert row.cells["avg†"].mean == pytest.approx(mean(kept))
    assert row.cells["avg†"].n == 4
    # X-MAML on the source language itself: the source is its auxiliary language, so avg† leaves it out
    x_on_source = [_record("x-maml", "ana", s, {"ana": 0.96, "bel": 0.91 + s / 100}, support=("ana",),
                           query=("ana",), baseline={"ana": 0.95, "bel": 0.90}, source="ana") for s in range(2)]
    cells = aux_paper_table(x_on_source, "acc").row("X-MAML (ana)").cells
    assert cells["avg†"].mean == pytest.approx(0.915)


def test_x_maml_and_xla_maml_share_a_table_row_by_row_as_in_table3() -> None:
    table = aux_paper_table(_mixed_records(), "acc")
    assert [r.label for r in table.rows[1:]] == ["X-MAML (cor)", "XLA-MAML (ana→cor)", "X-MAML (dun)",
                                                 "XLA-MAML (ana→dun)"]
    assert table.row("X-MAML (cor)").aux_languages == table.row("XLA-MAML (ana→cor)").aux_languages == ("cor",)
    assert table.row("X-MAML (cor)").cells["cor"].mean == pytest.approx(0.75 + mean(list(JITTER["x-maml"])))


def test_xla_maml_is_compared_with_x_maml_of_the_same_aux_paired_by_seed_holm_in_its_own_family() -> None:
    table = aux_paper_table(_mixed_records(), "acc")
    assert [r.label for r in table.comparisons] == ["XLA-MAML (ana→cor) − X-MAML (cor)",
                                                    "XLA-MAML (ana→dun) − X-MAML (dun)"]
    spans = {t: [t] for t in BASE4} | {"avg": list(BASE4)}
    raw: dict[tuple[str, str], float] = {}
    for lang in ("cor", "dun"):
        for column, langs in (spans | {"avg†": [t for t in BASE4 if t != lang]}).items():
            ours, theirs = ([mean([_mixed(a, lang, s).scores["acc"][t] for t in langs]) for s in range(4)]
                            for a in ("xla-maml", "x-maml"))
            raw[(lang, column)] = _p(ours, theirs)
            cell = table.comparisons[0 if lang == "cor" else 1].cells[column]
            assert cell.mean == pytest.approx(mean(ours) - mean(theirs)) and cell.n == 4
            assert cell.test is not None and cell.test.p == pytest.approx(raw[(lang, column)])
    adjusted = dict(zip(raw, _holm_ref(list(raw.values())), strict=True))
    assert table.compared == 12
    for (lang, column), p_adj in adjusted.items():
        cell = table.comparisons[0 if lang == "cor" else 1].cells[column]
        assert cell.p_adjusted == pytest.approx(p_adj) and cell.significant == (p_adj < 0.05)
    assert table.comparisons[0].cells["cor"].significant  # +5 points on every seed
    assert not table.comparisons[1].cells["dun"].significant  # the same effect: only the jitter differs
    assert any("XLA-MAML − X-MAML rows" in note and "Holm-adjusted over these 12 tested cells" in note
               for note in table.notes)
    # the table's own family (every row against stage 1) is not changed by the comparisons
    assert table.tested == 4 * 6
