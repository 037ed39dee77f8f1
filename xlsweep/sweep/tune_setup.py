"""What Tune gets from a sweep config: the parameter space, scheduler, searcher and callbacks.

The driver's other concerns (checks, MLflow, reports) stay in :mod:`xlsweep.sweep.runner`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsweep.config import SweepConfig, TrialConfig
from xlsweep.methods import RowCount, method
from xlsweep.plan import SAMPLE_KEY, search_samples
from xlsweep.sweep.sweep_dir import SweepState
from xlsweep.tracking.runs import tag_trial_run
from xlsweep.tracking.tags import STOPPED_TAG

__all__ = ["checkpoint_pruner", "expected_trials", "param_space", "trial_lengths", "tune_config"]


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in order; lists (e.g. ``metaxl.rtn_layers: [[0], [1, 2]]``) allowed."""
    return list({repr(v): v for v in values}.values())


def param_space(sweep: SweepConfig, cells: list[tuple[dict[str, Any], TrialConfig]]) -> dict[str, Any]:
    """Grid axes as ``grid_search``; random-search samples as one ``sample`` axis whose values the sampled
    keys look up (so every grid cell, every seed included, shares each sample); Optuna's space as domains."""
    from ray import tune

    if sweep.pair_search.enabled:  # the pair search's searcher proposes each trial's aux and seed
        return {}
    search = sweep.search
    space: dict[str, Any] = {}
    names = [n for n in cells[0][0] if n not in search.space and n != SAMPLE_KEY]
    for name in names:
        values = _distinct([c[name] for c, _ in cells])
        space[name] = tune.grid_search(values) if len(values) > 1 or search.searcher != "optuna" else values[0]
    if search.searcher == "optuna":
        for key, dist in search.space.items():
            space[key] = (tune.choice(list(dist.choice)) if dist.choice else
                          tune.uniform(*dist.uniform) if dist.uniform else tune.loguniform(*dist.loguniform))
        return space
    points = search_samples(sweep)
    if points:
        space[SAMPLE_KEY] = tune.grid_search(list(range(len(points))))
        for key in search.space:
            space[key] = tune.sample_from(_SampleValue(points, key))
    return space


@dataclass(frozen=True)
class _SampleValue:
    """``sample_from``'s look-up of one sampled key in the trial's sample (picklable, for a resumed sweep)."""

    points: list[dict[str, Any]]
    key: str

    def __call__(self, config: dict[str, Any]) -> Any:
        return self.points[config[SAMPLE_KEY]][self.key]


def expected_trials(sweep: SweepConfig, cells: list[Any], recalled: Any = None) -> int:
    """Trials the sweep runs; a pair search's, with what it ``recalled`` from earlier sweeps (an upper bound)."""
    if sweep.pair_search.enabled:
        from xlsweep.plan.pair_search import planned_trials, search_setup

        return planned_trials(sweep, recalled.evidence(search_setup(sweep)) if recalled else None)
    return sweep.search.num_samples if sweep.search.searcher == "optuna" else len(cells)


def tune_config(sweep: SweepConfig, state: SweepState, experiment_id: str, cells: list[Any], *,
                total_steps: int, recalled: Any = None) -> Any:
    """Tune's config; ``total_steps``: the longest trial's length in steps (:func:`trial_lengths`), ASHA's ``max_t``;
    ``recalled``: what earlier sweeps ran on a pair search's cells (:class:`~xlsweep.sweep.pair_evidence.Recalled`)."""
    from ray import tune

    search = sweep.search
    kwargs: dict[str, Any] = {}
    if search.active:
        kwargs |= {"metric": search.metric, "mode": search.mode}
    if search.scheduler == "asha":
        grace = search.asha.grace_period or sweep.trial.meta.checkpoint_every
        kwargs["scheduler"] = _asha(state, experiment_id, grace=grace, reduction_factor=search.asha.reduction_factor,
                                    max_t=total_steps)
    if sweep.pair_search.enabled:
        from xlsweep.sweep.pair_scheduler import pair_search_components

        kwargs["search_alg"], kwargs["scheduler"] = pair_search_components(
            sweep, tracking_uri=state.tracking_uri, experiment_id=experiment_id, parent_run_id=state.parent_run_id,
            recalled=recalled)
        kwargs["num_samples"] = len(cells)  # at most one trial per cell; the searcher says when it is done
    if search.searcher == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        kwargs["search_alg"] = OptunaSearch(seed=search.seed)
        kwargs["num_samples"] = search.num_samples
    concurrent = None if sweep.pair_search.enabled else sweep.max_concurrent or None  # (the pair search's own)
    return tune.TuneConfig(reuse_actors=True, max_concurrent_trials=concurrent,
                           trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}", **kwargs)


def trial_lengths(cells: list[tuple[dict[str, Any], TrialConfig]],
                  rows: Callable[[TrialConfig], RowCount]) -> list[int]:
    """Each cell's length in steps, as its learner's ``total_steps`` will be, without building a model:
    ``meta.steps`` for episode methods, epochs × steps per epoch for the MetaXL family (``rows(cfg)``: the
    rows of the cell's prepared data)."""
    return [method(cfg.meta.algorithm).total_steps(cfg, rows(cfg)) for _, cfg in cells]


def _asha(state: SweepState, experiment_id: str, *, grace: int, reduction_factor: float, max_t: int) -> Any:
    """ASHA on meta-steps that also tags each trial it stops in MLflow (its stopped tag), so reports and a
    resumed sweep tell a stopped trial from an unfinished one."""
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    class TaggingASHA(ASHAScheduler):  # type: ignore[misc]
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            decision: str = super().on_trial_result(tune_controller, trial, result)
            if "delta_avg" in result or result.get("meta_step", 0) >= result.get("meta_steps_total", math.inf):
                return str(TrialScheduler.CONTINUE)  # training is over: let the trial evaluate and report
            if decision == TrialScheduler.STOP:
                tag_trial_run(state.tracking_uri, experiment_id, state.parent_run_id, trial.trial_id, {
                    STOPPED_TAG: f"ASHA at meta-step {result.get('meta_step')}: {self.metric} "
                                 f"{float(result.get(self.metric, math.nan)):.4f}"})
            return decision

    max_t = max(max_t, grace + 1)
    return TaggingASHA(time_attr="meta_step", max_t=max_t, grace_period=grace, reduction_factor=reduction_factor)


def checkpoint_pruner(keep_finished: bool) -> Any:
    from ray import tune

    class DropFinishedCheckpoints(tune.Callback):  # type: ignore[misc]
        """A finished trial's results are in MLflow; its checkpoints only fill the disk."""

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            if keep_finished:
                return
            for path in Path(trial.storage.trial_fs_path).glob("checkpoint_*"):
                shutil.rmtree(path, ignore_errors=True)
                path.mkdir()  # emptied, not gone: Tune's saved state may still name it (a driver killed before
                # Tune saved the trial's end); resumed from there, the trainable finds its MLflow run FINISHED

    return DropFinishedCheckpoints()
