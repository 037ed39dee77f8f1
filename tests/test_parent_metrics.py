"""A resumed sweep's parent run: its step-0 metrics (the stage-1 baseline) are logged once, not once per session."""

from __future__ import annotations

from pathlib import Path

from xlsweep.tracking import SweepRun


def test_a_resumed_parent_run_logs_each_baseline_metric_step_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = SweepRun(uri, "exp")
    run_id = first.start("sweep-1", name="s", params={}, tags={})
    first.log_metrics({"baseline/acc/ana": 0.5, "baseline/acc/bel": 0.25})
    first.finish("KILLED")

    resumed = SweepRun(uri, "exp")  # a new driver: `xlsweep resume`
    assert resumed.start("sweep-1", name="s", params={}, tags={}) == run_id
    resumed.log_metrics({"baseline/acc/ana": 0.5, "baseline/acc/bel": 0.25, "baseline/acc/cor": 0.75})
    assert resumed.history("baseline/acc/ana") == [(0, 0.5)]
    assert resumed.history("baseline/acc/bel") == [(0, 0.25)]
    assert resumed.history("baseline/acc/cor") == [(0, 0.75)]  # a metric it lacked is still logged
    resumed.log_metrics({"baseline/acc/cor": 0.75})  # and twice in one session: once
    assert resumed.history("baseline/acc/cor") == [(0, 0.75)]
