"""A sweep says loudly when stage 1 or a trial learnt nothing (issue 12, point 16): a warning line as stage 1 ends, a
tag on the MLflow run, and the warning in the summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import SMOKE
from xlsweep.plan import parse_sweep
from xlsweep.sweep import runner as runner_module
from xlsweep.sweep.runner import SweepOutcome, run_sweep
from xlsweep.sweep.trainable import _degenerate

REASON = "stage 1 on bel: predicts 'neutral' for all 64 test rows"


def test_a_degenerate_stage1_is_warned_about_and_tagged_on_the_parent_run(
        prepared_smoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _, prepared, cache = prepared_smoke
    monkeypatch.setattr(runner_module, "start_ray", lambda *args: None)
    monkeypatch.setattr(runner_module, "check_shared_storage", lambda *args: None)
    monkeypatch.setattr(runner_module, "prepare",
                        lambda *args, **kwargs: dataclasses.replace(prepared, degenerate=(REASON,)))

    def no_trials(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # stop once stage 1 is done

    monkeypatch.setattr(runner_module, "_tuner", no_trials)
    raw = yaml.safe_load(SMOKE.read_text())
    lines: list[str] = []
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_sweep(dataclasses.replace(parse_sweep(raw), cache_dir=str(cache)), tracking_uri=uri,
                        output_dir=str(tmp_path / "runs"), log=lines.append)
    assert f"WARNING: degenerate {REASON}" in lines and outcome.degenerate == [REASON]
    assert MlflowClient(uri).get_run(outcome.parent_run_id).data.tags["xlsweep.degenerate"] == REASON


def test_the_summary_repeats_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from xlsweep.cli.sweeps import _summary

    outcome = SweepOutcome(out_dir=tmp_path, parent_run_id="p", tracking_uri="http://x", degenerate=[REASON])
    with pytest.raises(typer.Exit):  # no records: exit 1
        _summary(outcome)
    out = capsys.readouterr().out
    assert f"WARNING: degenerate {REASON}" in out
    assert "(no MLflow links: the MLflow server at 'http://x' cannot be reached" in out  # at once: MLflow's client
    # retried for 4 minutes here


def test_a_trials_reasons_are_its_final_loss_and_its_targets() -> None:
    bel = {"bel": "predicts 'neutral' for all 64 test rows"}
    assert _degenerate("nli", bel, [1.5, 1.1], training_loss=True) == (
        "final training loss 1.1000 is at chance level (ln 3 = 1.0986); bel: predicts 'neutral' for all 64 test rows")
    assert _degenerate("nli", {}, [1.5, 0.4], training_loss=True) == ""
    assert _degenerate("nli", {}, [], training_loss=True) == ""


def test_an_episode_methods_query_loss_at_chance_is_no_evidence() -> None:
    """XLA-MAML's loss is the query loss after an inner step on another language: the Table 3 twin's dun→eki trials
    ended with it at ln 3 while scoring far above chance on every target."""
    assert _degenerate("nli", {}, [1.5, 1.1], training_loss=False) == ""
    assert _degenerate("nli", {"bel": "constant"}, [1.1], training_loss=False) == "bel: constant"
