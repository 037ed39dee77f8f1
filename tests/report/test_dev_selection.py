"""Swept hyperparameters chosen on dev (xlsweep.report.dev_selection): the dev-best value's test scores, per method
and target, marked as selected; the per-value rows stay in the per-value table."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from xlsweep.report.dev_selection import SELECTED, select_on_dev, selection_note
from xlsweep.report.paper_tables import method_paper_table
from xlsweep.report.sweep_results import RunRecord


def _trial(algorithm: str, target: str, lr: float, seed: int, *, dev: float, test: float) -> RunRecord:
    cell: dict[str, Any] = {"aux": f"en→{target}", "seed": seed, "meta.algorithm": algorithm, "metaxl.rtn_lr": lr}
    return RunRecord(run_id=f"{algorithm}-{target}-{lr}-{seed}", trial_id="t", algorithm=algorithm, aux=f"en→{target}",
                     support=("en",), query=(target,), seed=seed, cell=cell, scores={"f1": {target: test}},
                     baseline={"f1": {target: 0.3}}, metrics={"dev_best": dev}, source="en")


def _sweep() -> list[RunRecord]:
    # metaxl on qu: 1e-6 is best on dev (test 0.60); on gn: 3e-5 is best on dev though 1e-6 is best on test
    devs = {("qu", 3e-5): 0.50, ("qu", 1e-6): 0.70, ("gn", 3e-5): 0.85, ("gn", 1e-6): 0.60}
    tests = {("qu", 3e-5): 0.40, ("qu", 1e-6): 0.60, ("gn", 3e-5): 0.50, ("gn", 1e-6): 0.90}
    records = [_trial("metaxl", t, lr, s, dev=devs[(t, lr)] + s / 100, test=tests[(t, lr)] + s / 100)
               for t in ("qu", "gn") for lr in (3e-5, 1e-6) for s in (0, 1)]
    records += [_trial("jt", t, lr, s, dev=0.5, test=0.45) for t in ("qu", "gn") for lr in (3e-5, 1e-6) for s in (0, 1)]
    return records


def test_the_dev_best_value_is_chosen_per_method_and_target_not_the_test_best() -> None:
    chosen, selections = select_on_dev(_sweep(), ["metaxl.rtn_lr"], per_target=True)
    picked = {(s.algorithm, s.target): s.value for s in selections}
    assert picked == {("metaxl", "qu"): 1e-6, ("metaxl", "gn"): 3e-5}  # gn: dev decides, not test's 1e-6
    metaxl = [r for r in chosen if r.algorithm == "metaxl"]
    assert sorted((r.query[0], r.scores["f1"][r.query[0]]) for r in metaxl) == [
        ("gn", 0.5), ("gn", 0.51), ("qu", 0.6), ("qu", 0.61)]
    assert all(r.cell["metaxl.rtn_lr"] == SELECTED for r in chosen)
    assert len([r for r in chosen if r.algorithm == "jt"]) == 8  # jt has no RTN: its values are repeats, all kept


def test_per_method_selection_takes_one_value_for_every_target() -> None:
    chosen, selections = select_on_dev(_sweep(), ["metaxl.rtn_lr"], per_target=False)
    assert [(s.algorithm, s.value) for s in selections] == [("metaxl", 3e-5)]  # mean dev .68 vs .655
    assert {r.cell["metaxl.rtn_lr"] for r in chosen} == {SELECTED}


def test_the_selected_table_has_one_row_per_method_marked_as_selected_on_dev() -> None:
    chosen, selections = select_on_dev(_sweep(), ["metaxl.rtn_lr"], per_target=True)
    table = method_paper_table(chosen, "f1", baseline="jt")
    assert [r.label for r in table.rows[1:]] == ["jt", "metaxl"]
    assert table.row("metaxl").cells["qu"].mean == pytest.approx(0.605)
    assert table.row("metaxl").cells["gn"].mean == pytest.approx(0.505)
    note = selection_note(selections, ["metaxl.rtn_lr"], True)
    assert "selected on dev (per method and target" in note and "metaxl qu: rtn_lr=1e-06" in note
    per_value = method_paper_table(_sweep(), "f1", baseline="jt")  # the per-value rows are still there
    assert "metaxl rtn_lr=1e-06" in [r.label for r in per_value.rows]


def test_keys_the_sweep_did_not_vary_leave_the_trials_alone() -> None:
    records = _sweep()
    assert select_on_dev(records, ["metaxl.bottleneck"]) == (records, [])


def test_the_parent_run_tag_round_trips_the_config_to_the_report() -> None:
    """The sweep records its select_on_dev keys on the parent run; the report's loader reads them back."""
    import dataclasses

    from xlsweep.config.schema import Grid, SelectOnDevConfig, SweepConfig, TrialConfig
    from xlsweep.report.from_mlflow import _select_on_dev
    from xlsweep.sweep.parent_run import select_on_dev_tag

    sweep = SweepConfig(name="t", trial=TrialConfig(), grid=Grid())
    for keys, per_target in ((("metaxl.rtn_lr", "metaxl.bottleneck"), True), (("meta.inner_lr",), False)):
        tag = select_on_dev_tag(dataclasses.replace(sweep, select_on_dev=SelectOnDevConfig(keys, per_target)))
        assert _select_on_dev(tag) == {"select_on_dev": keys, "select_per_target": per_target}
    assert _select_on_dev("") == {"select_on_dev": (), "select_per_target": False}


