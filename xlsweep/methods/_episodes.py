"""What the episode methods (X-MAML, XLA-MAML, Reptile) share: their rules, data, length and learner's setting-up.

Each method module makes its learner from the stage-1 model and an episode sampler with
:func:`episode_builder`; the training code is imported when a learner is built, not before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from xlsweep.config.errors import ConfigError
from xlsweep.data.sources import resolve_limit
from xlsweep.methods.base import Method, PreparedData, RowCount, Rules, no_rules

if TYPE_CHECKING:
    import torch
    from torch import nn

    from xlsweep.config.schema import TrialConfig
    from xlsweep.data.episodes import EpisodeSampler
    from xlsweep.data.features import Features
    from xlsweep.methods.base import Build, TargetInner
    from xlsweep.train.learner import Learner

__all__ = ["MakeLearner", "episode_builder", "episode_method", "episode_reads", "episode_rules", "episode_steps",
           "target_inner_builder"]

MakeLearner = Callable[["TrialConfig", "nn.Module", "Mapping[str, Features]", "EpisodeSampler", "torch.device | str"],
                       "Learner"]
"""``make(cfg, model, data, sampler, device)``: a method's learner over ready episodes."""


def episode_steps(cfg: TrialConfig, rows: RowCount) -> int:
    """An episode method's length: ``meta.steps`` meta-steps, whatever the data's size."""
    return cfg.meta.steps


def episode_reads(cfg: TrialConfig) -> list[tuple[str, str, str]]:
    return [(lang, cfg.meta.split, "meta-learning (meta.support/query)")
            for lang in dict.fromkeys(cfg.meta.support + cfg.meta.query)]


def episode_trains_on(cfg: TrialConfig) -> tuple[str, ...]:
    """Support and query: both are read from ``meta.split``."""
    return tuple(dict.fromkeys(cfg.meta.support + cfg.meta.query))


def _split_size(cfg: TrialConfig, languages: tuple[str, ...], split: str, *, pooled: bool) -> int:
    """Synthetic data: rows of ``split`` for the smallest of ``languages`` (``pooled``: of them all together)."""
    base = cfg.data.synthetic.dev_size if split == "dev" else cfg.data.synthetic.train_size
    sizes = [min(base, resolve_limit(cfg.data.limits, lang, split) or base) for lang in languages]
    return sum(sizes) if pooled else min(sizes, default=base)


def episode_rules(own: Rules = no_rules, *, same_language: bool = False, target_inner: bool = False) -> Rules:
    """The rules of an episode method: its language sets, episode options and few-shot protocol fit together;
    ``own`` checks what only this method requires (after the language sets, before the episode sizes)."""

    def check(cfg: TrialConfig) -> None:
        meta, fs = cfg.meta, cfg.eval.few_shot
        if not meta.support:
            raise ConfigError("meta.support: empty; expected at least one auxiliary language "
                              "(set it, or sweep it with grid.aux)")
        if not same_language and not meta.query:
            raise ConfigError(f"meta.query: empty; {meta.algorithm} needs the query language set Q "
                              "(for support and query from the same language use algorithm: x-maml)")
        own(cfg)
        union = meta.episode_languages == "union"
        shared = [lang for lang in meta.query if lang in meta.support]
        if meta.parallel and union and shared:
            raise ConfigError(f"meta.parallel: true with episode_languages: union needs disjoint support and query "
                              f"sets; {', '.join(shared)} is in both (a row cannot be its own translation)")
        needed = meta.support_size + (meta.query_size if same_language else 0)
        if cfg.data.benchmark == "synthetic":
            split_size = _split_size(cfg, meta.support, meta.split, pooled=union)
            if needed > split_size:
                raise ConfigError(f"meta.support_size: {needed} examples per episode do not fit in the "
                                  f"{split_size} examples of the {meta.split!r} split")
        if target_inner and fs.enabled and fs.protocol == "target-inner":
            _target_inner_rules(cfg)

    return check


def _target_inner_rules(cfg: TrialConfig) -> None:
    meta = cfg.meta
    if meta.parallel and meta.split != "dev":
        raise ConfigError(f"eval.few_shot.protocol: target-inner with meta.parallel: true needs meta.split: dev; "
                          f"its support is the target's dev split, whose translations are the query languages' "
                          f"dev rows (got meta.split: {meta.split})")
    if cfg.data.benchmark == "synthetic" and meta.support_size > cfg.data.synthetic.dev_size:
        raise ConfigError(f"meta.support_size: {meta.support_size} examples per episode do not fit in a target's "
                          f"{cfg.data.synthetic.dev_size} dev examples (eval.few_shot.protocol: target-inner "
                          "meta-learns with the target's dev split as support)")


def episode_method(*, name: str, label: str, order: int, make: MakeLearner, own: Rules = no_rules,
                   same_language: bool = False, target_inner: bool = False, **changes: Any) -> Method:
    """An episode method: from the stage-1 model over support → query episodes, ``meta.steps`` long."""
    return Method(name=name, label=label, family="episodes", section="meta", order=order,
                  build=episode_builder(make, same_language=same_language), total_steps=episode_steps,
                  reads=episode_reads, trains_on_split=episode_trains_on,
                  check=episode_rules(own, same_language=same_language, target_inner=target_inner),
                  meta_steps=True, same_language=same_language,
                  target_inner=target_inner_builder(make) if target_inner else None, **changes)


def _learner(cfg: TrialConfig, prepared: PreparedData, data: Mapping[str, Features], support: tuple[str, ...],
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

    def build(cfg: TrialConfig, prepared: PreparedData, device: torch.device | str) -> Learner:
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

    def target_inner(cfg: TrialConfig, prepared: PreparedData, target: str,
                     device: torch.device | str) -> Learner | None:
        m = cfg.meta
        if target in m.query:
            return None
        data = {lang: prepared.features.get(lang, m.split) for lang in m.query}
        data[target] = prepared.features.get(target, "dev")
        return _learner(cfg, prepared, data, (target,), m.query, make, same_language=False, device=device)

    return target_inner
