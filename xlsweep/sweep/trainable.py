"""The Tune trainable: a thin adapter from one grid cell to :func:`xlsweep.trial.run_trial`.

It takes the cell's checked config from the driver (a config Optuna proposed is built and checked
here), opens (or re-opens) the trial's MLflow child run,
resumes from Tune's checkpoint if there is one, reports progress and checkpoints
through ``tune.report`` and logs the same numbers to MLflow, idempotently.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from ray import tune

from xlsweep.config import AuxChoice, SweepConfig, TrialConfig, to_dict
from xlsweep.methods import method, prepared_rows
from xlsweep.plan import cell_config, cell_key, objective_languages
from xlsweep.prepare import prepare, split_records
from xlsweep.sweep.mlflow_fields import log_final_metrics, run_name, trial_params
from xlsweep.tasks import get_task
from xlsweep.tasks.base import degenerate_loss
from xlsweep.tracking import TrialRun
from xlsweep.tracking.source import source_tags
from xlsweep.tracking.tags import (
    ALGORITHM_TAG,
    AUX_TAG,
    BENCHMARK_TAG,
    CELL_TAG,
    DEGENERATE_TAG,
    EVIDENCE_TAG,
    FAILURE_TAG,
    PARENT_SWEEP_ID_TAG,
    PRIMARY_TAG,
    QUERY_TAG,
    SEED_TAG,
    SUPPORT_TAG,
    SWEEP_TAG,
    TASK_TAG,
)
from xlsweep.train.learner import Learner
from xlsweep.train.meta import NonFiniteLoss
from xlsweep.trial import run_trial

__all__ = ["CheckpointError", "TrialContext", "load_learner_state", "trainable"]

LEARNER_FILE = "learner.pt"


class CheckpointError(RuntimeError):
    """A checkpoint's learner state is not one this trainable wrote (or not readable without running code)."""


