"""What a sweep's runs show in MLflow: run names, params, the grid tag, final metrics, the parent's tables and
description (no Ray: the runs are written with the same functions the trainable and the driver use)."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from xlsweep.plan import expand_grid, load_sweep
from xlsweep.report import TrialRecord
from xlsweep.sweep.mlflow_fields import (
    chart_state,
    grid_json,
    log_final_metrics,
    parent_params,
    run_name,
    scores_table,
    trial_params,
)
from xlsweep.sweep.outcome import SweepOutcome
from xlsweep.sweep.parent_run import report_to_parent as _report
from xlsweep.tracking import SweepRun, TrialRun, local_artifact_dir

CONFIGS = Path(__file__).resolve().parents[2] / "tune_configs"


def test_run_names_are_unique_within_a_sweep_and_name_the_varying_values() -> None:
    cells = expand_grid(load_sweep(CONFIGS / "metaxl-ner-layers.yaml"))  # 3 targets × 3 methods × 3 layers
    names = [run_name(overrides, cfg) for overrides, cfg in cells]
    assert len(set(names)) == len(names) == 27
    assert "metaxl ana→cor rtn_layers=1 seed0" in names
    demo = [run_name(o, c) for o, c in expand_grid(load_sweep(CONFIGS / "demo.yaml"))]
    assert demo[:2] == ["ana→bel seed0", "ana→bel seed1"] and len(set(demo)) == len(demo)


def test_a_long_float_and_a_shared_key_name_stay_readable_and_distinct() -> None:
    (_, cfg), *_ = expand_grid(load_sweep(CONFIGS / "smoke.yaml"))
    name = run_name({"aux": "ana→bel", "meta.weight_decay": 0.0123456, "metaxl.weight_decay": 0.1, "sample": 2}, cfg)
    assert name == "ana→bel meta.weight_decay=0.01235 metaxl.weight_decay=0.1 seed0 sample=2"


def test_children_carry_only_their_methods_params_and_the_aux_choice_once() -> None:
    cells = expand_grid(load_sweep(CONFIGS / "metaxl-ner-layers.yaml"))
    by_method = {cfg.meta.algorithm: trial_params(cfg) for _, cfg in reversed(cells)}  # each method's first cell
    metaxl, jt = by_method["metaxl"], by_method["jt"]
    assert {"metaxl.rtn_layers", "metaxl.rtn", "metaxl.step"} <= set(metaxl) and "metaxl.jt_batches" not in metaxl
    assert "metaxl.rtn_layers" not in jt and {"metaxl.lr", "metaxl.jt_batches"} <= set(jt)  # JT has no RTN
    assert "metaxl.step" not in jt
    assert not {"meta.inner_lr", "meta.meta_lr", "meta.support_size"} & set(metaxl)  # MAML's
    assert {k: v for k, v in metaxl.items() if "cor" in v or k.startswith("aux")} == {
        "aux": "ana→cor", "aux.support": "ana", "aux.query": "cor"}  # the auxiliary choice in three params, no more
    (_, maml), *_ = expand_grid(load_sweep(CONFIGS / "demo.yaml"))
    params = trial_params(maml)
    assert "meta.support" not in params and "data.languages" not in params and "eval.targets" not in params
    assert all(v not in ("", "None") for v in params.values())  # no empty param
    assert not [k for k in params if k.startswith("metaxl.")] and params["meta.inner_lr"] == "0.001"
    assert not [k for k in params if k.startswith("eval.few_shot.") and k != "eval.few_shot.enabled"]


def test_the_parent_holds_what_is_fixed_across_the_sweep_and_the_grid_as_json() -> None:
    sweep = load_sweep(CONFIGS / "demo.yaml")
    params = parent_params(expand_grid(sweep))
    assert "seed" not in params and "meta.query" not in params and "aux" not in params  # they vary
    assert params["meta.meta_lr"] == "0.0001" and params["aux.support"] == "ana"
    assert not [k for k in params if k.startswith("metaxl.")]
    assert json.loads(grid_json(sweep)) == {"aux": ["ana→bel", "ana→cor", "ana→dun", "ana→eki", "ana→zul"],
                                            "seed": [0, 1]}


def test_scores_table_is_one_row_per_language() -> None:
    columns, rows = scores_table({"acc/ana": 0.9959999918937683, "acc/bel": 0.5, "baseline/acc/ana": 0.9,
                                  "baseline/acc/bel": 0.4, "delta/ana": 0.096, "delta/bel": 0.1, "dev/bel": 0.7,
                                  "dev_avg": 0.7, "acc_avg": 0.748, "delta_avg": 0.098})
    assert columns == ["language", "acc (points)", "baseline/acc (points)", "delta (points)"]
    assert rows == [["ana", 99.6, 90.0, 9.6], ["bel", 50.0, 40.0, 10.0]]  # points, without float noise


def _mini_sweep(tmp_path: Path) -> tuple[str, SweepRun, SweepOutcome]:
    """A finished two-trial sweep written as the driver and the trainable write one."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = SweepRun(uri, "mini")
    tracker.start("mini-1", name="mini", params={}, tags={"xlsweep.task": "nli", "xlsweep.primary": "acc"})
    baseline = {"baseline/acc/bel": 0.5, "baseline/acc/cor": 0.6}
    tracker.log_metrics(baseline)
    for i, (aux, query, gain) in enumerate([("ana→bel", "bel", 0.1), ("ana→cor", "cor", 0.2)]):
        tags = {"xlsweep.algorithm": "xla-maml", "xlsweep.aux": aux, "xlsweep.support": "ana",
                "xlsweep.query": query, "xlsweep.seed": "0", "xlsweep.cell": json.dumps({"aux": aux}),
                "xlsweep.primary": "acc", "xlsweep.task": "nli"}
        run = TrialRun.open(uri, tracker.experiment_id, tracker.run_id, f"t{i}", name=f"{aux} seed0", params={},
                            tags=tags)
        run.log_metrics({"meta_loss": 1.0, "dev_avg": 0.5}, 60)
        scores = {"acc/bel": 0.5 + gain / 2, "acc/cor": 0.6 + gain}
        log_final_metrics(run, {**scores, "delta/bel": gain / 2, "delta/cor": gain, "dev_avg": 0.7, **baseline}, 60)
        run.finish("FINISHED")
    tracker.finish("FINISHED")
    outcome = SweepOutcome(out_dir=tmp_path / "out", parent_run_id=tracker.run_id, tracking_uri=uri,
                           records=[TrialRecord(aux="x", seed=0, scores={}, baseline={})] * 2)
    return uri, tracker, outcome


