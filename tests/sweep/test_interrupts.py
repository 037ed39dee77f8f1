"""Every way a sweep stops closes what it opened (issue 12, points 2, 8 and 11), without Ray: the driver's work is
replaced by what goes wrong (Ctrl-C, SIGTERM or SIGHUP in stage 1, a full disk, a read-only directory)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.conftest import SMOKE
from xlsweep.cli import app
from xlsweep.plan import parse_sweep
from xlsweep.sweep import runner as runner_module
from xlsweep.sweep.runner import SweepError, resume_sweep, run_sweep
from xlsweep.sweep.signals import StopSignals, held_for_children
from xlsweep.sweep.sweep_dir import SweepState


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The driver without Ray: starting it is a no-op; the tests replace stage 1 (``_prepare_all``)."""
    started: list[str] = []
    monkeypatch.setattr(runner_module, "start_ray", lambda address, sweep, log: started.append("ray"))
    monkeypatch.setattr(runner_module, "check_shared_storage", lambda paths, log: None)
    return started


def _sweep(tmp_path: Path):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(SMOKE.read_text())
    return parse_sweep({**raw, "cache_dir": str(tmp_path / "cache")})


def _run(tmp_path: Path, lines: list[str] | None = None):  # type: ignore[no-untyped-def]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return run_sweep(_sweep(tmp_path), tracking_uri=uri, output_dir=str(tmp_path / "runs"),
                     log=(lines if lines is not None else []).append), uri


