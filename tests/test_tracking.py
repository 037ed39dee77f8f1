from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from xlsweep.tracking import SweepRun, TrialRun, flatten_params


def test_flatten_params_is_readable() -> None:
    flat = flatten_params({"meta": {"support": ["hi", "ur"], "inner_lr": 0.001}, "seed": 3})
    assert flat == {"meta.support": "hi,ur", "meta.inner_lr": "0.001", "seed": "3"}


def test_a_mapping_whose_keys_mlflow_cannot_name_is_one_param() -> None:
    flat = flatten_params({"data": {"limits": {"*.train": 100, "en.train": 5000}, "synthetic": {"seed": 0}}})
    assert flat == {"data.limits": "*.train: 100, en.train: 5000", "data.synthetic.seed": "0"}


def test_a_reopened_trial_continues_its_run_without_duplicate_steps(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = SweepRun(uri, "exp")
    parent = sweep.start("sweep-1", name="demo", params={"a": "1"}, tags={})

    first = TrialRun.open(uri, sweep.experiment_id, parent, "trial_a", name="t", params={"x": "1"}, tags={})
    first.log_metrics({"meta_loss": 1.0}, step=1)
    first.log_metrics({"meta_loss": 0.5}, step=2)
    # The worker dies; Tune restores the trial from its step-1 checkpoint in a new process.
    again = TrialRun.open(uri, sweep.experiment_id, parent, "trial_a", name="t", params={"x": "1"}, tags={})
    again.log_metrics({"meta_loss": 0.6}, step=2)  # already logged: skipped
    again.log_metrics({"meta_loss": 0.25}, step=3)
    again.finish("FINISHED")
    other = TrialRun.open(uri, sweep.experiment_id, parent, "trial_b", name="u", params={}, tags={})

    assert again.run_id == first.run_id != other.run_id
    children = sweep.children()
    assert sorted(r.info.run_id for r in children) == sorted([first.run_id, other.run_id])
    history = MlflowClient(uri).get_metric_history(first.run_id, "meta_loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 1.0), (2, 0.5), (3, 0.25)]
    assert MlflowClient(uri).get_run(first.run_id).info.status == "FINISHED"


def test_a_resumed_sweep_continues_its_parent_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = SweepRun(uri, "exp").start("sweep-1", name="demo", params={}, tags={})
    again = SweepRun(uri, "exp").start("sweep-1", name="demo", params={}, tags={})
    fresh = SweepRun(uri, "exp").start("sweep-2", name="demo", params={}, tags={})
    assert first == again != fresh


def test_sqlite_artifacts_live_beside_the_database_not_in_the_working_directory(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    uri = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    (tmp_path / "db").mkdir()
    sweep = SweepRun(uri, "exp")
    sweep.start("s", name="demo", params={}, tags={})
    note = tmp_path / "note.txt"
    note.write_text("hi")
    sweep.log_artifacts([note])
    assert (tmp_path / "db" / "mlartifacts" / "exp").is_dir()
    assert not any(elsewhere.iterdir())