def test_final_scores_are_bars_in_the_chart_view_and_dev_scores_a_series(tmp_path: Path) -> None:
    uri, tracker, _ = _mini_sweep(tmp_path)
    client = MlflowClient(uri)
    child = next(r for r in tracker.children() if r.data.tags["xlsweep.aux"] == "ana→cor")
    last_step = {k: max(m.step for m in client.get_metric_history(child.info.run_id, k)) for k in child.data.metrics}
    assert last_step["acc/cor"] == last_step["delta/cor"] == last_step["baseline/acc/bel"] == 0  # bars
    assert last_step["dev_avg"] == last_step["meta_loss"] == 60  # lines over checkpoints
    root = local_artifact_dir(uri, child.info.artifact_uri)
    assert root is not None
    table = json.loads((root / "scores.json").read_text())
    assert table["columns"] == ["language", "acc (points)", "baseline/acc (points)", "delta (points)"]
    assert table["data"][1] == ["cor", 80.0, 60.0, 20.0]


def test_the_parent_gets_its_tables_and_a_description_of_the_answer(tmp_path: Path) -> None:
    uri, tracker, outcome = _mini_sweep(tmp_path)
    _report(outcome, tracker, "acc", lambda line: None)
    parent = MlflowClient(uri).get_run(tracker.run_id)
    tables = {entry["path"] for entry in json.loads(parent.data.tags["mlflow.loggedArtifacts"])}
    assert tables == {"aux_table.json", "aux_target_delta.json"}
    root = local_artifact_dir(uri, parent.info.artifact_uri)
    assert root is not None
    delta = json.loads((root / "aux_target_delta.json").read_text())
    assert delta["columns"][:4] == ["aux (Δ acc, points)", "n", "bel", "cor"]  # the unit in the header
    assert delta["data"][1][:4] == ["ana→cor", 1, "+10.0", "+20.0"]
    note = parent.data.tags["mlflow.note.content"]
    # Δ, its mark and n in their own columns; next to the best, the best choice not trained on the target
    assert "| cor | XLA-MAML (ana→cor) † | +20.0 |  | 1 | XLA-MAML (ana→bel) | +10.0 |" in note
    assert "| bel | XLA-MAML (ana→cor) | +10.0 |  | 1 | the best choice | +10.0 |" in note
    assert "2 finished · 0 failed · 0 stopped early" in note and str(outcome.out_dir) in note
    eid, rid = tracker.experiment_id, tracker.run_id
    assert note.startswith(f"[report](/xlsweep/report/{rid}) · [in the artifact viewer](/#/experiments/{eid}/runs/"
                           f"{rid}/artifacts/report.html?workflowType=machine_learning) · [trials grouped, Δ per "
                           f"target](/#/experiments/{eid}/runs?workflowType="
                           "machine_learning&viewStateShareKey=mini-1) · [Δ charts](")  # the UI shows the top first


