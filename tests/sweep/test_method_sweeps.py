"""Methods through the real runner: MetaXL's length under ASHA, Reptile beside XLA-MAML in one sweep."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import SMOKE
from xlsweep.plan import parse_sweep

pytestmark = pytest.mark.ray

CONFIGS = Path(__file__).resolve().parents[2] / "tune_configs"


def _run(raw: dict[str, Any], tmp_path: Path, cache: Path) -> tuple[Any, MlflowClient, list[Any]]:
    from xlsweep.sweep.runner import run_sweep

    sweep = dataclasses.replace(parse_sweep(raw), cache_dir=str(cache))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lambda line: None)
    client = MlflowClient(uri)
    children = client.search_runs([client.get_run(outcome.parent_run_id).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    return outcome, client, children


def test_a_metaxl_trial_longer_than_meta_steps_runs_to_its_end_under_asha(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, cache = prepared_smoke
    raw = yaml.safe_load((CONFIGS / "smoke-metaxl.yaml").read_text())
    raw["meta"] |= {"steps": 3, "checkpoint_every": 4}  # meta.steps does not apply to MetaXL: its length is
    raw["metaxl"] |= {"epochs": 2}  # 2 epochs × ceil(128 source rows / 16) = 16 steps
    raw["grid"]["meta.algorithm"] = ["metaxl"]
    raw["search"] = {"metric": "dev_avg", "scheduler": "asha", "asha": {"grace_period": 2, "reduction_factor": 2}}
    outcome, client, children = _run(raw, tmp_path, cache)

    assert outcome.failures == [] and outcome.stopped == [] and not outcome.interrupted
    (child,) = children
    assert child.info.status == "FINISHED"
    assert "xlsweep.stopped" not in child.data.tags
    assert "delta_avg" in child.data.metrics
    steps = [m.step for m in client.get_metric_history(child.info.run_id, "dev_avg")]
    assert steps == [4, 8, 12, 16]  # the checkpoints, the last one with the final score: the real last step


def test_reptile_runs_in_a_sweep_beside_xla_maml(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, cache = prepared_smoke
    raw = yaml.safe_load(SMOKE.read_text())
    raw["meta"] |= {"steps": 2, "checkpoint_every": 2}
    raw["grid"] = {"aux": {"product": {"support": ["ana"], "query": ["bel"]}},
                   "meta.algorithm": ["xla-maml", "reptile"]}
    outcome, client, children = _run(raw, tmp_path, cache)

    assert outcome.failures == [] and not outcome.interrupted
    assert sorted(c.data.tags["xlsweep.algorithm"] for c in children) == ["reptile", "xla-maml"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert "delta_avg" in child.data.metrics
        assert [m.step for m in client.get_metric_history(child.info.run_id, "meta_loss")] == [2]
