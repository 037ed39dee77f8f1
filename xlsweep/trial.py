"""One trial, end to end, without Ray or MLflow; its learner is its method's (:mod:`xlsweep.methods`).

Stage 2 — meta-learning (X-/XLA-MAML, Reptile) from the shared stage-1 model, or MetaXL and
its baselines (target-only, JT, JT w/ RTN) from the encoder — then stage 3:
evaluation on every target language (zero-shot, and few-shot when
``eval.few_shot.enabled``), and for MetaXL-family trials the representation
analysis. ``on_checkpoint`` is called every ``meta.checkpoint_every`` steps and at
the end of training, with the learner whose ``state_dict`` a caller can persist;
``restore`` resumes from such a state. With ``dev_languages`` (a sweep's search
objective) every checkpoint and the final metrics also carry the dev scores
``dev/<lang>`` and ``dev_avg`` — what a scheduler such as ASHA compares trials by.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch

from xlsweep.analysis.representations import cosine_hausdorff, pca_2d, representations, write_pca_plot
from xlsweep.config import TrialConfig
from xlsweep.data.benchmark import benchmark_languages
from xlsweep.methods import method
from xlsweep.prepare import Prepared
from xlsweep.tasks import get_task
from xlsweep.tasks.outcomes import OUTCOMES_FILE, Outcomes, write_outcomes
from xlsweep.train.fewshot import few_shot_scores
from xlsweep.train.learner import Learner
from xlsweep.train.transfer import TransferLearner

__all__ = ["Learner", "analyse_representations", "build_learner", "evaluate_dev", "evaluate_targets",
           "run_trial", "target_inner_learner", "training_precision"]

OnCheckpoint = Callable[[int, float, Learner, dict[str, float]], None]  # step, mean loss, learner, dev scores


def build_learner(cfg: TrialConfig, prepared: Prepared, *, device: torch.device | str = "cpu") -> Learner:
    """The trial's learner, untrained, as its method (:mod:`xlsweep.methods`) builds it."""
    return method(cfg.meta.algorithm).build(cfg, prepared, device)


def target_inner_learner(cfg: TrialConfig, prepared: Prepared, target: str, *,
                         device: torch.device | str = "cpu") -> Learner | None:
    """The XLA-MAML paper's few-shot meta-learning for ``target`` (§4.3), untrained; None for a query language.

    "Since we have a development set on the target language for finetuning, we use tgt. lang as the
    inner-step and aux. lang as the meta-step": the trial's method, from the stage-1 model, with
    the target's **dev** split as the support (inner-step) data and the trial's query (auxiliary)
    languages' ``meta.split`` as the query data; the caller then fine-tunes it on the same dev split
    and tests it. Only dev rows of the target are read, never its test split. A target that is one of
    the query languages has no such run (Table 3 leaves the auxiliary language's own column empty).

    Raises:
        ValueError: For a method without the protocol (:attr:`xlsweep.methods.Method.target_inner`).
    """
    make = method(cfg.meta.algorithm).target_inner
    if make is None:
        raise ValueError(f"{cfg.meta.algorithm} has no target-inner few-shot protocol")
    return make(cfg, prepared, target, device)


def analyse_representations(cfg: TrialConfig, prepared: Prepared, learner: TransferLearner, *,
                            plot: Path | None = None, device: torch.device | str = "cpu") -> dict[str, float]:
    """Cosine Hausdorff distance between source and target test representations (last layer).

    [CLS] vectors for sentence tasks, first sub-tokens of words for NER; source rows
    pass through the RTN where the method has one. With ``plot``, a 2-D PCA of both
    sets is written there.
    """
    n, (target,) = cfg.metaxl.analysis_rows, cfg.meta.query
    if n == 0 or not cfg.meta.support:
        return {}
    (source,) = cfg.meta.support
    kind: Literal["cls", "tokens"] = "tokens" if cfg.data.task == "ner" else "cls"
    model = learner.model
    src = representations(model, prepared.features.get(source, "test"), kind=kind, max_rows=n, device=device,
                          context=learner.transformed)
    tgt = representations(model, prepared.features.get(target, "test"), kind=kind, max_rows=n, device=device)
    if plot is not None:
        src_2d, tgt_2d = pca_2d(src, tgt)
        rtn = " (through the RTN)" if method(cfg.meta.algorithm).uses_rtn else ""
        write_pca_plot({f"{source} (source){rtn}": src_2d, f"{target} (target)": tgt_2d}, plot,
                       title=f"{cfg.meta.algorithm}: {source} vs {target}, last layer, {kind}")
    return {"hausdorff": cosine_hausdorff(src, tgt)}