def test_a_sweep_that_tunes_writes_the_dev_selected_table_next_to_the_per_value_one(tmp_path: Any) -> None:
    from xlsweep.report.sweep_report import write_report
    from xlsweep.report.sweep_results import SweepResults

    results = SweepResults("sqlite:///x", "exp", "p1", "id", "tuned", "ner", "f1", "FINISHED", tuple(_sweep()), (),
                           select_on_dev=("metaxl.rtn_lr",), select_per_target=True)
    report = write_report(results, tmp_path, formats=["md"])
    names = {p.name for p in report.paths}
    assert {"method_table.md", "method_table_dev_selected.md"} <= names
    selected = (tmp_path / "method_table_dev_selected.md").read_text(encoding="utf-8")
    assert "rtn_lr selected on dev" in selected and "metaxl gn: rtn_lr=3e-05" in selected
    assert "rtn_lr=1e-06" in (tmp_path / "method_table.md").read_text(encoding="utf-8")  # per-value rows
    plain = dataclasses.replace(results, select_on_dev=())
    assert "method_table_dev_selected.md" not in {p.name for p in write_report(plain, tmp_path / "b",
                                                                               formats=["md"]).paths}


# ----------------------------------------------------------------- meta-learning keys (X-MAML, XLA-MAML)
def _maml(lr: float, seed: int, dev: dict[str, float], test: dict[str, float]) -> RunRecord:
    cell: dict[str, Any] = {"aux": "en→hi", "seed": seed, "meta.inner_lr": lr}
    metrics = {f"dev/{t}": v + seed / 100 for t, v in dev.items()}
    metrics["dev_avg"] = sum(dev.values()) / len(dev) + seed / 100
    return RunRecord(run_id=f"xla-{lr}-{seed}", trial_id="t", algorithm="xla-maml", aux="en→hi", support=("en",),
                     query=("hi",), seed=seed, cell=cell, scores={"acc": {t: v + seed / 100 for t, v in test.items()}},
                     baseline={"acc": dict.fromkeys(test, 0.5)}, metrics=metrics, source="en")


def _maml_sweep() -> list[RunRecord]:
    # 1e-5 is best on dev on average and on ar; 1e-4 on bg. On test 1e-4 wins everywhere: a test pick would take it.
    dev = {1e-5: {"ar": 0.80, "bg": 0.60}, 1e-4: {"ar": 0.50, "bg": 0.70}}
    test = {1e-5: {"ar": 0.55, "bg": 0.56, "hi": 0.57}, 1e-4: {"ar": 0.75, "bg": 0.76, "hi": 0.77}}
    return [_maml(lr, s, dev[lr], test[lr]) for lr in (1e-5, 1e-4) for s in (0, 1)]


