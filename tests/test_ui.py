"""`xlsweep ui` and the links it prints: URL forms, the latest sweep, a moved store, stopping the server.

One test starts a real MLflow server (10-30 s) on a copied store; the signal tests use a
stand-in server (a tiny HTTP server with a worker child, like mlflow's uvicorn).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from xlsweep.tracking import SweepRun, TrialRun, serve_ui
from xlsweep.tracking.links import latest_sweep, moved_store_warnings
from xlsweep.tracking.urls import artifact_url, report_page_url, run_url, runs_table_url, ui_base, view_url

BASE = "http://127.0.0.1:5000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    """A live process (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def _store(root: Path, *, report: bool = True) -> tuple[str, str, str]:
    """A store with one sweep (parent + one child) and its files; (uri, experiment id, parent run id)."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    sweep = SweepRun(uri, "demo")
    parent = sweep.start("demo-1", name="demo", params={}, tags={})
    page = root / ("report.html" if report else "aux_target_delta.png")
    page.write_text("<html><body><p id='cell'>ana→cor +9.9</p></body></html>")
    sweep.log_artifacts([page])
    page.unlink()
    child = TrialRun.open(uri, sweep.experiment_id, parent, "t0", name="ana→cor seed0", params={}, tags={})
    child.log_table(["language", "acc"], [["cor", 0.937]], "scores.json")
    return uri, sweep.experiment_id, parent


def test_links_open_the_runs_table_and_an_artifact_in_model_training_mode() -> None:
    assert runs_table_url(BASE, "3") == f"{BASE}/#/experiments/3/runs?workflowType=machine_learning"
    assert run_url(BASE, "3", "abc") == f"{BASE}/#/experiments/3/runs/abc?workflowType=machine_learning"
    assert artifact_url(BASE, "3", "abc", "report.html") == (
        f"{BASE}/#/experiments/3/runs/abc/artifacts/report.html?workflowType=machine_learning")
    assert ui_base("sqlite:////x/mlflow.db", 5001) == "http://127.0.0.1:5001"
    assert ui_base("http://host:5000/") == "http://host:5000"


def test_the_latest_sweep_links_its_report_page_else_its_heatmap(tmp_path: Path) -> None:
    uri, eid, parent = _store(tmp_path / "a")
    links = latest_sweep(uri, BASE)
    assert links is not None and links.parent_run_id == parent and links.page_is_report
    assert links.page == report_page_url(BASE, parent) == f"{BASE}/xlsweep/report/{parent}"  # `xlsweep ui` serves it
    assert links.lines() == [f"report:    {links.page}", f"runs:      {runs_table_url(BASE, eid)}"]
    uri, eid, parent = _store(tmp_path / "b", report=False)
    links = latest_sweep(uri, BASE, experiment="demo")
    assert links is not None and not links.page_is_report
    assert links.page == artifact_url(BASE, eid, parent, "aux_target_delta.png")
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        latest_sweep(uri, BASE, experiment="nope")


def test_a_moved_store_with_absolute_artifact_paths_is_reported(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    gone = tmp_path / "elsewhere" / "mlartifacts" / "old"
    MlflowClient(uri).create_experiment("old", artifact_location=gone.as_uri())  # what older sweeps recorded
    (tmp_path / "mlartifacts" / "old").mkdir(parents=True)
    (warning,) = moved_store_warnings(uri)
    assert f"recorded at {gone}, which does not exist" in warning and str(tmp_path / "mlartifacts" / "old") in warning
    SweepRun(uri, "new")  # addressed relative to the store: nothing to warn about
    assert len(moved_store_warnings(uri)) == 1


FAKE_SERVER = """
import http.server, os, subprocess, sys
port, pids = int(sys.argv[1]), sys.argv[2]
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # like mlflow's uvicorn
with open(pids, "w") as f:
    f.write(f"{os.getpid()} {worker.pid}")

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"OK")
    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""

