"""Relative data paths are read from the launching directory, also where a grid axis sweeps data.sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xlsweep.plan import expand_grid, parse_sweep
from xlsweep.sweep.inputs import absolute_sources as _absolute_sources


def test_relative_sources_become_absolute_in_the_base_config_and_in_a_swept_axis(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    raw = {"data": {"benchmark": "custom", "task": "nli", "source": "en", "languages": ["en", "de"],
                    "sources": {"*": "data/{lang}.{split}.tsv", "de.test": "hub:facebook/xnli:de@test"}},
           "meta": {"support": ["en"], "query": ["de"]},
           "grid": {"data.sources": [{"*": "small/{lang}.{split}.tsv"}, {"*": "~/big/{lang}.{split}.tsv"}]}}
    sweep = _absolute_sources(parse_sweep(raw))
    assert sweep.trial.data.sources == {"*": str(tmp_path / "data/{lang}.{split}.tsv"),
                                        "de.test": "hub:facebook/xnli:de@test"}
    swept = [cfg.data.sources["*"] for _, cfg in expand_grid(sweep)]
    assert swept == [str(tmp_path / "small/{lang}.{split}.tsv"),
                     os.path.join(os.path.expanduser("~"), "big/{lang}.{split}.tsv")]


def test_every_local_path_is_made_absolute_once_before_it_is_shipped(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative model directory was loaded from Ray's trial directory by MetaXL trials (metaxl.init: encoder) and
    failed after stage 1 (issue 12, point 14); the cache, output and sqlite paths likewise."""
    from xlsweep.sweep.inputs import absolute_paths as _absolute_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "xlmr").mkdir(parents=True)
    (tmp_path / "models" / "other").mkdir(parents=True)
    raw = {"model": {"name": "models/xlmr"}, "cache_dir": "cache", "output_dir": "out",
           "tracking": {"uri": "sqlite:///db/mlflow.db"}, "meta": {"support": ["ana"], "query": ["bel"]},
           "grid": {"model.name": ["models/xlmr", "./models/other", "bert-base-multilingual-cased"]}}
    sweep = _absolute_paths(parse_sweep(raw))
    assert sweep.trial.model.name == str(tmp_path / "models" / "xlmr")
    assert [cfg.model.name for _, cfg in expand_grid(sweep)] == [
        str(tmp_path / "models" / "xlmr"), str(tmp_path / "models" / "other"), "bert-base-multilingual-cased"]
    assert (sweep.cache_dir, sweep.output_dir) == (str(tmp_path / "cache"), str(tmp_path / "out"))
    assert sweep.tracking.uri == f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    assert _absolute_paths(parse_sweep(raw), "elsewhere").output_dir == str(tmp_path / "elsewhere")
    assert _absolute_paths(parse_sweep({**raw, "model": {"name": "tiny"}})).trial.model.name == "tiny"


def test_the_config_written_for_trials_and_resume_has_absolute_paths(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from tests.conftest import SMOKE
    from xlsweep.sweep import runner
    from xlsweep.sweep.runner import run_sweep

    monkeypatch.chdir(tmp_path)
    (tmp_path / "enc").mkdir()
    shipped = []
    monkeypatch.setattr(runner, "start_ray", lambda *args: None)
    monkeypatch.setattr(runner, "check_shared_storage", lambda *args: None)
    monkeypatch.setattr(runner, "preflight", lambda *args, **kwargs: [])  # `enc` is no real model directory

    def stage1(sweep, *args):  # type: ignore[no-untyped-def]
        shipped.append(sweep)  # what trials get (TrialContext.sweep)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_prepare_all", stage1)
    raw = {**yaml.safe_load(SMOKE.read_text()), "model": {"name": "enc"}, "cache_dir": "cache"}
    outcome = run_sweep(parse_sweep(raw), tracking_uri="sqlite:///mlflow.db", output_dir="runs", log=lambda _: None)
    assert shipped[0].trial.model.name == str(tmp_path / "enc")
    written = yaml.safe_load((outcome.out_dir / "sweep.yaml").read_text())
    assert written["model"]["name"] == str(tmp_path / "enc") and written["cache_dir"] == str(tmp_path / "cache")
    assert outcome.out_dir == tmp_path / "runs" / "smoke" / outcome.out_dir.name
    assert outcome.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_the_released_split_index_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials run in Tune's directories: data.split_index's index file and corpora are read from there too."""
    monkeypatch.chdir(tmp_path)
    raw = {"data": {"benchmark": "custom", "task": "sentiment", "source": "en", "languages": ["en", "te"],
                    "sources": {"*": "data/{lang}/{split}.jsonl"},
                    "split_index": {"index": "data/data_index.txt", "te": "data/sentiraama"}},
           "meta": {"algorithm": "metaxl", "support": ["en"], "query": ["te"], "split": "train"}}
    sweep = _absolute_sources(parse_sweep(raw))
    assert sweep.trial.data.split_index == {"index": str(tmp_path / "data/data_index.txt"),
                                            "te": str(tmp_path / "data/sentiraama")}
