"""Settings that reproduce the authors' code: X-MAML's own settings for x-maml trials, the meta optimiser, and
one stage-1 model per seed (content-addressed like the shared one)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xlsweep.config.errors import ConfigError
from xlsweep.config.schema import Grid, SelectOnDevConfig, SweepConfig, TrialConfig, XMamlConfig
from xlsweep.plan import expand_grid
from xlsweep.prepare import _stage1_key, stage1_fingerprint, stage1_seed


def _sweep(trial: TrialConfig, axes: tuple[tuple[str, tuple[object, ...]], ...] = ()) -> SweepConfig:
    return SweepConfig(name="t", trial=trial, grid=Grid(axes=axes))


def test_x_maml_trials_take_x_maml_s_own_settings_when_asked() -> None:
    trial = TrialConfig()
    trial = dataclasses.replace(trial, meta=dataclasses.replace(trial.meta, algorithm="x-maml", support=("bel", "cor"),
                                                                x_maml=XMamlConfig(own=True)))
    (_, cfg), = expand_grid(_sweep(trial))
    m = cfg.meta
    assert (m.support_size, m.query_size, m.inner_lr, m.meta_lr, m.weight_decay) == (16, 16, 1e-4, 1e-5, 0.0)
    assert (m.optimizer, m.schedule, m.warmup_ratio, m.meta_batch) == ("adam", "constant", 0.0, 2)  # 2 languages


def test_without_own_x_maml_trials_keep_the_meta_section() -> None:
    trial = TrialConfig()
    trial = dataclasses.replace(trial, meta=dataclasses.replace(trial.meta, algorithm="x-maml", support=("bel",)))
    (_, cfg), = expand_grid(_sweep(trial))
    assert (cfg.meta.support_size, cfg.meta.optimizer, cfg.meta.schedule) == (16, "adamw", "linear")
    assert cfg.meta.inner_lr == TrialConfig().meta.inner_lr


def test_a_shared_stage1_keeps_its_key_and_a_per_seed_one_is_keyed_by_the_trial_seed(tmp_path: Path) -> None:
    shared = [dataclasses.replace(TrialConfig(), seed=s) for s in (0, 1)]
    per_seed = [dataclasses.replace(c, stage1=dataclasses.replace(c.stage1, per_seed=True)) for c in shared]
    assert stage1_fingerprint(shared[0], tmp_path) == stage1_fingerprint(shared[1], tmp_path)
    assert stage1_fingerprint(per_seed[0], tmp_path) != stage1_fingerprint(per_seed[1], tmp_path)
    assert [stage1_seed(c) for c in per_seed] == [0, 1]
    # seed s of a per-seed sweep is the model a shared stage 1 with stage1.seed s makes: one cache entry
    shared_seed1 = dataclasses.replace(shared[0], stage1=dataclasses.replace(shared[0].stage1, seed=1))
    assert stage1_fingerprint(per_seed[1], tmp_path) == stage1_fingerprint(shared_seed1, tmp_path)


def test_the_shared_stage1_key_is_the_one_before_per_seed_existed() -> None:
    """Earlier caches stay valid: the key holds the stage1 section's fields as they were, per_seed not among them."""
    from xlsweep.prepare import FeatureStore

    cfg = TrialConfig()
    store = FeatureStore(cfg.data, Path(), {"v": 2}, Path("/nonexistent"))
    stage1 = _stage1_key(cfg, store)["stage1"]
    assert "per_seed" not in stage1 and stage1["seed"] == cfg.stage1.seed
    assert set(stage1) == {"epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "seed"}


def test_select_on_dev_names_grid_axes_only() -> None:
    trial = TrialConfig()
    sweep = dataclasses.replace(_sweep(trial, (("meta.inner_lr", (1e-3, 1e-4)),)),
                                select_on_dev=SelectOnDevConfig(keys=("meta.meta_lr",)))
    from xlsweep.plan.grid import validate_axes

    with pytest.raises(ConfigError, match=r"select_on_dev.keys: 'meta.meta_lr' is not a swept hyperparameter; "
                                          r"expected a grid axis other than seed and meta.algorithm"):
        validate_axes(sweep)
    tuned = dataclasses.replace(sweep, select_on_dev=SelectOnDevConfig(keys=("meta.inner_lr",)))
    with pytest.raises(ConfigError, match=r"select_on_dev.keys: 'meta.inner_lr' is chosen on dev, but xla-maml "
                                          r"trials score the dev split only for an objective.*search.metric: dev_avg"):
        validate_axes(tuned)  # no dev score to choose by
    validate_axes(dataclasses.replace(tuned, search=dataclasses.replace(tuned.search, metric="dev_avg")))