DRIVER = """
import sys
from xlsweep.tracking import serve_ui
port, pids, fake = int(sys.argv[1]), sys.argv[2], sys.argv[3]
serve_ui("sqlite:///unused.db", port=port, command=[sys.executable, "-c", fake, str(port), pids],
         on_start=lambda url: print("starting", url, flush=True), on_ready=lambda url: print("ready", url, flush=True))
print("stopped", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_server_and_its_worker(tmp_path: Path, sig: signal.Signals) -> None:
    port, pids = _free_port(), tmp_path / "pids"
    ui = subprocess.Popen([sys.executable, "-c", DRIVER, str(port), str(pids), FAKE_SERVER], stdout=subprocess.PIPE,
                          text=True)
    try:
        assert ui.stdout is not None
        assert ui.stdout.readline().startswith("starting http://127.0.0.1:")
        assert ui.stdout.readline().strip() == f"ready http://127.0.0.1:{port}"
        server, worker = (int(p) for p in pids.read_text().split())
        ui.send_signal(sig)
        assert ui.wait(timeout=60) == 0 and ui.stdout.read().strip() == "stopped"
        assert _wait(lambda: not _alive(server) and not _alive(worker))
    finally:
        ui.kill()
        if pids.exists():
            for pid in (int(p) for p in pids.read_text().split()):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _get(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
        return response.read(), dict(response.headers)


def test_xlsweep_ui_serves_a_copied_stores_own_files_and_stops_on_sigterm(tmp_path: Path) -> None:
    uri, eid, parent = _store(tmp_path / "original")
    child = MlflowClient(uri).search_runs([eid], "tags.`mlflow.parentRunId` LIKE '%'")[0].info.run_id
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "original", copy)
    shutil.rmtree(tmp_path / "original")  # the copy must not read the original's files
    port = _free_port()
    command = [sys.executable, "-m", "xlsweep.cli", "ui", "--tracking-uri", f"sqlite:///{copy / 'mlflow.db'}",
               "--port", str(port)]
    ui = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert ui.stdout is not None
        lines = [ui.stdout.readline()]
        assert lines[0].startswith(f"starting MLflow UI on {base}")  # said while the server starts
        while not lines[-1].lstrip().startswith("runs:"):
            lines.append(ui.stdout.readline())
            assert lines[-1], f"xlsweep ui ended: {lines}"
        assert f"  report:    {report_page_url(base, parent)}\n" in lines
        page, headers = _get(report_page_url(base, parent))  # a page, not a download (get-artifact's attachment)
        assert b"ana\xe2\x86\x92cor +9.9" in page and headers["content-type"].startswith("text/html")
        assert "attachment" not in headers.get("content-disposition", "")
        assert "default-src 'none'" in headers["content-security-policy"]
        assert b"mlflow.assistant.panelOpen_v1" in page  # the UI it links to opens with the Assistant closed
        index, _ = _get(f"{base}/")
        assert b"mlflow.assistant.panelOpen_v1" in index
        for other in (child, "nope"):  # only a sweep's parent run has a report page
            with pytest.raises(urllib.error.HTTPError, match="404"):
                _get(report_page_url(base, other))
        listed, _ = _get(f"{base}/ajax-api/2.0/mlflow/artifacts/list?run_id={parent}")
        assert [f["path"] for f in json.loads(listed)["files"]] == ["report.html"]
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port} is already in use"):
            serve_ui(uri, port=port, block=False)
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 0
        with socket.socket() as probe:  # the port is free again: no server left behind
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        ui.kill()


def test_ui_names_an_unknown_experiment_before_starting_a_server(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xlsweep.cli import app

    uri, _, _ = _store(tmp_path)
    result = CliRunner().invoke(app, ["ui", "--tracking-uri", uri, "--experiment", "nope"])
    assert result.exit_code == 2 and "unknown experiment 'nope'; expected one of ['demo'" in result.output


def test_the_end_of_a_sweep_prints_its_report_page_and_runs_table(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.cli.sweeps import _summary
    from xlsweep.report import TrialRecord
    from xlsweep.sweep.runner import SweepOutcome

    uri, eid, parent = _store(tmp_path)
    outcome = SweepOutcome(out_dir=tmp_path, parent_run_id=parent, tracking_uri=uri,
                           records=[TrialRecord(aux="ana→cor", seed=0, scores={}, baseline={})])
    _summary(outcome)
    out = capsys.readouterr().out
    assert f"report:    {report_page_url(BASE, parent)}\n" in out
    assert f"runs:      {runs_table_url(BASE, eid)}\n" in out and f"xlsweep ui --tracking-uri {uri}" in out


def test_a_sweep_with_a_stored_view_links_its_grouped_trials_and_charts(tmp_path: Path) -> None:
    uri, eid, parent = _store(tmp_path)
    sweep = SweepRun(uri, "demo")
    sweep.start("demo-1", name="demo", params={}, tags={})  # the same parent run (a resumed sweep)
    sweep.share_view("demo-1", {"searchFilter": "tags.`xlsweep.parent_sweep_id` = 'demo-1'"})
    links = latest_sweep(uri, BASE)
    assert links is not None and links.runs == view_url(BASE, eid, "demo-1")
    assert links.runs == f"{BASE}/#/experiments/{eid}/runs?workflowType=machine_learning&viewStateShareKey=demo-1"
    assert links.charts == links.runs + "&compareRunsMode=CHART" and links.lines()[-1] == f"charts:    {links.charts}"


def test_the_server_finds_xlsweeps_app_plugin_whether_or_not_the_install_declares_it() -> None:
    import tomllib

    from xlsweep.tracking.server import _app_environment, server_command

    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert declared["project"]["entry-points"]["mlflow.app"] == {"xlsweep": "xlsweep.tracking.app:create_app"}
    command = server_command("sqlite:////x/mlflow.db", 5001)
    assert command[command.index("--app-name") + 1] == "xlsweep"
    probe = "import importlib.metadata as m; print([e.value for e in m.entry_points(group='mlflow.app')])"
    with _app_environment() as env:  # an install older than the entry point gets it for the server's start
        found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert "'xlsweep.tracking.app:create_app'" in found.stdout
