"""A SIGKILLed driver's Ray processes are ended by the next sweep or resume, found from the record it left.

No Ray is started: the "Ray processes" are sleeping Python processes, recorded as a driver records its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xlsweep.sweep.ray_session import SESSION_FILE, _stat, end_leftovers, forget_session, record_session

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")


def _sleeper(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *args])


def _dead_driver() -> dict[str, int]:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = _stat(gone.pid)
    assert stat is not None
    gone.wait()
    return {"pid": gone.pid, "start": stat[2]}


def _ended(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_a_dead_drivers_recorded_processes_and_those_naming_its_session_are_ended(tmp_path: Path) -> None:
    agent = _sleeper()  # started before the record: a recorded descendant
    out = tmp_path / "runs" / "demo" / "20260101-000000"
    out.mkdir(parents=True)
    try:
        record_session(out)
        record = json.loads((out / SESSION_FILE).read_text())
        assert {"pid": agent.pid, "start": _stat(agent.pid)[2]} in record["processes"]  # type: ignore[index]
        later = _sleeper(str(tmp_path / "session_2026-01-01_00-00-00_1234"))  # started after: named by its session
        bystander = _sleeper()  # neither recorded nor naming the session
        record["driver"] = _dead_driver()
        record["session_dir"] = str(tmp_path / "session_2026-01-01_00-00-00_1234")
        (out / SESSION_FILE).write_text(json.dumps(record))
        lines: list[str] = []
        ended = end_leftovers([out], lines.append, grace=0.5)
        assert agent.pid in ended and later.pid in ended and bystander.pid not in ended
        assert _ended(agent) and _ended(later) and bystander.poll() is None
        assert "of a killed driver's Ray session" in lines[0] and not (out / SESSION_FILE).exists()
    finally:
        for proc in (agent, locals().get("later"), locals().get("bystander")):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_live_drivers_processes_and_a_reused_pid_are_left_alone(tmp_path: Path) -> None:
    agent = _sleeper()
    try:
        record_session(tmp_path)  # this process is the driver, alive
        assert end_leftovers([tmp_path], print, grace=0.1) == [] and agent.poll() is None
        assert (tmp_path / SESSION_FILE).exists()
        record = json.loads((tmp_path / SESSION_FILE).read_text())
        record["driver"] = _dead_driver()
        record["processes"] = [{"pid": agent.pid, "start": _stat(agent.pid)[2] + 1}]  # type: ignore[index]
        (tmp_path / SESSION_FILE).write_text(json.dumps(record))
        assert end_leftovers([tmp_path], print, grace=0.1) == [] and agent.poll() is None  # another process now
    finally:
        agent.kill()
        agent.wait()
    forget_session(tmp_path)
    assert not (tmp_path / SESSION_FILE).exists()


def test_the_next_sweep_of_the_name_ends_them_before_its_own_ray_starts(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import xlsweep.sweep.runner as runner_module
    from xlsweep.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(runner_module, "open_tracking", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    config = Path(__file__).resolve().parents[2] / "tune_configs" / "smoke.yaml"
    killed = tmp_path / "runs" / "smoke" / "20260101-000000"  # the killed driver's sweep of this name
    killed.mkdir(parents=True)
    agent = _sleeper()
    try:
        record_session(killed)
        record = json.loads((killed / SESSION_FILE).read_text())
        record["driver"] = _dead_driver()
        (killed / SESSION_FILE).write_text(json.dumps(record))
        result = CliRunner().invoke(app, ["sweep", str(config)])
        assert "of a killed driver's Ray session" in result.output, result.output
        assert _ended(agent)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
