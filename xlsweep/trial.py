"""One trial, end to end, without Ray or MLflow: the single place a config becomes keyword arguments.

Stage 2 (meta-learning from the shared stage-1 model) and stage 3 (zero-shot
evaluation on every target language). ``on_checkpoint`` is called every
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
from xlsweep.models.encoder import load_classifier
from xlsweep.prepare import Prepared, load_features
from xlsweep.train.evaluate import accuracy
from xlsweep.train.meta import MetaLearner

__all__ = ["build_learner", "evaluate_targets", "run_trial"]

OnCheckpoint = Callable[[int, float, MetaLearner], None]


def build_learner(cfg: TrialConfig, prepared: Prepared, *, device: torch.device | str = "cpu") -> MetaLearner:
    m = cfg.meta
    torch.manual_seed(cfg.seed)
    model = load_classifier(prepared.stage1_dir, prepared.num_labels)
    languages = sorted(set(m.support) | set(m.query))
    data = {lang: load_features(prepared.features_dir, lang, m.split) for lang in languages}
    sampler = EpisodeSampler(data, language_pairs(m.algorithm, m.support, m.query), support_size=m.support_size,
                             query_size=m.query_size, mode=m.sampling, parallel=m.parallel, seed=cfg.seed)
    return MetaLearner(model, data, sampler, steps=m.steps, meta_batch=m.meta_batch, inner_lr=m.inner_lr,
                       inner_steps=m.inner_steps, first_order=m.first_order, backend=m.inner_backend,
                       adapt=m.adapt, meta_lr=m.meta_lr, weight_decay=m.weight_decay,
                       warmup_ratio=m.warmup_ratio, device=device)


def evaluate_targets(cfg: TrialConfig, prepared: Prepared, model: torch.nn.Module,
                     *, device: torch.device | str = "cpu") -> dict[str, float]:
    """Test accuracy per target language, the deltas vs the baseline, and their averages."""
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    acc = {t: accuracy(model, load_features(prepared.features_dir, t, "test"), batch_size=cfg.eval.batch_size,
                       device=device) for t in targets}
    metrics = {f"acc/{t}": a for t, a in acc.items()}
    metrics |= {f"delta/{t}": a - prepared.baseline[t] for t, a in acc.items()}
    metrics["acc_avg"] = sum(acc.values()) / len(acc)
    metrics["delta_avg"] = sum(metrics[f"delta/{t}"] for t in targets) / len(targets)
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
