"""Shared fixtures: a small prepared stage 1 (built once per test session) and quiet, offline settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download in tests
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SMOKE = Path(__file__).resolve().parents[1] / "tune_configs" / "smoke.yaml"


@pytest.fixture(scope="session")
def smoke_sweep():  # type: ignore[no-untyped-def]
    from xlsweep.plan import load_sweep

    return load_sweep(SMOKE)


@pytest.fixture(scope="session")
def prepared_smoke(smoke_sweep, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Encoder, features and stage 1 of the smoke config, in a session-wide cache."""
    from xlsweep.plan import expand_grid
    from xlsweep.prepare import prepare

    (_, cfg), *_ = expand_grid(smoke_sweep)
    cache = tmp_path_factory.mktemp("cache")
    return cfg, prepare(cfg, cache), cache


@pytest.fixture
def no_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run in ``tmp_path`` (the default MLflow DB and outputs land there); starting Ray or opening MLflow fails the
    test: an input that must be refused before any work."""
    import xlsweep.sweep.runner as runner_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    started: list[str] = []

    def refuse(what: str):  # type: ignore[no-untyped-def]
        def start(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.append(what)
            raise AssertionError(f"{what} started for an input that should have been refused")
        return start

    monkeypatch.setattr(runner_module, "start_ray", refuse("Ray"))
    monkeypatch.setattr(runner_module, "open_tracking", refuse("MLflow"))
    return started
