"""One trial, end to end, without Ray or MLflow: the single place a config becomes keyword arguments.

Stage 2 (meta-learning from the shared stage-1 model) and stage 3 (evaluation on
every target language: zero-shot, and few-shot when ``eval.few_shot.enabled``). ``on_checkpoint`` is called every
``meta.checkpoint_every`` steps and at the end of meta-training, with the learner
whose ``state_dict`` a caller can persist; ``restore`` resumes from such a state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from xlsweep.config.schema import TrialConfig
from xlsweep.data.benchmark import benchmark_languages
from xlsweep.data.episodes import EpisodeSampler, language_pairs
from xlsweep.prepare import Prepared
from xlsweep.tasks import get_task
from xlsweep.train.fewshot import few_shot_scores
from xlsweep.train.meta import MetaLearner

__all__ = ["build_learner", "evaluate_targets", "run_trial"]

OnCheckpoint = Callable[[int, float, MetaLearner], None]


def build_learner(cfg: TrialConfig, prepared: Prepared, *, device: torch.device | str = "cpu") -> MetaLearner:
    m = cfg.meta
    torch.manual_seed(cfg.seed)
    model = get_task(cfg.data.task).load_model(prepared.stage1_dir)
    languages = sorted(set(m.support) | set(m.query))
    data = {lang: prepared.features.get(lang, m.split) for lang in languages}
    sampler = EpisodeSampler(data, language_pairs(m.algorithm, m.support, m.query), support_size=m.support_size,
                             query_size=m.query_size, mode=m.sampling, parallel=m.parallel, seed=cfg.seed)
    return MetaLearner(model, data, sampler, steps=m.steps, meta_batch=m.meta_batch, inner_lr=m.inner_lr,
                       inner_steps=m.inner_steps, first_order=m.first_order, backend=m.inner_backend,
                       adapt=m.adapt, meta_lr=m.meta_lr, weight_decay=m.weight_decay,
                       warmup_ratio=m.warmup_ratio, device=device)


def evaluate_targets(cfg: TrialConfig, prepared: Prepared, model: torch.nn.Module,
                     *, device: torch.device | str = "cpu") -> dict[str, float]:
    """Test scores per target language, deltas vs the baseline and averages, zero-shot and few-shot.

    Keys: ``<metric>/<lang>`` for each of the task's metrics (``acc``; ``em``, ``f1``; ...),
    ``delta/<lang>`` (the primary metric minus the stage-1 baseline's), ``<metric>_avg`` and
    ``delta_avg``; with few-shot evaluation the same again prefixed ``fs_``.
    """
    task, fs = get_task(cfg.data.task), cfg.eval.few_shot
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    scores: dict[str, dict[str, float]] = {}  # mode prefix + metric -> language -> score
    for t in targets:
        test, refs = prepared.features.get(t, "test"), prepared.features.references(t, "test")
        for metric, value in task.evaluate(model, test, refs, language=t, batch_size=cfg.eval.batch_size,
                                           device=device).items():
            scores.setdefault(metric, {})[t] = value
        if fs.enabled:
            few = few_shot_scores(task, model, prepared.features.get(t, "dev"), test, refs, language=t,
                                  epochs=fs.epochs, lr=fs.lr, batch_size=fs.batch_size,
                                  weight_decay=fs.weight_decay, warmup_ratio=fs.warmup_ratio, seed=cfg.seed,
                                  eval_batch_size=cfg.eval.batch_size, device=device)
            for metric, value in few.items():
                scores.setdefault(f"fs_{metric}", {})[t] = value
    metrics: dict[str, float] = {}
    for name, per_language in scores.items():
        metrics |= {f"{name}/{t}": v for t, v in per_language.items()}
        metrics[f"{name}_avg"] = sum(per_language.values()) / len(per_language)
    for prefix in ("", "fs_") if fs.enabled else ("",):
        primary = f"{prefix}{task.primary}"
        deltas = {t: scores[primary][t] - prepared.baseline[f"{primary}/{t}"] for t in targets}
        metrics |= {f"{prefix}delta/{t}": d for t, d in deltas.items()}
        metrics[f"{prefix}delta_avg"] = sum(deltas.values()) / len(deltas)
    return metrics


def run_trial(
    cfg: TrialConfig,
    prepared: Prepared,
    *,
    restore: Mapping[str, Any] | None = None,
    on_checkpoint: OnCheckpoint | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    learner = build_learner(cfg, prepared, device=device)
    if restore is not None:
        learner.load_state_dict(restore)
    every, losses = cfg.meta.checkpoint_every, []
    while learner.step_count < cfg.meta.steps:
        losses.append(learner.step())
        if on_checkpoint is not None and (learner.step_count % every == 0 or learner.step_count == cfg.meta.steps):
            on_checkpoint(learner.step_count, sum(losses) / len(losses), learner)
            losses = []
    return evaluate_targets(cfg, prepared, learner.model, device=device)
