from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.config import expand_grid, load_sweep

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "tune_configs").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_opens_with_its_command(path: Path) -> None:
    assert path.read_text().startswith(f"# xlsweep sweep tune_configs/{path.name}\n")
    assert expand_grid(load_sweep(path))


@pytest.mark.parametrize("command", [[], ["sweep"], ["resume"], ["ui"], ["report"], ["best-pairs"], ["validate"],
                                     ["languages"], ["export-synthetic"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_validate_lists_the_trials_of_a_config() -> None:
    result = runner.invoke(app, ["validate", str(CONFIGS[0].parent / "demo.yaml")])
    assert result.exit_code == 0
    assert "10 trials" in result.output and "query=zul" in result.output


def test_a_bad_config_is_one_clear_error_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmeta: {support: [ana], query: [klingon]}\n")
    for command in ("validate", "sweep"):
        result = runner.invoke(app, [command, str(bad)])
        assert result.exit_code == 2
        assert "meta.query: unknown language 'klingon'" in result.output
        assert "ana, bel, cor, dun, eki, zul" in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


def test_languages_prints_the_relatedness_matrix() -> None:
    result = runner.invoke(app, ["languages"])
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert rows["zul"][-1] == "1.00" and rows["ana"][-1] == "0.00"


def test_resume_names_what_it_could_not_find(tmp_path: Path) -> None:
    result = runner.invoke(app, ["resume", "nosuch", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "'nosuch' is neither a sweep directory (with state.json) nor a sweep name" in result.output


def _sweep_dir(tmp_path: Path, status: str, *, with_ray: bool = True) -> Path:
    import json

    import yaml

    from xlsweep.sweep.state import sweep_yaml

    out = tmp_path / "runs" / "demo" / "20261123-120000"
    out.mkdir(parents=True)
    (out / "sweep.yaml").write_text(yaml.safe_dump(sweep_yaml(load_sweep(CONFIGS[0].parent / "demo.yaml")),
                                                   sort_keys=False, allow_unicode=True))
    (out / "state.json").write_text(json.dumps({"sweep_id": "x", "tracking_uri": "sqlite:///x.db",
                                                "parent_run_id": "p", "cache_dir": str(tmp_path), "status": status}))
    if with_ray:
        (out / "ray" / "demo").mkdir(parents=True)
    return out


def test_resume_finds_a_sweep_by_name_and_refuses_a_finished_one(tmp_path: Path) -> None:
    out = _sweep_dir(tmp_path, "finished")
    for target in ("demo", str(tmp_path / "runs" / "demo"), str(out)):
        result = runner.invoke(app, ["resume", target, "--output-dir", str(tmp_path / "runs")])
        assert result.exit_code == 2 and f"the sweep in {out} has already finished" in result.output


def test_resume_of_a_sweep_that_never_started_a_trial_starts_its_trials(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stopped in stage 1 (Ctrl-C, SIGTERM): the resume command it printed starts Tune afresh (issue 12, point 2)."""
    from xlsweep.sweep import runner as runner_module

    out = _sweep_dir(tmp_path, "interrupted", with_ray=False)
    monkeypatch.chdir(tmp_path)
    launched = []
    monkeypatch.setattr(runner_module, "_launch", lambda *args, restore, **kwargs: launched.append(restore))
    result = runner.invoke(app, ["resume", str(out)])
    assert launched == [False] and "(its trials had not started)" in result.output


def test_ui_needs_an_existing_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2 and "no MLflow database at" in result.output


def test_ui_serves_the_store_on_localhost(tmp_path: Path) -> None:
    import socket
    import urllib.request

    from mlflow.tracking import MlflowClient

    from xlsweep.tracking import serve_ui

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("demo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    urls: list[str] = []
    server = serve_ui(uri, port=port, on_ready=urls.append, block=False)
    try:
        assert urls == [f"http://127.0.0.1:{port}"]
        with urllib.request.urlopen(f"{urls[0]}/ajax-api/2.0/mlflow/experiments/search?max_results=5") as response:
            assert b'"demo"' in response.read()
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port} is already in use"):
            serve_ui(uri, port=port, block=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
