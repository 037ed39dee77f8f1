"""The Tune trainable: a thin adapter from one grid cell to :func:`xlsweep.trial.run_trial`.

It rebuilds the cell's config, opens (or re-opens) the trial's MLflow child run,
resumes from Tune's checkpoint if there is one, reports progress and checkpoints
through ``tune.report`` and logs the same numbers to MLflow, idempotently.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from ray import tune

from xlsweep.config.load import cell_config, objective_languages, to_dict
from xlsweep.config.schema import AuxChoice, SweepConfig
from xlsweep.prepare import prepare
from xlsweep.tasks import get_task
from xlsweep.tracking import TrialRun, flatten_params
from xlsweep.train.meta import NonFiniteLoss
from xlsweep.trial import Learner, run_trial

__all__ = ["TrialContext", "trainable"]


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a sweep shares; handed to workers once through ``tune.with_parameters``."""

    sweep: SweepConfig
    cache_dir: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str


def _tags(ctx: TrialContext, overrides: dict[str, Any], cfg: Any) -> dict[str, str]:
    return {
        "xlsweep.sweep": ctx.sweep.name,
        "xlsweep.algorithm": cfg.meta.algorithm,
        "xlsweep.task": cfg.data.task,
        "xlsweep.benchmark": cfg.data.benchmark,
        # the resolved languages: an x-maml cell of an aux choice "en→hi" meta-learns on hi (config.load.cell_config)
        "xlsweep.aux": AuxChoice(cfg.meta.support, cfg.meta.query).label if "aux" in overrides
        else "+".join(cfg.meta.support),
        "xlsweep.support": ",".join(cfg.meta.support),
        "xlsweep.query": ",".join(cfg.meta.query or cfg.meta.support),
        "xlsweep.seed": str(cfg.seed),
        "xlsweep.primary": get_task(cfg.data.task).primary,
        "xlsweep.cell": json.dumps(overrides, ensure_ascii=False, default=str)[:5000],
    }


def trainable(config: dict[str, Any], ctx: TrialContext) -> None:
    overrides = dict(config)
    cfg = cell_config(ctx.sweep, overrides)
    torch.set_num_threads(max(1, int(ctx.sweep.resources.cpu)))
    device = "cuda" if ctx.sweep.resources.gpu > 0 and torch.cuda.is_available() else "cpu"
    dev_languages = objective_languages(ctx.sweep, cfg)
    prepared = prepare(cfg, ctx.cache_dir, dev_languages=dev_languages)  # cached by the driver: loads, no build
    tags = _tags(ctx, overrides, cfg)
    trial_id = tune.get_context().get_trial_id()
    run = TrialRun.open(ctx.tracking_uri, ctx.experiment_id, ctx.parent_run_id, trial_id,
                        name=f"{tags['xlsweep.aux']} seed{cfg.seed}", params=flatten_params(to_dict(cfg)), tags=tags)
    if run.finished is not None:  # it ended after Tune last saved its state, before the driver died: not re-run
        tune.report({"meta_step": cfg.meta.steps, **run.finished})
        return
    restore = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            restore = torch.load(Path(d) / "learner.pt", weights_only=False)

    def on_checkpoint(step: int, loss: float, learner: Learner, dev: dict[str, float]) -> None:
        run.log_metrics({"meta_loss": loss, **dev}, step)
        with tempfile.TemporaryDirectory() as d:
            torch.save(learner.state_dict(), Path(d) / "learner.pt")
            tune.report({"meta_step": step, "meta_steps_total": learner.total_steps, "meta_loss": loss, **dev},
                        checkpoint=tune.Checkpoint.from_directory(d))

    with tempfile.TemporaryDirectory(prefix="xlsweep-trial-") as d:  # files for MLflow, gone on any exit
        artifacts = Path(d)
        try:
            metrics = run_trial(cfg, prepared, restore=restore, on_checkpoint=on_checkpoint,
                                artifacts_dir=artifacts, dev_languages=dev_languages, device=device)
        except NonFiniteLoss as err:  # a diverged trial ends with its reason; the sweep goes on
            run.set_tags({"xlsweep.failure": str(err)})
            run.finish("FAILED")
            tune.report({"meta_step": -1, "failure": str(err)})
            return
        except SystemExit:  # tune.report's way of ending a trial Tune stops: either the scheduler (ASHA) stopped
            # it, and the driver tagged its run xlsweep.stopped before, or the sweep is being interrupted (Ctrl-C):
            # untagged, the run counts as unfinished and `xlsweep resume` continues it
            run.finish("KILLED")
            raise
        except BaseException as err:
            run.set_tags({"xlsweep.failure": f"{type(err).__name__}: {err}"[:5000]})
            run.finish("FAILED")
            raise
        metrics |= {f"baseline/{k}": v for k, v in prepared.baseline.items()}
        run.log_metrics(metrics, cfg.meta.steps)
        (artifacts / "trial_config.yaml").write_text(
            yaml.safe_dump({"overrides": overrides, "trial": to_dict(cfg)}, sort_keys=False, allow_unicode=True))
        for path in sorted(artifacts.iterdir()):  # the config, and e.g. MetaXL's representation plot
            run.log_artifact(path)
    run.finish("FINISHED")
    tune.report({"meta_step": cfg.meta.steps, **metrics})