def evaluate_targets(cfg: TrialConfig, prepared: Prepared, model: torch.nn.Module,
                     *, device: torch.device | str = "cpu",
                     degenerate: dict[str, str] | None = None,
                     outcomes: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Test scores per target language, deltas vs the baseline and averages, zero-shot and few-shot.

    Keys: ``<metric>/<lang>`` for each of the task's metrics (``acc``; ``em``, ``f1``; ...),
    ``delta/<lang>`` (the primary metric minus the stage-1 baseline's), ``<metric>_avg`` and
    ``delta_avg``; with few-shot evaluation the same again prefixed ``fs_``. Few-shot fine-tunes
    ``model`` on each target's dev split (``protocol: finetune``), or, for XLA-MAML and Reptile with
    ``protocol: target-inner``, the model of :func:`target_inner_learner` (no ``fs_`` scores for a
    target that is a query language).
    ``degenerate`` gets, per target, why the zero-shot predictions carry nothing (one class
    everywhere), if they do; ``outcomes`` gets, per target, the zero-shot per-example outcomes the scores
    are computed from (:mod:`xlsweep.tasks.outcomes`).
    """
    task, fs = get_task(cfg.data.task), cfg.eval.few_shot
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    target_inner = fs.protocol == "target-inner" and method(cfg.meta.algorithm).target_inner is not None
    scores: dict[str, dict[str, float]] = {}  # mode prefix + metric -> language -> score
    for t in targets:
        test, refs = prepared.features.get(t, "test"), prepared.features.references(t, "test")
        diagnostics: dict[str, str] = {}
        for metric, value in task.evaluate(model, test, refs, language=t, batch_size=cfg.eval.batch_size,
                                           device=device, diagnostics=diagnostics, outcomes=outcomes).items():
            scores.setdefault(metric, {})[t] = value
        if degenerate is not None and "degenerate" in diagnostics:
            degenerate[t] = diagnostics["degenerate"]
        if not fs.enabled:
            continue
        tuned = model
        if target_inner:
            learner = target_inner_learner(cfg, prepared, t, device=device)
            if learner is None:
                continue
            while learner.step_count < learner.total_steps:
                learner.step()
            tuned = learner.final_model()
        few = few_shot_scores(task, tuned, prepared.features.get(t, "dev"), test, refs, language=t,
                              epochs=fs.epochs, lr=fs.lr, batch_size=fs.batch_size, weight_decay=fs.weight_decay,
                              warmup_ratio=fs.warmup_ratio, seed=cfg.seed, eval_batch_size=cfg.eval.batch_size,
                              device=device)
        for metric, value in few.items():
            scores.setdefault(f"fs_{metric}", {})[t] = value
    metrics: dict[str, float] = {}
    for name, per_language in scores.items():
        metrics |= {f"{name}/{t}": v for t, v in per_language.items()}
        metrics[f"{name}_avg"] = sum(per_language.values()) / len(per_language)
    for prefix in ("", "fs_") if fs.enabled else ("",):
        primary = f"{prefix}{task.primary}"
        deltas = {t: v - prepared.baseline[f"{primary}/{t}"] for t, v in scores.get(primary, {}).items()}
        metrics |= {f"{prefix}delta/{t}": d for t, d in deltas.items()}
        if deltas:
            metrics[f"{prefix}delta_avg"] = sum(deltas.values()) / len(deltas)
    return metrics


def training_precision(cfg: TrialConfig, device: torch.device | str) -> AbstractContextManager[object]:
    """``model.amp``: bf16 autocast around a stage-2 training step (weights and optimiser stay float32)."""
    if cfg.model.amp == "none":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def evaluate_dev(cfg: TrialConfig, prepared: Prepared, model: torch.nn.Module, languages: tuple[str, ...],
                 *, device: torch.device | str = "cpu") -> dict[str, float]:
    """The primary metric on the dev split of ``languages``: ``dev/<lang>`` and their mean ``dev_avg``."""
    if not languages:
        return {}
    task = get_task(cfg.data.task)
    scores = {f"dev/{lang}": task.evaluate(model, prepared.features.get(lang, "dev"),
                                           prepared.features.references(lang, "dev"), language=lang,
                                           batch_size=cfg.eval.batch_size, device=device)[task.primary]
              for lang in languages}
    return scores | {"dev_avg": sum(scores.values()) / len(scores)}


def run_trial(
    cfg: TrialConfig,
    prepared: Prepared,
    *,
    restore: Mapping[str, Any] | None = None,
    on_checkpoint: OnCheckpoint | None = None,
    artifacts_dir: Path | None = None,
    dev_languages: tuple[str, ...] = (),
    device: torch.device | str = "cpu",
    degenerate: dict[str, str] | None = None,
) -> dict[str, float]:
    """Train (meta-learn, or MetaXL / a baseline), then evaluate; files for MLflow go to ``artifacts_dir`` (among
    them :data:`~xlsweep.tasks.outcomes.OUTCOMES_FILE`, the per-example test outcomes of the trial and of its
    stage-1 baseline, what the reports' bootstrap resamples); ``degenerate`` gets the targets whose predictions
    carry nothing (see :func:`evaluate_targets`)."""
    learner = build_learner(cfg, prepared, device=device)
    if restore is not None:
        learner.load_state_dict(restore)
    every, losses = cfg.meta.checkpoint_every, []
    while learner.step_count < learner.total_steps:
        with training_precision(cfg, device):
            losses.append(learner.step())
        if on_checkpoint is not None and (learner.step_count % every == 0
                                          or learner.step_count == learner.total_steps):
            dev = evaluate_dev(cfg, prepared, learner.model, dev_languages, device=device)
            on_checkpoint(learner.step_count, sum(losses) / len(losses), learner, dev)
            losses = []
    model = learner.final_model()
    metrics = evaluate_dev(cfg, prepared, model, dev_languages, device=device)
    outcomes: dict[str, np.ndarray] = {}
    metrics |= evaluate_targets(cfg, prepared, model, device=device, degenerate=degenerate, outcomes=outcomes)
    if artifacts_dir is not None and outcomes:
        write_outcomes(artifacts_dir / OUTCOMES_FILE, Outcomes(cfg.data.task, outcomes, {
            lang: rows for lang, rows in prepared.baseline_outcomes.items() if lang in outcomes}))
    if method(cfg.meta.algorithm).transfer_analysis:  # its learner is a TransferLearner
        transfer = cast(TransferLearner, learner)
        plot = artifacts_dir / "representations_pca.png" if artifacts_dir is not None else None
        metrics |= analyse_representations(cfg, prepared, transfer, plot=plot, device=device)
        metrics["dev_best"] = transfer.best_score
    return metrics
