from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from xlsweep.tracking import (
    SweepRun,
    TrackingError,
    TrialRun,
    absolute_tracking_uri,
    artifact_paths,
    check_store,
    flatten_params,
    local_artifact_dir,
    open_client,
    readable,
)
from xlsweep.tracking.reader import StoreReader
from xlsweep.tracking.runs import fraction, in_fractions, points


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


def test_scores_are_logged_in_points_at_float32_precision_at_their_wall_clock_time(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = SweepRun(uri, "exp")
    parent = sweep.start("s", name="demo", params={}, tags={})
    run = TrialRun.open(uri, sweep.experiment_id, parent, "t", name="t", params={}, tags={})
    before = int(time.time() * 1000)
    run.log_metrics({"acc/ana": 0.9959999918937683, "delta/ana": 0.11299999999999999, "meta_loss": 0.6931471824645996,
                     "hausdorff": 0.4000000059604645}, step=3)
    sweep.log_metrics({"baseline/acc/ana": 0.9959999918937683})
    after = int(time.time() * 1000)
    client = MlflowClient(uri)
    (acc,) = client.get_metric_history(run.run_id, "acc/ana")
    logged = client.get_run(run.run_id).data.metrics
    assert (acc.value, repr(logged["delta/ana"])) == (99.6, "11.3")  # points, as the reports print them
    assert (logged["meta_loss"], logged["hausdorff"]) == (0.6931472, 0.4)  # a loss and a distance: as they are
    assert client.get_run(parent).data.metrics["baseline/acc/ana"] == 99.6
    assert before <= acc.timestamp <= after  # not 0 (1970)
    assert client.get_run(parent).data.tags["xlsweep.unit"] == logged_unit(client, run.run_id) == "points"
    # read back through xlsweep: fractions again, as it computes with them
    back = in_fractions(client.get_run(run.run_id)).data.metrics
    assert (back["acc/ana"], back["delta/ana"], back["meta_loss"]) == (0.996, 0.113, 0.6931472)
    assert StoreReader(uri).history(run.run_id, "acc/ana") == [(3, 0.996)] == sweep.history("acc/ana", run.run_id)
    assert StoreReader(uri).run(parent).data.metrics["baseline/acc/ana"] == 0.996


def logged_unit(client: MlflowClient, run_id: str) -> str:
    return str(client.get_run(run_id).data.tags["xlsweep.unit"])


def test_points_are_the_papers_numbers_without_float_noise() -> None:
    assert points(0.11299999999999999) == 11.3 and points(0.013000000000000001) == 1.3
    assert points(0.9919999837875366) == 99.2 and points(-0.004000008) == -0.4
    assert [fraction(points(v)) for v in (0.996, 0.113, -0.004)] == [0.996, 0.113, -0.004]
    assert math.isnan(points(math.nan))


def test_runs_logged_in_fractions_before_read_back_unchanged(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    eid = client.create_experiment("old")
    old = client.create_run(eid).info.run_id  # no xlsweep.unit tag: an older version's run, in fractions
    client.log_metric(old, "acc/ana", 0.996)
    assert StoreReader(uri).run(old).data.metrics["acc/ana"] == 0.996
    assert StoreReader(uri).history(old, "acc/ana")[0][1] == 0.996


def test_readable_drops_the_noise_of_float32_scores_and_their_differences() -> None:
    assert readable(1 / 3) == 0.3333333 and readable(12345.678901) == 12345.679
    acc, baseline = float(np.float32(0.976)), 0.96  # a float32 score minus a baseline: 0.015999972820281982
    assert readable(acc - baseline) == 0.016 and readable(-0.004000008) == -0.004
    assert readable(1e40) == 1e40 and readable(3e-9) == 0.0  # beyond float32; below its resolution at 1
    assert math.isnan(readable(math.nan)) and readable(-math.inf) == -math.inf


def test_a_copied_store_shows_its_own_artifacts_after_the_original_is_gone(tmp_path: Path) -> None:
    original = tmp_path / "original"
    original.mkdir()
    uri = f"sqlite:///{original / 'mlflow.db'}"
    sweep = SweepRun(uri, "my sweep")
    parent = sweep.start("s", name="demo", params={}, tags={})
    page = tmp_path / "report.html"
    page.write_text("<p>report</p>")
    sweep.log_artifacts([page])
    sweep.log_table(["aux", "bel"], [["ana→bel", "+0.7"]], "aux_table.json")
    assert MlflowClient(uri).get_run(parent).info.artifact_uri == f"mlflow-artifacts:/my_sweep/{parent}/artifacts"

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(original / "mlflow.db", copy / "mlflow.db")
    shutil.copytree(original / "mlartifacts", copy / "mlartifacts")
    shutil.rmtree(original)
    copied = f"sqlite:///{copy / 'mlflow.db'}"
    assert artifact_paths(copied, parent) == {"report.html", "aux_table.json"}
    root = local_artifact_dir(copied, MlflowClient(copied).get_run(parent).info.artifact_uri)
    assert root is not None and (root / "report.html").read_text() == "<p>report</p>"


def test_a_table_is_logged_in_mlflows_table_form_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = SweepRun(uri, "exp")
    parent = sweep.start("s", name="demo", params={}, tags={})
    for _ in range(2):  # a resumed sweep logs it again: replaced, not appended to
        sweep.log_table(["aux", "n", "bel"], [["ana→bel", 2, "56.0 ± 1.0*"]], "aux_table.json")
    run = MlflowClient(uri).get_run(parent)
    root = local_artifact_dir(uri, run.info.artifact_uri)
    assert root is not None
    assert json.loads((root / "aux_table.json").read_text()) == {
        "columns": ["aux", "n", "bel"], "data": [["ana→bel", 2, "56.0 ± 1.0*"]]}
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [{"path": "aux_table.json", "type": "table"}]


def test_runs_and_experiments_get_markdown_descriptions(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = SweepRun(uri, "exp")
    parent = sweep.start("s", name="demo", params={}, tags={})
    sweep.describe("**best** per target")
    sweep.describe_experiment("sweeps of demo")
    client = MlflowClient(uri)
    assert client.get_run(parent).data.tags["mlflow.note.content"] == "**best** per target"
    assert client.get_experiment(sweep.experiment_id).tags["mlflow.note.content"] == "sweeps of demo"
# --------------------------------------------------------------------- opening stores (issue 12, points 7 and 12)
def test_sweeps_started_together_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    """MLflow creates and migrates a new sqlite store when a client first opens it; three processes doing it at once
    broke it ("table ... already exists", "Online migration expected to match one row")."""
    import subprocess
    import sys
    import time

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = time.time() + 8  # after every process has imported MLflow
    code = ("import sys, time; from xlsweep.tracking import SweepRun\n"
            "while time.time() < float(sys.argv[2]): time.sleep(0.005)\n"
            "run = SweepRun(sys.argv[1], 'exp'); run.start(sys.argv[3], name='s', params={}, tags={})")
    procs = [subprocess.Popen([sys.executable, "-c", code, uri, str(start), f"sweep-{i}"], stderr=subprocess.PIPE,
                              text=True) for i in range(3)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(e[-2000:] for e in errors)
    client = MlflowClient(uri)
    (exp,) = [e for e in client.search_experiments() if e.name == "exp"]
    assert len(client.search_runs([exp.experiment_id])) == 3


@pytest.fixture
def no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any MLflow client opened fails the test: the checks must answer without MLflow's minutes of retries."""
    import xlsweep.tracking.store

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an MLflow client was opened")

    monkeypatch.setattr(xlsweep.tracking.store, "MlflowClient", refuse)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_closed_port_fails_at_once(no_client: None) -> None:
    port = _closed_port()
    with pytest.raises(TrackingError, match=rf"the MLflow server at 'http://127.0.0.1:{port}' cannot be reached "
                                            r"\(\[Errno 111\] Connection refused\)"):
        check_store(f"http://127.0.0.1:{port}", create=False, write=False, timeout=5)


def test_an_sqlite_path_that_is_a_directory_fails_at_once(no_client: None, tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match=rf"'{tmp_path}' is a directory, not an sqlite file"):
        check_store(f"sqlite:///{tmp_path}", create=True, write=True)


def _read_only(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """``paths`` not writable, as on a read-only file system (root writes anywhere: then os.access is told so)."""
    import os

    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) in paths and mode & os.W_OK
                            else access(p, mode, **kw))


def test_a_database_that_cannot_be_created_fails_at_once(no_client: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _read_only(monkeypatch, tmp_path)
    with pytest.raises(TrackingError, match=rf"cannot create the MLflow database '{tmp_path}/mlflow.db' .*: "
                                            rf"directory '{tmp_path}' is not writable"):
        check_store(f"sqlite:///{tmp_path / 'mlflow.db'}", create=True, write=True)
    with pytest.raises(TrackingError, match="directory '/nonexistent-xlsweep' does not exist"):
        check_store("sqlite:////nonexistent-xlsweep/mlflow.db", create=True, write=True)
    with pytest.raises(TrackingError, match="no MLflow database at"):
        check_store(f"sqlite:///{tmp_path / 'mlflow.db'}", create=False, write=False)


def test_a_read_only_database_is_refused_for_a_sweep_and_read_by_a_report(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "mlflow.db"
    SweepRun(f"sqlite:///{db}", "exp").start("s", name="demo", params={}, tags={})
    _read_only(monkeypatch, db)
    with pytest.raises(TrackingError, match=r"the MLflow database .* is read-only \(the file\): a sweep writes"):
        check_store(f"sqlite:///{db}", create=True, write=True)
    check_store(f"sqlite:///{db}", create=False, write=False)  # reading is fine
    assert open_client(f"sqlite:///{db}").get_experiment_by_name("exp") is not None


def test_a_relative_sqlite_uri_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri("sqlite:///runs/mlflow.db") == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert absolute_tracking_uri(f"sqlite:///{tmp_path}/x.db") == f"sqlite:///{tmp_path}/x.db"
    assert absolute_tracking_uri("http://host:5000") == "http://host:5000"


def test_runs_record_the_splits_they_read_and_where_they_come_from(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from xlsweep.tracking.source import source_tags

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = SweepRun(uri, "exp")
    parent = sweep.start("s", name="demo", params={}, tags=source_tags())
    split = SimpleNamespace(name="ana.train", split="train", digest="0123456789abcdef", source_type="local",
                            source="/data/ana.train.tsv", rows=120, file_sha256="f" * 64)
    sweep.log_datasets([split])
    sweep.log_datasets([split])  # again (a resumed sweep): one record
    (found,) = MlflowClient(uri).get_run(parent).inputs.dataset_inputs
    assert (found.dataset.name, found.dataset.digest, found.dataset.source_type) == (
        "ana.train", "0123456789abcdef", "local")
    assert json.loads(found.dataset.source) == {"uri": "/data/ana.train.tsv"}
    assert json.loads(found.dataset.profile) == {"num_rows": 120, "file_sha256": "f" * 64}
    assert [(t.key, t.value) for t in found.tags] == [("mlflow.data.context", "train")]
    tags = MlflowClient(uri).get_run(parent).data.tags
    assert tags["mlflow.source.type"] == "LOCAL" and tags["xlsweep.version"]
    assert len(tags["mlflow.source.git.commit"]) == 40  # the tests run from a git work tree
    assert MlflowClient(uri).get_experiment(sweep.experiment_id).tags["mlflow.experimentKind"] == (
        "custom_model_development")
