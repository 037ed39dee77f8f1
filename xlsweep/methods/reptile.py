"""Reptile (Nichol et al., 2018; first order, learn2learn's update) over XLA-MAML's support → query episodes.

The whole method: this module (its registry entry), :mod:`xlsweep.train.reptile` (its learner) and
:mod:`xlsweep.algorithms.reptile` (its update), with their tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from xlsweep.methods._episodes import episode_method

if TYPE_CHECKING:
    import torch
    from torch import nn

    from xlsweep.config.schema import TrialConfig
    from xlsweep.data.episodes import EpisodeSampler
    from xlsweep.data.features import Features
    from xlsweep.train.learner import Learner

__all__ = ["METHODS"]


def _reptile_learner(cfg: TrialConfig, model: nn.Module, data: Mapping[str, Features], sampler: EpisodeSampler,
                     device: torch.device | str) -> Learner:
    from xlsweep.train.reptile import ReptileLearner

    m = cfg.meta
    return ReptileLearner(model, data, sampler, steps=m.steps, meta_batch=m.meta_batch, inner_lr=m.inner_lr,
                          inner_steps=m.inner_steps, adapt=m.adapt, meta_lr=m.meta_lr, warmup_ratio=m.warmup_ratio,
                          device=device)


METHODS = (episode_method(name="reptile", label="Reptile", order=20, make=_reptile_learner, target_inner=True),)
