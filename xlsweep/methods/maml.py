"""X-MAML and XLA-MAML (the XLA-MAML paper): MAML from the stage-1 model over support → query episodes.

X-MAML draws support and query from the same language; XLA-MAML from the support language set to
another (the paper's inner step on S, meta step on Q). Both train :class:`xlsweep.train.meta.MetaLearner`.
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


def _meta_learner(cfg: TrialConfig, model: nn.Module, data: Mapping[str, Features], sampler: EpisodeSampler,
                  device: torch.device | str) -> Learner:
    from xlsweep.train.meta import MetaLearner

    m = cfg.meta
    return MetaLearner(model, data, sampler, steps=m.steps, meta_batch=m.meta_batch, inner_lr=m.inner_lr,
                       inner_steps=m.inner_steps, first_order=m.first_order, backend=m.inner_backend,
                       adapt=m.adapt, meta_lr=m.meta_lr, weight_decay=m.weight_decay,
                       warmup_ratio=m.warmup_ratio, optimizer=m.optimizer, schedule=m.schedule, device=device)


def _xla_maml_check(cfg: TrialConfig) -> None:
    meta = cfg.meta
    if set(meta.support) == set(meta.query):
        raise ConfigError(f"meta.query: support and query are both {list(meta.support)}; xla-maml meta-learns from "
                          "one language set to another (for support and query from one language use algorithm: "
                          "x-maml)")


def _x_maml_check(cfg: TrialConfig) -> None:
    meta = cfg.meta
    if meta.query:
        raise ConfigError(f"meta.query: got {list(meta.query)}; x-maml draws support and query from the same "
                          "language, so leave query empty (or use algorithm: xla-maml; in a grid, an x-maml cell of "
                          "an aux choice with a query meta-learns on the choice's languages but data.source)")
    if meta.parallel:
        raise ConfigError("meta.parallel: true needs support and query in different languages; x-maml uses one "
                          "language for both (use xla-maml, or parallel: false)")


def _x_maml_cell(cfg: TrialConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """An x-maml cell of a grid that sweeps ``aux`` or ``meta.algorithm``: one aux axis serves every method.

    X-MAML draws support and query from the same languages, so the cell meta-learns on the aux
    choice's languages other than ``data.source`` (the stage-1 language, no auxiliary language):
    ``en→hi`` is X-MAML on hi (the XLA-MAML paper's Table 3 "X-MAML hi" next to "XLA-MAML en → hi"),
    ``bg→de`` X-MAML on bg and de (its "X-MAML best pair" next to "XLA-MAML same pair"). The resolved
    config (``meta.support``, logged with the trial) and the row label say which. When
    ``meta.algorithm`` is swept, ``meta.parallel`` applies to the cross-lingual methods only:
    x-maml cells run without (one language set has no translations).
    """
    cfg = _x_maml_own(cfg)
    meta = cfg.meta
    if not {"aux", "meta.algorithm"} & set(overrides):
        return cfg
    if meta.query:
        own = tuple(dict.fromkeys(lang for lang in meta.support + meta.query if lang != cfg.data.source))
        meta = dataclasses.replace(meta, support=own or tuple(dict.fromkeys(meta.support + meta.query)), query=())
    if meta.parallel and "meta.algorithm" in overrides and "meta.parallel" not in overrides:
        meta = dataclasses.replace(meta, parallel=False)
    return _x_maml_own(dataclasses.replace(cfg, meta=meta))


def _x_maml_own(cfg: TrialConfig) -> TrialConfig:
    """With ``meta.x_maml.own``, the trial's ``meta`` settings are X-MAML's code's (:class:`XMamlConfig`):
    support/query sizes, inner and meta learning rates, weight decay, optimiser, schedule (no warm-up) and
    tasks per meta-step (0: one per meta-learning language, ``maml_bert.py`` ``x_maml_with_aux_langs``'s loop
    over ``lang_datasets`` in each meta-iteration)."""
    meta, own = cfg.meta, cfg.meta.x_maml
    if not own.own:
        return cfg
    languages = len(dict.fromkeys(meta.support + meta.query)) or 1
    meta = dataclasses.replace(meta, support_size=own.support_size, query_size=own.query_size, inner_lr=own.inner_lr,
                               meta_lr=own.meta_lr, weight_decay=own.weight_decay, optimizer=own.optimizer,
                               schedule=own.schedule, warmup_ratio=0.0 if own.schedule == "constant" else
                               meta.warmup_ratio, meta_batch=own.meta_batch or languages)
    return dataclasses.replace(cfg, meta=meta)


METHODS = (
    episode_method(name="x-maml", label="X-MAML", order=0, make=_meta_learner, own=_x_maml_check,
                   same_language=True, resolve=_x_maml_cell),
    # the XLA-MAML paper's claim is that XLA-MAML improves on X-MAML with the same auxiliary languages
    episode_method(name="xla-maml", label="XLA-MAML", order=10, make=_meta_learner, own=_xla_maml_check,
                   target_inner=True, compared_with="x-maml"),
)
