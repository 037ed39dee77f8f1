"""The whole service on the smoke config: real Ray Tune, a real MLflow sqlite DB, the heatmap."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import SMOKE
from xlsweep.data.benchmark import benchmark_languages
from xlsweep.tracking import artifact_paths
from xlsweep.tracking.runs import in_fractions

pytestmark = pytest.mark.ray


def test_smoke_sweep_end_to_end(smoke_sweep, prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from xlsweep.sweep.runner import run_sweep

    _, prepared, cache = prepared_smoke
    sweep = dataclasses.replace(smoke_sweep, cache_dir=str(cache))  # reuse the session's stage 1
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append,
                        config_file=SMOKE)

    assert outcome.failures == []
    assert [r.aux for r in outcome.records] and sorted(r.aux for r in outcome.records) == ["ana→bel", "ana→zul"]
    assert any("done" in line and "best so far" in line for line in lines)  # progress was shown

    client = MlflowClient(uri)
    parent = client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED"
    artifacts = artifact_paths(uri, outcome.parent_run_id)
    assert {"aux_target_delta.png", "aux_target_delta.csv", "trials.csv", "aux_table.md", "aux_table.tex",
            "best_pairs.csv", "sweep.yaml", "aux_table.json", "aux_target_delta.json"} <= artifacts
    assert "Best choice per target" in parent.data.tags["mlflow.note.content"]
    assert "sweep.as-written.yaml" in artifacts  # the user's file, byte for byte, beside the resolved one
    assert (outcome.out_dir / "sweep.as-written.yaml").read_bytes() == SMOKE.read_bytes()
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI's model-training mode
    tags = parent.data.tags
    assert tags["mlflow.source.type"] == "LOCAL" and tags["xlsweep.version"]
    assert len(tags["mlflow.source.git.commit"]) == 40  # the tests run from a git work tree
    splits = {d.dataset.name: d for d in parent.inputs.dataset_inputs}  # MLflow's Datasets column
    assert "ana.train" in splits and "bel.test" in splits
    for found in splits.values():
        assert len(found.dataset.digest) == 16 and json.loads(found.dataset.profile)["num_rows"] > 0
        assert [t.value for t in found.tags if t.key == "mlflow.data.context"] == [found.dataset.name.split(".")[1]]
    assert json.loads((outcome.out_dir / "state.json").read_text())["status"] == "finished"
    assert (outcome.out_dir / "sweep.yaml").is_file()  # what `xlsweep resume` reads
    checkpoints = list((outcome.out_dir / "ray").rglob("checkpoint_*"))
    assert checkpoints and not [f for c in checkpoints for f in c.iterdir()]  # finished trials': emptied
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    assert len(children) == 2  # one child run per trial, no duplicates
    languages = benchmark_languages(sweep.trial.data)
    table = pd.read_csv(outcome.table_csv, index_col=0)
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["aux.support"] == "ana"  # readable, not "['ana']"
        query = child.data.params["aux.query"]
        assert child.data.tags["xlsweep.aux"] == child.data.params["aux"] == f"ana→{query}"
        assert child.info.run_name == f"ana→{query} seed0" and "metaxl.lr" not in child.data.params
        assert child.data.tags["xlsweep.parent_sweep_id"] == parent.data.tags["xlsweep.sweep_id"]
        assert child.data.tags["mlflow.source.git.commit"] == tags["mlflow.source.git.commit"]
        read = {d.dataset.name: d.dataset.digest for d in client.get_run(child.info.run_id).inputs.dataset_inputs}
        assert f"{query}.train" in read or f"{query}.dev" in read  # its query language's data
        assert read and all(splits[name].dataset.digest == digest for name, digest in read.items())
        assert all(v != "" for v in child.data.params.values())
        assert child.data.tags["xlsweep.unit"] == "points" and child.data.metrics[f"acc/{query}"] > 1  # points
        in_fractions(child)  # as xlsweep reads it back
        for lang in languages:
            delta = child.data.metrics[f"delta/{lang}"]
            assert delta == pytest.approx(child.data.metrics[f"acc/{lang}"] - prepared.baseline[f"acc/{lang}"])
            assert table.loc[f"ana→{query}", lang] == pytest.approx(delta * 100, abs=0.005)  # the CSV: 2 decimals
        assert "meta_loss" in child.data.metrics
        assert json.loads(child.data.tags["xlsweep.cell"]) == {"aux": f"ana→{query}"}
        assert child.data.metrics[f"baseline/acc/{query}"] == pytest.approx(prepared.baseline[f"acc/{query}"])
    assert outcome.heatmap is not None and outcome.heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
