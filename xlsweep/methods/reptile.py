"""Reptile (Nichol et al., 2018; first order, learn2learn's update) over XLA-MAML's support → query episodes.

The whole method: this module (its registry entry), :mod:`xlsweep.train.reptile` (its learner) and
:mod:`xlsweep.algorithms.reptile` (its update), with their tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xlsweep.config.errors import ConfigError
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


_UNREAD = ("optimizer", "schedule")
"""``meta`` keys Reptile does not read (its outer step is SGD on the linear schedule) that have other values."""


def _defaults() -> dict[str, Any]:
    from xlsweep.config.schema import MetaConfig

    return {name: getattr(MetaConfig(), name) for name in _UNREAD}


def _reptile_check(cfg: TrialConfig) -> None:
    """A ``meta.optimizer`` or ``meta.schedule`` Reptile would ignore is refused: a setting that does nothing."""
    for name, default in _defaults().items():
        if getattr(cfg.meta, name) != default:
            raise ConfigError(f"meta.{name}: got {getattr(cfg.meta, name)!r}, which reptile does not read (its outer "
                              f"step is SGD with ε = meta.meta_lr on the linear schedule); expected the default "
                              f"{default!r} (leave it unset), or an algorithm that reads it (xla-maml, x-maml)")


def _reptile_cell(cfg: TrialConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """A reptile cell of a grid that sweeps ``meta.algorithm``: ``meta.optimizer`` and ``meta.schedule`` are the
    other methods' settings, so the cell takes the defaults (what Reptile runs), unless the grid sweeps them."""
    if "meta.algorithm" not in overrides:
        return cfg
    reset = {name: default for name, default in _defaults().items() if f"meta.{name}" not in overrides}
    return dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, **reset))


METHODS = (episode_method(name="reptile", label="Reptile", order=20, make=_reptile_learner, own=_reptile_check,
                          target_inner=True, resolve=_reptile_cell),)
