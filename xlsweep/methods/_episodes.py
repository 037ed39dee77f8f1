"""What the episode methods (X-MAML, XLA-MAML, Reptile) share: their data, length and learner's setting-up.

Each method module makes its learner from the stage-1 model and an episode sampler with
:func:`episode_builder`; the training code is imported when a learner is built, not before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from xlsweep.methods.base import RowCount

if TYPE_CHECKING:
    import torch
    from torch import nn

    from xlsweep.config.schema import TrialConfig
    from xlsweep.data.episodes import EpisodeSampler
    from xlsweep.data.features import Features
    from xlsweep.methods.base import Build, TargetInner
    from xlsweep.prepare import Prepared
    from xlsweep.train.learner import Learner

__all__ = ["MakeLearner", "episode_builder", "episode_reads", "episode_steps", "target_inner_builder"]

MakeLearner = Callable[["TrialConfig", "nn.Module", "Mapping[str, Features]", "EpisodeSampler", "torch.device | str"],
                       "Learner"]
"""``make(cfg, model, data, sampler, device)``: a method's learner over ready episodes."""


def episode_steps(cfg: TrialConfig, rows: RowCount) -> int:
    """An episode method's length: ``meta.steps`` meta-steps, whatever the data's size."""
    return cfg.meta.steps


def episode_reads(cfg: TrialConfig) -> list[tuple[str, str, str]]:
    return [(lang, cfg.meta.split, "meta-learning (meta.support/query)")
            for lang in dict.fromkeys(cfg.meta.support + cfg.meta.query)]


def _learner(cfg: TrialConfig, prepared: Prepared, data: Mapping[str, Features], support: tuple[str, ...],
             query: tuple[str, ...], make: MakeLearner, *, same_language: bool,
             device: torch.device | str) -> Learner:
    import torch

    from xlsweep.data.episodes import EpisodeSampler, language_pairs
    from xlsweep.tasks import get_task

    m = cfg.meta
    torch.manual_seed(cfg.seed)
    model = get_task(cfg.data.task).load_model(prepared.stage1_dir)
    pairs = language_pairs(support, query, m.episode_languages, same_language=same_language)
    sampler = EpisodeSampler(data, pairs, support_size=m.support_size, query_size=m.query_size, mode=m.sampling,
                             parallel=m.parallel, seed=cfg.seed)
    return make(cfg, model, data, sampler, device)


def episode_builder(make: MakeLearner, *, same_language: bool = False) -> Build:
    """The method's ``build``: from the stage-1 model, over episodes of meta.support → meta.query (``meta.split``)."""

    def build(cfg: TrialConfig, prepared: Prepared, device: torch.device | str) -> Learner:
        m = cfg.meta
        data = {lang: prepared.features.get(lang, m.split) for lang in sorted(set(m.support) | set(m.query))}
        return _learner(cfg, prepared, data, m.support, m.query, make, same_language=same_language, device=device)

    return build


def target_inner_builder(make: MakeLearner) -> TargetInner:
    """The XLA-MAML paper's few-shot meta-learning for a target (§4.3), untrained; None for a query language.

    "Since we have a development set on the target language for finetuning, we use tgt. lang as the
    inner-step and aux. lang as the meta-step": the method, from the stage-1 model, with the target's
    **dev** split as the support (inner-step) data and the trial's query (auxiliary) languages'
    ``meta.split`` as the query data. Only dev rows of the target are read, never its test split.
    """

    def target_inner(cfg: TrialConfig, prepared: Prepared, target: str, device: torch.device | str) -> Learner | None:
        m = cfg.meta
        if target in m.query:
            return None
        data = {lang: prepared.features.get(lang, m.split) for lang in m.query}
        data[target] = prepared.features.get(target, "dev")
        return _learner(cfg, prepared, data, (target,), m.query, make, same_language=False, device=device)

    return target_inner