def test_a_meta_learning_key_is_chosen_per_row_on_mean_dev_not_on_test() -> None:
    from xlsweep.report.paper_tables import aux_paper_table

    chosen, selections = select_on_dev(_maml_sweep(), ["meta.inner_lr"], per_target=False)
    assert [(s.algorithm, s.aux, s.target, s.value) for s in selections] == [("xla-maml", "en→hi", "", 1e-5)]
    table = aux_paper_table(chosen, "acc")
    assert [r.label for r in table.rows[1:]] == ["XLA-MAML (en→hi)"]
    row = table.row("XLA-MAML (en→hi)")
    assert (row.cells["ar"].mean, row.cells["bg"].mean) == (pytest.approx(0.555), pytest.approx(0.565))  # not .755
    assert "xla-maml (en→hi): inner_lr=1e-05" in selection_note(selections, ["meta.inner_lr"], False)


def test_a_meta_learning_key_chosen_per_target_takes_each_columns_dev_best_value() -> None:
    from xlsweep.report.paper_tables import aux_paper_table

    chosen, selections = select_on_dev(_maml_sweep(), ["meta.inner_lr"], per_target=True)
    picked = {s.target: s.value for s in selections}
    assert picked == {"ar": 1e-5, "bg": 1e-4, "hi": 1e-5}  # hi: no dev/hi (its dev split is trained on): dev_avg
    row = aux_paper_table(chosen, "acc").row("XLA-MAML (en→hi)")
    assert (row.cells["ar"].mean, row.cells["bg"].mean, row.cells["hi"].mean) == (
        pytest.approx(0.555), pytest.approx(0.765), pytest.approx(0.575))
    assert row.n == 2  # seeds, not seeds × targets
    note = selection_note(selections, ["meta.inner_lr"], True)
    assert "xla-maml (en→hi) ar: inner_lr=1e-05" in note and "xla-maml (en→hi) bg: inner_lr=0.0001" in note


def test_a_trial_without_a_dev_score_keeps_its_value_and_is_not_merged_into_the_selected_row() -> None:
    records = [dataclasses.replace(r, metrics={}) if r.cell["meta.inner_lr"] == 1e-4 else r for r in _maml_sweep()]
    chosen, _ = select_on_dev(records, ["meta.inner_lr"], per_target=False)
    assert sorted({repr(r.cell["meta.inner_lr"]) for r in chosen}) == sorted([repr(SELECTED), repr(1e-4)])


def test_a_sweep_that_tunes_a_meta_learning_key_writes_the_dev_selected_aux_table_and_heatmap(tmp_path: Any) -> None:
    from xlsweep.report.sweep_report import write_report
    from xlsweep.report.sweep_results import SweepResults

    results = SweepResults("sqlite:///x", "exp", "p1", "id", "tuned", "nli", "acc", "FINISHED", tuple(_maml_sweep()),
                           (), select_on_dev=("meta.inner_lr",), select_per_target=False)
    names = {p.name for p in write_report(results, tmp_path, formats=["md", "csv"]).paths}
    assert {"aux_table.md", "aux_table_dev_selected.md", "aux_target_delta_dev_selected.png",
            "aux_target_delta_dev_selected.csv"} <= names
    assert "method_table_dev_selected.md" not in names  # no MetaXL-family trials
    selected = (tmp_path / "aux_table_dev_selected.md").read_text(encoding="utf-8")
    assert "inner_lr selected on dev (per method:" in selected and "xla-maml (en→hi): inner_lr=1e-05" in selected
    assert "55.5" in selected and "75.5" not in selected  # the dev pick's test score, not the test pick's
    per_value = (tmp_path / "aux_table.md").read_text(encoding="utf-8")
    assert "inner_lr=1e-05" in per_value and "inner_lr=0.0001" in per_value  # the per-value rows stay
    plain = dataclasses.replace(results, select_on_dev=())
    assert "aux_table_dev_selected.md" not in {p.name for p in write_report(plain, tmp_path / "b",
                                                                            formats=["md"]).paths}
