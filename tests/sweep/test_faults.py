"""Resume and faults on real Ray and MLflow: a worker node lost mid-trial, a driver interrupted (SIGINT, SIGTERM, with
a trial pending) or killed (with files planted in its output directory).

Every test runs the smoke config's two XLA-MAML trials, made long enough to be hit mid-trial (``STEPS``
meta-steps, a checkpoint every ``EVERY``), and then reads MLflow: one FINISHED child run per trial,
``meta_loss`` logged exactly once at every checkpoint step, the final metrics once, the parent run FINISHED.

    pytest -m slow tests/sweep/test_faults.py
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from xlsweep.tracking import artifact_paths

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SMOKE = Path(__file__).resolve().parents[2] / "tune_configs" / "smoke.yaml"
XLSWEEP = Path(sys.executable).with_name("xlsweep")
STEPS, EVERY = 40, 4  # ~0.1 s a step: a trial runs for seconds after its first checkpoint
CHECKPOINT_STEPS = list(range(EVERY, STEPS + 1, EVERY))
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # two nodes on this machine, told apart by Tune's node_ip
MARK = "XLSWEEP_FAULTS_TEST"  # in the environment of every process a test starts: Ray's nodes and workers inherit it


class _RunsCode:
    """A planted pickle: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def _marked_processes(mark: str) -> list[int]:
    """The processes a test started, directly or not (Ray's nodes, workers and agents inherit the mark)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if f"{MARK}={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                pass
    return pids


@pytest.fixture(autouse=True)
def no_process_left_behind(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """No Ray process (node, worker, the drivers' local instances) outlives its test; leftovers are killed."""
    monkeypatch.setenv(MARK, str(tmp_path))
    yield
    deadline = time.monotonic() + 30
    while (left := _marked_processes(str(tmp_path))) and time.monotonic() < deadline:
        time.sleep(0.5)
    _kill(left)
    assert not left, f"processes still running 30 s after the test: {left}"


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _config(tmp_path: Path, cache: Path, name: str, **top: Any) -> Path:
    """The smoke sweep (same stage 1, so the session's cached one is reused) with longer trials."""
    raw = yaml.safe_load(SMOKE.read_text())
    raw["name"] = name
    raw["meta"] |= {"steps": STEPS, "checkpoint_every": EVERY}
    raw |= {"cache_dir": str(cache), **top}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _wait(condition: Callable[[], Any], what: str, *, alive: Callable[[], bool], timeout: float = 180.0) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` s or once ``alive()`` is false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if not alive():
            pytest.fail(f"the sweep ended before {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _children(tmp_path: Path, uri: str) -> list[Any]:
    """Every child run in the store (one sweep per test); [] until the driver has created the store (its
    state.json is written after that): a second process creating an sqlite store at the same time breaks it."""
    if not any(tmp_path.glob("runs/*/*/state.json")):
        return []
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, filter_string="tags.`mlflow.parentRunId` != ''")


def _trial_results(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Tune's results per trial (``trial_<id>`` → rows of its result.json), as the driver wrote them."""
    results = {}
    for path in sorted(out_dir.glob("ray/*/trial_*/result.json")):
        rows = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line being written
                rows.append(json.loads(line))
        results[path.parent.name.removeprefix("trial_")] = rows
    return results


def _check_mlflow(uri: str, parent_run_id: str, languages: tuple[str, ...], trials: int = 2) -> dict[str, Any]:
    """One FINISHED child run per trial, every metric step logged exactly once; returns trial id → run."""
    client = MlflowClient(uri)
    parent = client.get_run(parent_run_id)
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'")
    runs = {run.data.tags["xlsweep.trial_id"]: run for run in children}
    assert len(children) == len(runs) == trials  # no duplicated child runs
    finals = {"delta_avg"} | {f"{kind}/{lang}" for kind in ("acc", "delta", "baseline/acc") for lang in languages}
    for run in children:
        assert run.info.status == "FINISHED", run.data.tags
        assert finals <= set(run.data.metrics), sorted(finals - set(run.data.metrics))
        for key in run.data.metrics:
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == (CHECKPOINT_STEPS if key == "meta_loss" else [0]), (run.info.run_id, key)  # finals: 0
    return runs


def _resumed(rows: list[dict[str, Any]]) -> bool:
    """A trial restarted from a checkpoint: Tune's iteration count goes on, the one since its restore restarts."""
    return any(r["iterations_since_restore"] < r["training_iteration"] for r in rows)


# --------------------------------------------------------------------- a worker node dies mid-trial
def test_a_trial_on_a_lost_worker_node_is_retried_from_its_checkpoint(  # type: ignore[no-untyped-def]
        prepared_smoke, tmp_path: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from xlsweep.data.benchmark import benchmark_languages
    from xlsweep.plan import load_sweep
    from xlsweep.sweep.runner import run_sweep

    # RAY_AUTH_MODE: left as the driver process has it (a Ray session earlier in this process fixed it)
    sweep = load_sweep(_config(tmp_path, prepared_smoke[2], "node-loss"))  # max_failures: 1 (default)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs_dir = tmp_path / "runs"
    lost: dict[str, Any] = {}
    sweep_over = threading.Event()

    def lose_worker_node(cluster: Cluster, worker: Any) -> None:
        """Once a trial on the worker node has reported a checkpoint, kill that node (no graceful shutdown)."""
        try:
            while not sweep_over.is_set():
                for out_dir in runs_dir.glob("*/*"):
                    for trial, rows in _trial_results(out_dir).items():
                        if any(r.get("node_ip") == WORKER_IP for r in rows):
                            cluster.remove_node(worker, allow_graceful=False)
                            lost.update(trial=trial, out_dir=out_dir)
                            return
                time.sleep(0.1)
        except Exception as err:  # shown by the assertion below
            lost["error"] = repr(err)

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": HEAD_IP,
                                                            "include_dashboard": False})
    killer = None
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address=WORKER_IP)  # one trial on each node
        killer = threading.Thread(target=lose_worker_node, args=(cluster, worker), daemon=True)
        killer.start()
        lines: list[str] = []
        outcome = run_sweep(sweep, address=cluster.address, tracking_uri=uri, output_dir=str(runs_dir),
                            log=lines.append)
    finally:
        sweep_over.set()
        if killer is not None:
            killer.join(timeout=30)
        ray.shutdown()
        head = cluster.head_node
        cluster.shutdown()
        assert head is None or not head.any_processes_alive()

    assert "trial" in lost, f"the worker node was never removed: {lost.get('error', 'no trial ran on it')}"
    assert not outcome.interrupted and outcome.failures == [], "\n".join(lines)
    assert len(outcome.records) == 2
    rows = _trial_results(lost["out_dir"])[lost["trial"]]
    assert [r["meta_step"] for r in rows] == [*CHECKPOINT_STEPS, STEPS]  # no step redone, the final report
    before = [r for r in rows if r["node_ip"] == WORKER_IP]
    after = [r for r in rows if r["node_ip"] != WORKER_IP]
    assert before and after and rows[: len(before)] == before  # worker node first, then the head
    assert after[0]["iterations_since_restore"] == 1 and after[0]["meta_step"] > EVERY  # from its checkpoint
    runs = _check_mlflow(uri, outcome.parent_run_id, benchmark_languages(sweep.trial.data))
    assert set(runs) == set(_trial_results(lost["out_dir"]))


# --------------------------------------------------------------------- the driver stops mid-sweep
def _launch(tmp_path: Path, config: Path, uri: str) -> subprocess.Popen[bytes]:
    """``xlsweep sweep`` in its own session (a Ctrl-C meant for pytest does not reach it); output in driver.log."""
    with (tmp_path / "driver.log").open("wb") as log:
        return subprocess.Popen([str(XLSWEEP), "sweep", str(config), "--tracking-uri", uri, "--output-dir",
                                 str(tmp_path / "runs")], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _one_finished_one_running(tmp_path: Path, uri: str) -> dict[str, Any] | None:
    """With trials one at a time: the first has finished and Tune has the second's first checkpoint."""
    runs = _children(tmp_path, uri)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    running = [r for r in runs if r.info.status == "RUNNING" and "meta_loss" in r.data.metrics]
    if not (finished and running):
        return None
    (state,) = tmp_path.glob("runs/*/*/state.json")
    reported = _trial_results(state.parent).get(running[0].data.tags["xlsweep.trial_id"])  # MLflow is logged first
    return {"finished": finished[0], "running": running[0]} if reported else None


def _end(proc: subprocess.Popen[bytes]) -> None:
    """The driver is gone (killed if a check failed before it ended); its Ray processes follow it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)


def _resume(tmp_path: Path, sweep_dir: Path) -> str:
    done = subprocess.run([str(XLSWEEP), "resume", str(sweep_dir)], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900, start_new_session=True)
    (tmp_path / "resume.log").write_text(done.stdout)
    assert done.returncode == 0, done.stdout[-5000:]
    return done.stdout


def _check_resumed_sweep(uri: str, sweep_dir: Path, languages: tuple[str, ...]) -> dict[str, Any]:
    state = json.loads((sweep_dir / "state.json").read_text())
    assert state["status"] == "finished"
    runs = _check_mlflow(uri, state["parent_run_id"], languages)
    for name in ("aux_target_delta.csv", "aux_target_delta.png", "trials.csv"):
        assert (sweep_dir / name).is_file(), name
    artifacts = artifact_paths(uri, state["parent_run_id"])
    assert {"aux_target_delta.csv", "aux_target_delta.png", "trials.csv"} <= artifacts
    return runs


def test_an_interrupted_sweep_resumes_without_rerunning_finished_trials(  # type: ignore[no-untyped-def]
        prepared_smoke, smoke_sweep, tmp_path: Path) -> None:
    from xlsweep.data.benchmark import benchmark_languages

    config = _config(tmp_path, prepared_smoke[2], "interrupted", max_concurrent=1)  # one trial after the other
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    driver = _launch(tmp_path, config, uri)
    try:
        hit = _wait(lambda: _one_finished_one_running(tmp_path, uri), "the second trial's first checkpoint",
                    alive=lambda: driver.poll() is None)
        driver.send_signal(signal.SIGINT)  # Ctrl-C
        driver.wait(timeout=120)
    finally:
        _end(driver)
    output = (tmp_path / "driver.log").read_text()
    assert driver.returncode == 130, output[-3000:]
    (sweep_dir,) = (tmp_path / "runs" / "interrupted").iterdir()
    assert f"xlsweep resume {sweep_dir}" in output
    state = json.loads((sweep_dir / "state.json").read_text())
    assert state["status"] == "interrupted"
    client = MlflowClient(uri)
    assert client.get_run(state["parent_run_id"]).info.status == "KILLED"
    finished, running = hit["finished"], hit["running"]
    assert client.get_run(running.info.run_id).info.status != "FINISHED"  # really stopped mid-trial
    assert "xlsweep.stopped" not in client.get_run(running.info.run_id).data.tags  # not taken for an ASHA stop
    tune_before = _trial_results(sweep_dir)

    _resume(tmp_path, sweep_dir)

    runs = _check_resumed_sweep(uri, sweep_dir, benchmark_languages(smoke_sweep.trial.data))
    first, second = (finished.data.tags["xlsweep.trial_id"], running.data.tags["xlsweep.trial_id"])
    assert runs[first].info.run_id == finished.info.run_id and runs[second].info.run_id == running.info.run_id
    assert runs[first].info.end_time == finished.info.end_time  # the finished trial was not re-run
    tune_after = _trial_results(sweep_dir)
    assert tune_after[first] == tune_before[first]
    assert _resumed(tune_after[second])  # from its checkpoint, not from step 0:
    assert [r["meta_step"] for r in tune_after[second]] == [*CHECKPOINT_STEPS, STEPS]


def _one_running_one_pending(tmp_path: Path, uri: str) -> Any:
    """One trial has logged a checkpoint; the other has not started (no run yet: pending)."""
    runs = _children(tmp_path, uri)
    return len(runs) == 1 and "meta_loss" in runs[0].data.metrics and runs[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_to_the_driver_group_with_pending_trials_ends_resumable(  # type: ignore[no-untyped-def]
        prepared_smoke, smoke_sweep, tmp_path: Path, signum: int) -> None:
    """Ctrl-C (SIGINT to the foreground process group) crashed the driver when a trial was pending (TypeError, exit 1,
    state "failed"); SIGTERM to the group killed Ray's processes and the driver dumped a stack (exit 134)."""
    from xlsweep.data.benchmark import benchmark_languages

    # one trial at a time by resources (not max_concurrent, which keeps Tune from creating the other trial)
    config = _config(tmp_path, prepared_smoke[2], "pending", resources={"cpu": os.cpu_count() or 1})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    driver = _launch(tmp_path, config, uri)
    try:
        running = _wait(lambda: _one_running_one_pending(tmp_path, uri), "the first trial's first checkpoint",
                        alive=lambda: driver.poll() is None)
        os.killpg(driver.pid, signum)  # the whole group, as a terminal's Ctrl-C or `kill -TERM -- -PGID` does
        driver.wait(timeout=120)
    finally:
        _end(driver)
    output = (tmp_path / "driver.log").read_text()
    assert driver.returncode == 130, output[-3000:]
    (sweep_dir,) = (tmp_path / "runs" / "pending").iterdir()
    assert f"xlsweep resume {sweep_dir}" in output and "Traceback" not in output
    state = json.loads((sweep_dir / "state.json").read_text())
    assert state["status"] == "interrupted"
    client = MlflowClient(uri)
    assert client.get_run(state["parent_run_id"]).info.status == "KILLED"
    assert client.get_run(running.info.run_id).info.status != "FINISHED"  # stopped mid-trial, resumable

    _resume(tmp_path, sweep_dir)

    runs = _check_resumed_sweep(uri, sweep_dir, benchmark_languages(smoke_sweep.trial.data))
    assert runs[running.data.tags["xlsweep.trial_id"]].info.run_id == running.info.run_id  # its run continued


def _first_finished(tmp_path: Path, uri: str) -> Any:
    return next((r for r in _children(tmp_path, uri) if r.info.status == "FINISHED"), None)


def test_a_killed_driver_resumes_without_rerunning_or_duplicating(  # type: ignore[no-untyped-def]
        prepared_smoke, smoke_sweep, tmp_path: Path) -> None:
    """SIGKILL just after the first trial ended: Tune's saved state may not know yet (it saves every few
    seconds) and its checkpoints are already pruned; and a kill while Tune copies its state truncates a file."""
    from xlsweep.data.benchmark import benchmark_languages

    config = _config(tmp_path, prepared_smoke[2], "killed", max_concurrent=1)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    driver = _launch(tmp_path, config, uri)
    try:
        finished = _wait(lambda: _first_finished(tmp_path, uri), "the first trial's end",
                         alive=lambda: driver.poll() is None)
        driver.kill()  # SIGKILL: no handler runs
    finally:
        _end(driver)
    _kill(_marked_processes(str(tmp_path)))  # its Ray instance too (Ray's agents linger for a minute or two)
    (sweep_dir,) = (tmp_path / "runs" / "killed").iterdir()
    assert json.loads((sweep_dir / "state.json").read_text())["status"] == "running"
    experiment = sweep_dir / "ray" / "killed"
    (searcher,) = experiment.glob("basic-variant-state-*.json")
    searcher.write_bytes(searcher.read_bytes()[:100])  # as a kill during Tune's copy leaves it (1 kill in 4 here)
    marker = tmp_path / "planted-code-ran"  # and files planted in the (shared) output directory, which would run
    planted = pickle.dumps({"x": _RunsCode(marker)})  # code when unpickled: the old repair unpickled the backup's
    (experiment.with_name("killed.state-backup") / "basic-variant-state-2099-01-01_00-00-00.json").write_bytes(planted)
    (experiment / "experiment_state-2099-01-01_00-00-00.json").write_bytes(planted)  # the newest: Tune's pick

    output = _resume(tmp_path, sweep_dir)

    assert not marker.exists()
    assert "using its backup" in output
    runs = _check_resumed_sweep(uri, sweep_dir, benchmark_languages(smoke_sweep.trial.data))
    assert set(runs) == set(_trial_results(sweep_dir))  # the same trials, not the sweep started again
    trial = finished.data.tags["xlsweep.trial_id"]
    assert runs[trial].info.end_time == finished.info.end_time  # the finished trial was not re-run