def _parent_and_state(tmp_path: Path, uri: str) -> tuple[Any, dict[str, Any]]:
    (state_file,) = (tmp_path / "runs").rglob("state.json")
    state = json.loads(state_file.read_text())
    return MlflowClient(uri).get_run(state["parent_run_id"]), state


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_a_stop_signal_in_stage1_closes_the_parent_killed_and_prints_the_resume_command(
        no_ray: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    def stage1(*args: Any) -> None:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler interrupts this
        pytest.fail(f"{signal.Signals(signum).name} did not stop the sweep")

    monkeypatch.setattr(runner_module, "_prepare_all", stage1)
    lines: list[str] = []
    outcome, uri = _run(tmp_path, lines)
    assert outcome.interrupted and no_ray == ["ray"]
    parent, state = _parent_and_state(tmp_path, uri)
    assert parent.info.status == "KILLED" and state["status"] == "interrupted"
    assert lines[-1].endswith(f"continue it with:\n  xlsweep resume {outcome.out_dir}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the driver's handlers are gone afterwards


def test_the_cli_exits_130_with_the_resume_command(no_ray: list[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def stage1(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "_prepare_all", stage1)
    result = CliRunner().invoke(app, ["sweep", str(SMOKE), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                                      "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 130, result.output
    (sweep_dir,) = (tmp_path / "runs" / "smoke").iterdir()
    assert f"interrupted: continue with  xlsweep resume {sweep_dir}" in result.output


def test_a_full_disk_closes_the_parent_failed_with_one_line(no_ray: list[str], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def stage1(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/cache/features-1/features.pt")

    monkeypatch.setattr(runner_module, "_prepare_all", stage1)
    with pytest.raises(SweepError) as err:
        _run(tmp_path)
    assert str(err.value) == "the sweep failed: No space left on device: /cache/features-1/features.pt"
    parent, state = _parent_and_state(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert parent.info.status == "FAILED" and state["status"] == "failed"


def test_a_state_file_that_cannot_be_written_is_said_on_stderr(no_ray: list[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def stage1(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/cache/x")

    save = SweepState.save

    def full_disk_after_start(self: SweepState, out_dir: Path) -> None:
        if self.status != "running":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out_dir / ".state.json.tmp"))
        save(self, out_dir)

    monkeypatch.setattr(runner_module, "_prepare_all", stage1)
    monkeypatch.setattr(SweepState, "save", full_disk_after_start)
    with pytest.raises(SweepError, match="No space left on device"):
        _run(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent, state = _parent_and_state(tmp_path, uri)
    assert parent.info.status == "FAILED"  # closed even so
    assert state["status"] == "running"  # what the disk kept, and the user is told:
    assert f"error: could not write {parent_dir(tmp_path) / 'state.json'} (status 'failed'): No space left on " \
           "device" in capsys.readouterr().err


def parent_dir(tmp_path: Path) -> Path:
    (state_file,) = (tmp_path / "runs").rglob("state.json")
    return state_file.parent


def test_a_failure_after_the_parent_run_exists_closes_it_failed(no_ray: list[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing sweep.yaml fails (a directory that became read-only, a quota): the parent run is not left RUNNING."""
    def read_only(sweep: Any, out_dir: Path) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out_dir / "sweep.yaml"))

    monkeypatch.setattr(runner_module, "_write_config", read_only)
    with pytest.raises(SweepError, match="the sweep failed: Permission denied: .*sweep.yaml"):
        _run(tmp_path)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (parent,) = client.search_runs([client.get_experiment_by_name("smoke").experiment_id])
    assert parent.info.status == "FAILED"
    (state_file,) = (tmp_path / "runs").rglob("state.json")
    assert json.loads(state_file.read_text())["status"] == "failed"


def test_trials_that_never_started_are_skipped_when_an_interrupted_sweep_is_summed_up() -> None:
    """Tune's result of a pending trial has no config: the driver crashed on it (TypeError) at Ctrl-C."""
    from types import SimpleNamespace

    from xlsweep.sweep.outcome import failures_and_rows

    pending = SimpleNamespace(config=None, metrics={"trial_id": "t2"}, error=None)
    finished = SimpleNamespace(config={"aux": "ana→bel"}, metrics={"delta_avg": 0.1, "acc/bel": 0.5}, error=None)
    failures, rows = failures_and_rows([finished, pending])
    assert failures == [] and rows == [{"aux": "ana→bel", "delta_avg": 0.1, "acc/bel": 0.5}]


def test_sigterm_and_sighup_go_to_whatever_handles_sigint() -> None:
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    try:
        with StopSignals():
            signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))  # as Tune does in a run
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)  # handlers run between bytecodes
        assert seen == [signal.SIGINT, signal.SIGINT]  # e.g. Tune's: it saves its state and ends the run
    finally:
        signal.signal(signal.SIGINT, previous)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ctrl_c_raises_inside_even_after_a_handler_an_earlier_tune_run_left_behind() -> None:
    """Tune's SIGINT handler only sets a flag and outlives its run; a second sweep in the process must still stop
    on Ctrl-C in stage 1 (it did not: the full test suite caught it)."""
    def leftover(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGINT, leftover)
    try:
        with StopSignals(), pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert signal.getsignal(signal.SIGINT) is leftover  # put back on the way out
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal mask from /proc")
def test_processes_started_while_held_ignore_a_sigterm_to_the_whole_group() -> None:
    """What the local Ray instance's processes get: a ``kill -TERM -- -PGID`` meant for the driver no longer kills
    them under Tune (which then hung for a minute on the dead GCS and exited 1)."""
    with StopSignals(), held_for_children():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        status = Path(f"/proc/{child.pid}/status").read_text()
        blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
        assert blocked & (1 << (signal.SIGTERM - 1)) and blocked & (1 << (signal.SIGHUP - 1))
        child.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.5)
    finally:
        child.kill()
        child.wait()
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, [])  # nothing left blocked here


def test_a_read_only_output_dir_fails_before_a_parent_run_or_a_database_exists(
        no_ray: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: the write is refused as a read-only file system would
        mkdir = Path.mkdir

        def refuse(self: Path, *args: Any, **kwargs: Any) -> None:
            if read_only in self.parents:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
            mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", refuse)
    else:
        read_only.chmod(0o500)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(SweepError, match=r"output_dir: cannot write the sweep directory .*/ro/smoke/\d+-\d+ \("):
        run_sweep(_sweep(tmp_path), tracking_uri=uri, output_dir=str(read_only), log=lambda _: None)
    assert not (tmp_path / "mlflow.db").exists() and no_ray == []


def test_sweep_directories_are_private(no_ray: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "_prepare_all", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    outcome, _ = _run(tmp_path)
    assert outcome.out_dir.stat().st_mode & 0o777 == 0o700
    assert (outcome.out_dir.parent.stat().st_mode & 0o777) == 0o700  # runs/smoke, created by the sweep too


@pytest.mark.parametrize(("content", "message"), [
    ('{"sweep_id": "s", "tracking_uri"', "cannot be read (JSONDecodeError"),
    ("\x00\x01 not json", "cannot be read (JSONDecodeError"),
    ('["a list"]', "is damaged (expected a JSON object, got list)"),
    ('{"sweep_id": "s", "tracking_uri": "sqlite:///x.db", "status": "running"}',
     "is damaged (missing 'parent_run_id'; missing 'cache_dir')"),
    ('{"sweep_id": "s", "tracking_uri": "u", "parent_run_id": "p", "cache_dir": "c", "status": "bogus"}',
     "is damaged (status 'bogus', expected one of running, finished, failed, interrupted)"),
])
def test_a_damaged_state_file_is_one_line_on_resume(tmp_path: Path, content: str, message: str) -> None:
    sweep_dir = tmp_path / "runs" / "smoke" / "20261130-000000"
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "state.json").write_text(content)
    (sweep_dir / "sweep.yaml").write_text(SMOKE.read_text())
    with pytest.raises(SweepError, match=r"resume: .*state\.json " + message.replace("(", r"\(").replace(")", r"\)")):
        resume_sweep(sweep_dir, log=lambda _: None)
    result = CliRunner().invoke(app, ["resume", str(sweep_dir)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "state.json" in result.output


def test_a_sweep_stopped_before_tune_started_resumes_with_fresh_trials(
        no_ray: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "_prepare_all", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    outcome, _ = _run(tmp_path)
    launched: list[bool] = []
    monkeypatch.setattr(runner_module, "_launch", lambda *args, restore, **kwargs: launched.append(restore))
    lines: list[str] = []
    resume_sweep(outcome.out_dir, log=lines.append)
    assert launched == [False] and lines == [f"resuming sweep 'smoke' from {outcome.out_dir} (its trials had not "
                                             "started)"]


@pytest.mark.parametrize(("mode", "expected"), [("750", 0o750), ("0700", 0o700), ("777", None), ("600", None),
                                                ("rwx", None)])
def test_dir_mode_shares_the_sweep_directory_with_the_group_on_request(
        no_ray: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, expected: int | None) -> None:
    monkeypatch.setattr(runner_module, "_prepare_all", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = CliRunner().invoke(app, ["sweep", str(SMOKE), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                                      "--output-dir", str(tmp_path / "runs"), "--dir-mode", mode])
    if expected is None:
        assert result.exit_code == 2 and result.output.startswith(f"error: --dir-mode: got {mode!r}")
        assert not (tmp_path / "runs").exists()
        return
    assert result.exit_code == 130, result.output
    (sweep_dir,) = (tmp_path / "runs" / "smoke").iterdir()
    assert sweep_dir.stat().st_mode & 0o777 == expected


def test_trials_csv_says_its_unit_and_carries_no_float_noise(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.sweep.outcome import write_rows

    rows = [{"aux": "ana→bel", "meta.inner_lr": 0.001, "delta_avg": 0.11299999999999999,
             "acc/bel": 0.9919999837875366, "hausdorff": 0.4000000059604645}]
    lines = write_rows(rows, tmp_path / "trials.csv").read_text().splitlines()
    assert lines == ["aux,meta.inner_lr,delta_avg (points),acc/bel (points),hausdorff", "ana→bel,0.001,11.3,99.2,0.4"]
