"""``search``: the sampled keys, the objective (``search.metric``) and its languages, the scheduler, the searcher.

The objective is a dev-split score the trials report at every checkpoint: ``dev_avg`` over
``search.languages`` (leaving out the languages whose dev split a trial trains on) or ``dev/<lang>``.
"""

from __future__ import annotations

from typing import Any

from xlsweep.config import ConfigError, Distribution, SweepConfig, TrialConfig, set_path
from xlsweep.config.convert import canonical, get_path
from xlsweep.config.read import AUX_KEYS, no_repeats
from xlsweep.config.yaml_reader import short
from xlsweep.data.benchmark import benchmark_languages
from xlsweep.plan.trial_checks import known_method, languages

__all__ = ["objective_languages", "trained_dev_languages", "validate_objective", "validate_search"]

_SEARCHABLE = ("meta.", "metaxl.", "eval.few_shot.")  # stage-2 keys: every sample shares the stage-1 model


def trained_dev_languages(cfg: TrialConfig) -> tuple[str, ...]:
    """Languages whose dev split the trial trains on: never part of its objective."""
    if cfg.meta.split != "dev":
        return ()
    return known_method(cfg.meta.algorithm).trains_on_split(cfg)


def objective_languages(sweep: SweepConfig, cfg: TrialConfig) -> tuple[str, ...]:
    """The languages whose dev score a trial reports for ``search.metric`` (empty: no objective)."""
    metric = sweep.search.metric
    if not metric:
        return ()
    if metric.startswith("dev/"):
        return (metric.removeprefix("dev/"),)
    pool = sweep.search.languages or cfg.eval.targets or benchmark_languages(cfg.data)
    trained = set(trained_dev_languages(cfg))
    return tuple(lang for lang in pool if lang not in trained)


def _validate_distribution(key: str, dist: Distribution) -> None:
    path = f"search.space.{key}"
    given = [name for name in ("choice", "uniform", "loguniform") if getattr(dist, name)]
    if len(given) != 1:
        raise ConfigError(f"{path}: got {given or 'nothing'}; expected exactly one of choice: [values], "
                          "uniform: [low, high], loguniform: [low, high]")
    for name in ("uniform", "loguniform"):
        bounds = getattr(dist, name)
        if bounds and (len(bounds) != 2 or not bounds[0] < bounds[1]):
            raise ConfigError(f"{path}.{name}: got {list(bounds)}; expected [low, high] with low < high")
    if dist.loguniform and dist.loguniform[0] <= 0:
        raise ConfigError(f"{path}.loguniform: got {list(dist.loguniform)}; expected a positive lower bound")


def _validate_space(sweep: SweepConfig) -> None:
    """Each sampled key is a stage-2 key outside the grid, and every bound or choice is a value it may take."""
    grid_keys = {"aux", *(name for name, _ in sweep.grid.axes)}
    for key, dist in sweep.search.space.items():
        _validate_distribution(key, dist)
        if key in grid_keys:
            raise ConfigError(f"search.space.{key}: also a grid axis; a key is either swept or sampled")
        if key in AUX_KEYS:
            raise ConfigError(f"search.space.{key}: the support and query languages are swept with grid.aux, which "
                              "labels every row of the tables and heatmaps; move them there")
        if not key.startswith(_SEARCHABLE):
            raise ConfigError(f"search.space.{key}: only stage-2 keys can be sampled ({', '.join(_SEARCHABLE)}"
                              "...), since every sample shares the stage-1 model; sweep other keys with grid")
        taken = []
        for value in dist.choice or dist.uniform or dist.loguniform:  # each bound is a value the trial must take
            try:
                taken.append(get_path(set_path(sweep.trial, key, value, where="search.space."), key))
            except ConfigError as err:
                hint = "" if dist.choice else " (uniform and loguniform sample numbers; use choice for other keys)"
                raise ConfigError(f"{err}{hint}") from None
        if dist.choice:
            no_repeats(f"search.space.{key}.choice", taken, canonical)


def validate_search(sweep: SweepConfig, cells: list[dict[str, Any]]) -> None:
    """search: sampled keys, objective, scheduler and searcher make sense together (cells: the grid's)."""
    search = sweep.search
    _validate_space(sweep)
    if search.num_samples < 1:
        raise ConfigError(f"search.num_samples: got {search.num_samples}; expected a positive integer")
    if search.num_samples > 1 and not search.space:
        raise ConfigError(f"search.num_samples: {search.num_samples} samples of an empty search.space would repeat "
                          "one trial; add keys to search.space, or sweep grid.seed for repeats")
    needs_metric = [why for why, on in (("search.space", bool(search.space)),
                                        ("search.scheduler: asha", search.scheduler == "asha"),
                                        ("search.searcher: optuna", search.searcher == "optuna")) if on]
    if needs_metric and not search.metric:
        raise ConfigError(f"search.metric: empty, but {needs_metric[0]} needs an objective; expected dev_avg "
                          "(mean dev score over search.languages) or dev/<lang> (one held-out language)")
    if search.metric and search.metric != "dev_avg" and not search.metric.startswith("dev/"):
        raise ConfigError(f"search.metric: got {short(search.metric)}; expected dev_avg or dev/<lang> — the objective "
                          "is a dev-split score, never a test score")
    if search.mode != "max" and search.metric:
        raise ConfigError(f"search.mode: got {search.mode!r}; dev scores are maximised, expected 'max'")
    if search.scheduler == "asha":
        if search.asha.reduction_factor <= 1:
            raise ConfigError(f"search.asha.reduction_factor: got {search.asha.reduction_factor}; expected > 1")
        if search.asha.grace_period < 0:
            raise ConfigError(f"search.asha.grace_period: got {search.asha.grace_period}; expected >= 0 meta-steps")
    if search.searcher == "optuna":
        if not search.space:
            raise ConfigError("search.searcher: optuna needs search.space (the keys it proposes values for)")
        if len(cells) > 1:
            raise ConfigError(f"search.searcher: optuna proposes one configuration per trial and cannot be crossed "
                              f"with the grid's {len(cells)} cells (Tune rejects grid_search with Optuna); "
                              "fix the grid to one cell, or use searcher: random")


def validate_objective(sweep: SweepConfig, cfg: TrialConfig, where: str) -> None:
    """The objective of one cell: its languages known and held out, ASHA's grace period within the trial."""
    metric = sweep.search.metric
    if not metric:
        return
    known = benchmark_languages(cfg.data)
    if metric.startswith("dev/"):
        languages("search.metric", (metric.removeprefix("dev/"),), known)
        if metric.removeprefix("dev/") in trained_dev_languages(cfg):
            raise ConfigError(f"{where}search.metric: {short(metric)} is a dev split this trial trains on "
                              f"(meta.split: dev); choose a held-out language")
    languages("search.languages", sweep.search.languages, known)
    # a length in meta-steps is known now; one of epochs × batches only once the data is prepared
    if (known_method(cfg.meta.algorithm).meta_steps
            and sweep.search.scheduler == "asha" and sweep.search.asha.grace_period >= cfg.meta.steps):
        raise ConfigError(f"{where}search.asha.grace_period: got {sweep.search.asha.grace_period}; expected "
                          f"fewer than meta.steps ({cfg.meta.steps})")
    if not objective_languages(sweep, cfg):
        raise ConfigError(f"{where}search.metric: dev_avg has no language left once the dev splits this trial "
                          "trains on are left out; set search.languages to held-out languages")
