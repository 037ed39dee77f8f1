"""One smoke sweep per task shape (QA, NER, sentiment with few-shot) through Ray Tune and MLflow.

NLI's smoke sweep is :mod:`tests.sweep.test_smoke_sweep`. All of them share the
session's encoder (same synthetic corpus, same tiny config), so each only trains
its own stage 1.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from xlsweep.data.benchmark import benchmark_languages
from xlsweep.plan import load_sweep
from xlsweep.tasks import get_task
from xlsweep.tracking import artifact_paths
from xlsweep.tracking.runs import in_fractions

pytestmark = pytest.mark.ray

CONFIGS = Path(__file__).resolve().parents[2] / "tune_configs"


@pytest.mark.parametrize("task", ["qa", "ner", "sentiment"])
def test_smoke_sweep_of_each_task(task: str, prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.sweep.runner import run_sweep

    _, _, cache = prepared_smoke
    sweep = dataclasses.replace(load_sweep(CONFIGS / f"smoke-{task}.yaml"), cache_dir=str(cache))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lambda _: None)
    assert outcome.failures == []
    assert [r.aux for r in outcome.records] == ["ana→bel"]

    client = MlflowClient(uri)
    (child,) = client.search_runs([client.get_run(outcome.parent_run_id).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert child.info.status == "FINISHED"
    assert child.data.tags["xlsweep.task"] == task and child.data.params["data.task"] == task
    metrics, spec = in_fractions(child).data.metrics, get_task(task)  # logged in points, read back as fractions
    few_shot = sweep.trial.eval.few_shot.enabled
    languages = benchmark_languages(sweep.trial.data)
    for prefix in ("", "fs_") if few_shot else ("",):
        for metric in spec.metrics:  # e.g. EM and F1 both for QA
            values = [metrics[f"{prefix}{metric}/{lang}"] for lang in languages]
            assert all(0.0 <= v <= 1.0 for v in values)
            assert metrics[f"{prefix}{metric}_avg"] == pytest.approx(sum(values) / len(values))
        assert f"{prefix}delta_avg" in metrics
    table = pd.read_csv(outcome.table_csv, index_col=0)
    assert list(table.columns) == [*languages, "avg"]
    assert table.loc["ana→bel", "zul"] == pytest.approx(metrics["delta/zul"] * 100, abs=0.005)  # points

    artifacts = artifact_paths(uri, outcome.parent_run_id)
    assert ("aux_target_delta_fewshot.csv" in artifacts) == few_shot
    if few_shot:
        fs_table = pd.read_csv(outcome.out_dir / "aux_target_delta_fewshot.csv", index_col=0)
        assert fs_table.loc["ana→bel", "zul"] == pytest.approx(metrics["fs_delta/zul"] * 100, abs=0.005)


def test_smoke_sweep_of_metaxl_and_joint_training(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.report.method_table import BASELINE_ROW
    from xlsweep.sweep.runner import run_sweep

    _, _, cache = prepared_smoke
    sweep = dataclasses.replace(load_sweep(CONFIGS / "smoke-metaxl.yaml"), cache_dir=str(cache))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append)
    assert outcome.failures == []
    long = pd.read_csv(outcome.table_csv)  # method_table.csv: one row per (method, column)
    assert list(dict.fromkeys(long["row"])) == [BASELINE_ROW, "jt", "metaxl"]
    table = long.pivot(index="row", columns="column", values="mean (points)")
    assert sorted(table.columns) == ["avg", "zul"]
    assert any(line.startswith("| metaxl | 1 |") for line in lines)  # the Markdown table, printed

    client = MlflowClient(uri)
    parent = client.get_run(outcome.parent_run_id)
    assert {"method_table.csv", "method_table.md", "method_table.tex", "method_table.json"} <= artifact_paths(
        uri, parent.info.run_id)
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert sorted(c.data.tags["xlsweep.algorithm"] for c in children) == ["jt", "metaxl"]
    for child in map(in_fractions, children):
        algorithm = child.data.tags["xlsweep.algorithm"]
        assert table.loc[algorithm, "zul"] == pytest.approx(child.data.metrics["f1/zul"] * 100, abs=0.005)  # points
        assert 0.0 <= child.data.metrics["hausdorff"] <= 2.0
        assert "representations_pca.png" in artifact_paths(uri, child.info.run_id)
