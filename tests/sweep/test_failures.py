"""Failing fast and failing alone: bad resources and tracking stores stop a sweep before any trial;
a diverged trial stops with its reason while the others finish."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import SMOKE
from xlsweep.plan import parse_sweep
from xlsweep.sweep.runner import SweepError, run_sweep


def _smoke(cache: Path, **extra: object):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(SMOKE.read_text())
    return dataclasses.replace(parse_sweep({**raw, **extra}), cache_dir=str(cache))


def test_an_unreachable_tracking_server_fails_the_sweep_before_anything_runs(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines: list[str] = []
    with pytest.raises(SweepError, match=rf"MLflow server at 'http://127.0.0.1:{port}' cannot be reached"):
        run_sweep(_smoke(prepared_smoke[2]), tracking_uri=f"http://127.0.0.1:{port}",
                  output_dir=str(tmp_path / "runs"), log=lines.append)
    assert not any("starting a local Ray" in line for line in lines)
    assert not (tmp_path / "runs").exists()  # nothing half-written


@pytest.mark.ray
@pytest.mark.parametrize(("resources", "message"), [
    ({"gpu": 1}, "resources.gpu: each trial asks for 1.0 GPUs but the cluster has 0"),
    ({"cpu": 64}, "resources.cpu: each trial asks for 64.0 CPUs but the largest node has"),
])
def test_a_request_the_cluster_cannot_meet_fails_instead_of_pending_forever(
        prepared_smoke, tmp_path: Path, resources: dict[str, float], message: str) -> None:  # type: ignore[no-untyped-def]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(SweepError, match=message.replace(".", r"\.")):
        run_sweep(_smoke(prepared_smoke[2], resources=resources), tracking_uri=uri,
                  output_dir=str(tmp_path / "runs"), log=lambda _: None)
    (parent,) = MlflowClient(uri).search_runs(["1"])
    assert parent.info.status == "FAILED"  # the parent run does not stay RUNNING
    (state,) = (tmp_path / "runs").rglob("state.json")
    assert json.loads(state.read_text())["status"] == "failed"


@pytest.mark.ray
def test_a_diverged_trial_stops_with_its_reason_and_the_sweep_goes_on(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sweep = _smoke(prepared_smoke[2], grid={"aux": {"product": {"support": ["ana"], "query": ["bel"]}},
                                            "meta.inner_lr": [1e-3, 1e30]})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(tmp_path / "runs"), log=lambda _: None)

    assert len(outcome.failures) == 1 and "meta-loss is" in outcome.failures[0] and "1e+30" in outcome.failures[0]
    assert [r.aux for r in outcome.records] == ["ana→bel"]  # the other trial finished and is reported
    client = MlflowClient(uri)
    parent = client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["xlsweep.failed_trials"] == "1"
    runs = {float(r.data.params["meta.inner_lr"]): r for r in client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")}
    assert runs[1e30].info.status == "FAILED" and "meta-loss is" in runs[1e30].data.tags["xlsweep.failure"]
    assert runs[1e-3].info.status == "FINISHED"
    rows = (outcome.out_dir / "trials.csv").read_text().splitlines()
    assert len(rows) == 2  # header + the finished trial