def load_learner_state(path: Path) -> dict[str, Any]:
    """A learner's ``state_dict`` from a Tune checkpoint, read with ``weights_only=True``: tensors, numbers,
    strings, lists, tuples and dicts only (what :meth:`MetaLearner.state_dict` and
    :meth:`TransferLearner.state_dict` hold), so a file planted in the output directory cannot run code.

    Raises:
        CheckpointError: If the file holds anything else, or is damaged.
    """
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # UnpicklingError for a forbidden global; EOFError, RuntimeError when truncated
        raise CheckpointError(f"checkpoint {path}: not a learner state this trainable wrote, refused "
                              f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: expected a learner state (a dict), got {type(state).__name__}")
    return state


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a sweep shares; handed to workers once through ``tune.with_parameters``.

    ``cells`` are the grid's checked trial configs by :func:`~xlsweep.plan.cell_key`.
    """

    sweep: SweepConfig
    cache_dir: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    sweep_id: str = ""
    cells: Mapping[str, TrialConfig] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)  # cell key -> its evidence key (EVIDENCE_TAG)

    def trial_config(self, overrides: Mapping[str, object]) -> TrialConfig:
        """The checked config of the cell ``overrides``: the driver's, or (a searcher's proposal) built and checked."""
        return self.cells.get(cell_key(overrides)) or cell_config(self.sweep, overrides)


def _tags(ctx: TrialContext, overrides: dict[str, Any], cfg: Any) -> dict[str, str]:
    return {
        SWEEP_TAG: ctx.sweep.name,
        ALGORITHM_TAG: cfg.meta.algorithm,
        TASK_TAG: cfg.data.task,
        BENCHMARK_TAG: cfg.data.benchmark,
        # the resolved languages: an x-maml cell of an aux choice "en→hi" meta-learns on hi (plan.grid.cell_config)
        AUX_TAG: AuxChoice(cfg.meta.support, cfg.meta.query).label if "aux" in overrides
        else "+".join(cfg.meta.support),
        SUPPORT_TAG: ",".join(cfg.meta.support),
        QUERY_TAG: ",".join(cfg.meta.query or cfg.meta.support),
        SEED_TAG: str(cfg.seed),
        PRIMARY_TAG: get_task(cfg.data.task).primary,
        CELL_TAG: json.dumps(overrides, ensure_ascii=False, default=str)[:5000],
        PARENT_SWEEP_ID_TAG: ctx.sweep_id,  # the parent's sweep id: filters one sweep's trials
    } | ({EVIDENCE_TAG: ctx.evidence[key]} if (key := cell_key(overrides)) in ctx.evidence else {})


def _degenerate(task: str, per_target: dict[str, str], losses: list[float], *, training_loss: bool) -> str:
    """Why the trial's model learnt nothing, or ``""``: its final training loss at chance level (when ``losses``
    are losses of the model on what it fits, :attr:`~xlsweep.methods.base.Method.training_loss`; an episode
    method's loss is the query loss after adapting on other languages, which can sit at chance level for a model
    that is fine), or constant predictions on a target."""
    at_chance = training_loss and losses and degenerate_loss(task, losses[-1])
    reasons = [at_chance] if at_chance else []
    reasons += [f"{lang}: {why}" for lang, why in per_target.items()]
    return "; ".join(reasons)[:5000]


def trainable(config: dict[str, Any], ctx: TrialContext) -> None:
    overrides = dict(config)
    cfg = ctx.trial_config(overrides)
    torch.set_num_threads(max(1, int(ctx.sweep.resources.cpu)))
    device = "cuda" if ctx.sweep.resources.gpu > 0 and torch.cuda.is_available() else "cpu"
    dev_languages = objective_languages(ctx.sweep, cfg)
    prepared = prepare(cfg, ctx.cache_dir, dev_languages=dev_languages)  # cached by the driver: loads, no build
    tags = _tags(ctx, overrides, cfg)
    trial_id = tune.get_context().get_trial_id()
    run = TrialRun.open(ctx.tracking_uri, ctx.experiment_id, ctx.parent_run_id, trial_id,
                        name=run_name(overrides, cfg), params=trial_params(cfg), tags=tags | source_tags())
    run.log_datasets(split_records(prepared, cfg, dev_languages))  # MLflow's Datasets column: splits and digests
    total_steps = method(cfg.meta.algorithm).total_steps(cfg, prepared_rows(prepared))  # the trial's length
    if run.finished is not None:  # it ended after Tune last saved its state, before the driver died: not re-run
        tune.report({"meta_step": total_steps, "meta_steps_total": total_steps, **run.finished})
        return
    restore = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            try:
                restore = load_learner_state(Path(d) / LEARNER_FILE)
            except CheckpointError as err:  # the run ends FAILED with the reason, not RUNNING forever
                run.set_tags({FAILURE_TAG: str(err)[:5000]})
                run.finish("FAILED")
                raise

    losses: list[float] = []

    def on_checkpoint(step: int, loss: float, learner: Learner, dev: dict[str, float]) -> None:
        losses.append(loss)
        run.log_metrics({"meta_loss": loss, **dev}, step)
        with tempfile.TemporaryDirectory() as d:
            torch.save(learner.state_dict(), Path(d) / LEARNER_FILE)
            tune.report({"meta_step": step, "meta_steps_total": learner.total_steps, "meta_loss": loss, **dev},
                        checkpoint=tune.Checkpoint.from_directory(d))

    degenerate: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="xlsweep-trial-") as d:  # files for MLflow, gone on any exit
        artifacts = Path(d)
        try:
            metrics = run_trial(cfg, prepared, restore=restore, on_checkpoint=on_checkpoint,
                                artifacts_dir=artifacts, dev_languages=dev_languages, device=device,
                                degenerate=degenerate)
        except NonFiniteLoss as err:  # a diverged trial ends with its reason; the sweep goes on
            run.set_tags({FAILURE_TAG: str(err)})
            run.finish("FAILED")
            tune.report({"meta_step": -1, "failure": str(err)})
            return
        except SystemExit:  # tune.report's way of ending a trial Tune stops: either the scheduler (ASHA) stopped
            # it, and the driver tagged its run xlsweep.stopped before, or the sweep is being interrupted (Ctrl-C):
            # untagged, the run counts as unfinished and `xlsweep resume` continues it
            run.finish("KILLED")
            raise
        except BaseException as err:
            run.set_tags({FAILURE_TAG: f"{type(err).__name__}: {err}"[:5000]})
            run.finish("FAILED")
            raise
        metrics |= {f"baseline/{k}": v for k, v in prepared.baseline.items()}
        if warning := _degenerate(cfg.data.task, degenerate, losses,
                                  training_loss=method(cfg.meta.algorithm).training_loss):  # said loudly
            run.set_tags({DEGENERATE_TAG: warning})
        log_final_metrics(run, metrics, total_steps)  # at its real last step (MetaXL: epochs × steps per epoch)
        (artifacts / "trial_config.yaml").write_text(
            yaml.safe_dump({"overrides": overrides, "trial": to_dict(cfg)}, sort_keys=False, allow_unicode=True))
        for path in sorted(artifacts.iterdir()):  # the config, and e.g. MetaXL's representation plot
            run.log_artifact(path)
    run.finish("FINISHED")
    tune.report({"meta_step": total_steps, "meta_steps_total": total_steps, **metrics})