def test_a_sweeps_parent_run_starts_with_its_fixed_params_the_grid_and_an_experiment_description(
        tmp_path: Path) -> None:
    from xlsweep.sweep.parent_run import open_tracking as _open_tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = _open_tracking(load_sweep(CONFIGS / "metaxl-ner-layers.yaml"), uri, "mx-1")
    client = MlflowClient(uri)
    run = client.get_run(tracker.run_id)
    assert "metaxl.rtn_layers" not in run.data.params and "meta.algorithm" not in run.data.params  # swept
    assert run.data.params["metaxl.bottleneck"] == "32" and "seed" in run.data.params  # fixed: one seed
    assert json.loads(run.data.tags["xlsweep.grid"])["metaxl.rtn_layers"] == [0, 1, 2]
    tags = client.get_experiment(tracker.experiment_id).tags
    assert "xlsweep" in tags["mlflow.note.content"]
    view = json.loads(tags["mlflow.sharedViewState.mx-1"])  # the sweep's trials, grouped by what the report rows are
    assert view["searchFilter"] == "tags.`xlsweep.parent_sweep_id` = 'mx-1'"
    assert [k["groupByData"] for k in view["groupBy"]["groupByKeys"]] == ["aux", "meta.algorithm",
                                                                        "metaxl.rtn_layers"]
    assert [c for c in view["selectedColumns"] if c.startswith("metrics.`delta/")] == [
        f"metrics.`delta/{lang}`" for lang in ("ana", "bel", "cor", "dun", "eki", "zul")]
    assert view["orderByKey"] == "metrics.`delta_avg`"
    # the chart view: one Δ section first, a parallel-coordinates chart of the swept numeric params and the Δs,
    # then a bar chart per Δ metric drawing every group (6 languages, delta_avg first: no eval.targets)
    (delta, *others) = view["compareRunSections"]
    assert delta["name"] == "Δ (points)" and delta["display"] and not any(s["display"] for s in others)
    parallel, *bars = view["compareRunCharts"]
    assert parallel["type"] == "PARALLEL" and parallel["selectedParams"] == ["metaxl.rtn_layers"]
    assert parallel["selectedMetrics"] == ["delta_avg", *(f"delta/{lang}" for lang in ("ana", "bel", "cor", "dun",
                                                                                          "eki", "zul"))]
    assert [b["metricKey"] for b in bars] == parallel["selectedMetrics"] and all(b["type"] == "BAR" for b in bars)
    assert all(c["metricSectionId"] == delta["uuid"] and c["runsCountToCompare"] >= 10 for c in [parallel, *bars])


def test_the_delta_section_widens_its_cards_so_the_legend_names_every_group() -> None:
    # MLflow 3's bar card names its bars only in a legend box 32 px high (two rows) that scrolls past them: a third
    # of the page holds two short names a row, so 5 groups (the demo) need half-page cards and more need full-width
    sweep = load_sweep(CONFIGS / "metaxl-ner-layers.yaml")

    def layout(groups: int) -> tuple[int, int]:
        section = chart_state(sweep, ["ana"], groups)["compareRunSections"][0]
        return section["columns"], section["cardHeight"]

    assert [layout(g) for g in (1, 4, 5, 6, 7, 8, 12)] == [(3, 360), (3, 360), (2, 360), (2, 360), (1, 360),
                                                           (1, 360), (1, 440)]
