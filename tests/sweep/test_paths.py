"""Relative data paths are read from the launching directory, also where a grid axis sweeps data.sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xlsweep.config.load import expand_grid, parse_sweep
from xlsweep.sweep.runner import _absolute_sources


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
