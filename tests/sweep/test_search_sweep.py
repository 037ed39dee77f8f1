"""Learning-rate search on the smoke config: random samples shared by the grid, ASHA, Optuna (real Ray Tune)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import SMOKE
from xlsweep.plan import parse_sweep

pytestmark = pytest.mark.ray


def _run(tmp_path: Path, cache: Path, search: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    from xlsweep.sweep.runner import run_sweep

    raw = yaml.safe_load(SMOKE.read_text())
    raw["meta"] |= {"steps": 8, "checkpoint_every": 2}
    sweep = dataclasses.replace(parse_sweep({**raw, "search": search, **extra}), cache_dir=str(cache))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lines.append)
    client = MlflowClient(uri)
    children = client.search_runs([client.get_run(outcome.parent_run_id).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    return outcome, client, children, lines


def test_random_search_with_asha_stops_trials_on_the_dev_objective(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, cache = prepared_smoke
    # seed 3 draws 2.4e-6, 1.1e-5 (the stage-1 model barely moves) and then 3.9e-3 (it moves, and its dev
    # score drops): one trial at a time, ASHA sees the good ones first and stops the later, worse ones
    search = {"space": {"meta.meta_lr": {"loguniform": [1e-6, 3e-2]}}, "num_samples": 3, "metric": "dev_avg",
              "scheduler": "asha", "asha": {"grace_period": 2, "reduction_factor": 2}, "seed": 3}
    outcome, client, children, lines = _run(tmp_path, cache, search, max_concurrent=1)

    assert not outcome.interrupted and outcome.failures == []
    assert len(children) == 6  # 2 aux choices × 3 samples, one run each
    by_status: dict[str, list[Any]] = {}
    for child in children:
        by_status.setdefault(child.info.status, []).append(child)
        cell = json.loads(child.data.tags["xlsweep.cell"])
        assert float(child.data.params["meta.meta_lr"]) == cell["meta.meta_lr"]
        query = child.data.params["aux.query"]
        # the objective: dev scores of the languages whose dev split the trial does not train on
        history = client.get_metric_history(child.info.run_id, "dev_avg")
        assert history and all(m.step % 2 == 0 for m in history)
        assert f"dev/{query}" not in child.data.metrics and "dev/cor" in child.data.metrics
    assert set(by_status) <= {"FINISHED", "KILLED"}
    stopped = by_status.get("KILLED", [])
    assert len(stopped) == len(outcome.stopped) >= 1  # ASHA stopped someone, and the sweep says so
    for child in stopped:
        assert child.data.tags["xlsweep.stopped"].startswith("ASHA at meta-step")
        assert "xlsweep.failure" not in child.data.tags
        assert "delta_avg" not in child.data.metrics
    for child in by_status["FINISHED"]:
        assert "delta_avg" in child.data.metrics and "baseline/acc/bel" in child.data.metrics
    # each sample's meta_lr is shared by both aux choices
    lrs: dict[float, set[str]] = {}
    for child in children:
        lrs.setdefault(float(child.data.params["meta.meta_lr"]), set()).add(child.data.tags["xlsweep.aux"])
    assert len(lrs) == 3 and all(auxes == {"ana→bel", "ana→zul"} for auxes in lrs.values())


def test_optuna_proposes_the_learning_rates(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, cache = prepared_smoke
    search = {"space": {"meta.meta_lr": {"loguniform": [1e-5, 1e-3]}}, "num_samples": 2, "metric": "dev/cor",
              "searcher": "optuna"}
    grid = {"aux": [{"support": ["ana"], "query": ["bel"]}]}
    outcome, _, children, _ = _run(tmp_path, cache, search, grid=grid, checkpoints={"keep_finished": True})

    assert not outcome.interrupted and outcome.failures == []
    assert len(children) == 2 and {c.info.status for c in children} == {"FINISHED"}
    assert len({c.data.params["meta.meta_lr"] for c in children}) == 2
    assert all("dev/cor" in c.data.metrics and "dev_avg" in c.data.metrics for c in children)
    kept = list((outcome.out_dir / "ray").rglob("checkpoint_*"))
    assert len(kept) == 2  # keep_finished: the last checkpoint of each trial stays
