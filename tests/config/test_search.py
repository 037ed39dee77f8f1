"""search: sampled keys, objective, scheduler and searcher, checked before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import SMOKE
from xlsweep.config import ConfigError
from xlsweep.plan import expand_grid, grid_cells, objective_languages, parse_sweep, search_samples
from xlsweep.sweep.sweep_dir import sweep_yaml

SPACE = {"meta.meta_lr": {"loguniform": [1e-5, 1e-3]}, "meta.inner_lr": {"choice": [1e-3, 1e-2]}}


def _sweep(search: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(SMOKE.read_text())
    return parse_sweep({**raw, "search": search, **extra})


def test_random_samples_are_drawn_once_and_shared_by_every_grid_cell() -> None:
    sweep = _sweep({"space": SPACE, "num_samples": 3, "metric": "dev_avg"}, grid={
        "aux": {"product": {"support": ["ana"], "query": ["bel", "zul"]}}, "seed": [0, 1]})
    cells = grid_cells(sweep)
    assert len(cells) == 2 * 2 * 3
    points = search_samples(sweep)
    assert points == search_samples(sweep)  # deterministic (search.seed)
    for cell in cells:  # every aux choice and seed of a sample has the sample's values: seeds are repeats
        assert {k: cell[k] for k in SPACE} == points[cell["sample"]]
    for point in points:
        assert 1e-5 <= point["meta.meta_lr"] <= 1e-3 and point["meta.inner_lr"] in (1e-3, 1e-2)
    for cell, cfg in expand_grid(sweep):
        assert (cfg.meta.meta_lr, cfg.meta.inner_lr) == (cell["meta.meta_lr"], cell["meta.inner_lr"])
    assert search_samples(_sweep({"space": SPACE, "num_samples": 3, "metric": "dev_avg", "seed": 1})) != points


def test_loguniform_samples_spread_over_decades() -> None:
    sweep = _sweep({"space": {"meta.meta_lr": {"loguniform": [1e-6, 1e-2]}}, "num_samples": 200, "metric": "dev_avg"})
    values = [p["meta.meta_lr"] for p in search_samples(sweep)]
    below = sum(v < 1e-4 for v in values) / len(values)  # half the log-range
    assert 0.4 < below < 0.6


def test_objective_leaves_out_the_dev_splits_a_trial_trains_on() -> None:
    sweep = _sweep({"metric": "dev_avg"})
    for cell, cfg in expand_grid(sweep):  # smoke: xla-maml on the dev split of ana and bel / zul
        languages = objective_languages(sweep, cfg)
        assert set(languages).isdisjoint({"ana", cell["aux"].split("→")[1]})
        assert "cor" in languages
    restricted = _sweep({"metric": "dev_avg", "languages": ["cor", "dun"]})
    assert {objective_languages(restricted, cfg) for _, cfg in expand_grid(restricted)} == {("cor", "dun")}
    held_out = _sweep({"metric": "dev/eki"})
    assert {objective_languages(held_out, cfg) for _, cfg in expand_grid(held_out)} == {("eki",)}


@pytest.mark.parametrize(("search", "message"), [
    ({"space": {"meta.steps": {"uniform": [1, 5]}}, "metric": "dev_avg"}, "use choice"),
    ({"space": {"stage1.lr": {"uniform": [1e-4, 1e-3]}}, "metric": "dev_avg"}, "only stage-2 keys"),
    ({"space": {"meta.meta_lr": {"uniform": [1e-4, 1e-3]}}}, "search.metric: empty"),
    ({"scheduler": "asha"}, "search.metric: empty"),
    ({"metric": "acc_avg"}, "never a test score"),
    ({"metric": "dev/xx"}, "unknown language 'xx'"),
    ({"metric": "dev/bel"}, "trains on"),
    ({"metric": "dev_avg", "languages": ["ana", "bel"], "space": SPACE}, "no language left"),
    ({"num_samples": 3}, "would repeat one trial"),
    ({"space": {"meta.meta_lr": {"uniform": [1e-3, 1e-4]}}, "metric": "dev_avg"}, "low < high"),
    ({"space": {"meta.meta_lr": {"loguniform": [0, 1e-4]}}, "metric": "dev_avg"}, "positive lower bound"),
    ({"space": {"meta.meta_lr": {"uniform": [1e-4, 1e-3], "choice": [1e-4]}}, "metric": "dev_avg"}, "exactly one"),
    ({"space": {"meta.meta_lr": {"gauss": [0, 1]}}, "metric": "dev_avg"}, "unknown key"),
    ({"space": SPACE, "metric": "dev_avg", "searcher": "optuna"}, "cannot be crossed"),
    ({"metric": "dev_avg", "searcher": "optuna"}, "optuna needs search.space"),
    ({"metric": "dev_avg", "scheduler": "asha", "asha": {"grace_period": 4}}, "fewer than meta.steps"),
    ({"metric": "dev_avg", "scheduler": "asha", "asha": {"reduction_factor": 1}}, "expected > 1"),
    ({"metric": "dev_avg", "mode": "min"}, "maximised"),
])
def test_bad_search_sections_fail_with_the_key_and_what_is_expected(search: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="search") as err:
        _sweep(search)
    assert message in str(err.value)


def test_a_space_key_cannot_also_be_a_grid_axis() -> None:
    with pytest.raises(ConfigError, match="also a grid axis"):
        _sweep({"space": SPACE, "metric": "dev_avg"}, grid={"meta.meta_lr": [1e-4, 1e-3]})


@pytest.mark.parametrize(("extra", "message"), [({"checkpoints": {"keep": 0}}, "checkpoints.keep"),
                                                ({"max_failures": -1}, "max_failures")])
def test_bad_retention_and_retries(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _sweep({}, **extra)


def test_the_saved_config_reads_back_equal() -> None:
    sweep = _sweep({"space": SPACE, "num_samples": 2, "metric": "dev_avg", "scheduler": "asha"},
                   grid={"aux": {"product": {"support": ["ana"], "query": ["bel", "zul"]}}, "seed": [0, 1]},
                   checkpoints={"keep": 2}, max_failures=3)
    again = parse_sweep(yaml.safe_load(yaml.safe_dump(sweep_yaml(sweep), sort_keys=False, allow_unicode=True)))
    assert again == sweep
    assert grid_cells(again) == grid_cells(sweep)
