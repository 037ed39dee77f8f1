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


@pytest.mark.parametrize("command", [[], ["sweep"], ["validate"], ["languages"], ["export-synthetic"]])
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
