"""The method registry: every stage-2 method is a :class:`~xlsweep.methods.base.Method` in a module of this package.

================  =====================================  ==============================================
method            module                                 learner
================  =====================================  ==============================================
``x-maml``        :mod:`xlsweep.methods.maml`            :class:`xlsweep.train.meta.MetaLearner`
``xla-maml``      :mod:`xlsweep.methods.maml`            :class:`xlsweep.train.meta.MetaLearner`
``reptile``       :mod:`xlsweep.methods.reptile`         :class:`xlsweep.train.reptile.ReptileLearner`
``metaxl``        :mod:`xlsweep.methods.metaxl`          :class:`xlsweep.train.transfer.TransferLearner`
``jt``, ``jt-rtn``, ``target-only``  :mod:`xlsweep.methods.metaxl` (the MetaXL paper's baselines)
================  =====================================  ==============================================

A module of this package whose name does not start with ``_`` and that defines ``METHODS`` (a
tuple of :class:`Method`) is found at import: adding a method is adding its module (and its
tests). Modules here import no torch at import time (the planning layer reads them); their
``build`` functions import the training code.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from xlsweep.data.benchmark import benchmark_languages
from xlsweep.methods.base import Method, PreparedData, RowCount

if TYPE_CHECKING:
    from xlsweep.config.schema import TrialConfig

__all__ = ["RTN_KEYS", "Method", "PreparedData", "RowCount", "all_methods", "method", "method_names",
           "needed_splits", "prepared_rows", "reads_key"]


def _discover() -> dict[str, Method]:
    found: list[Method] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "METHODS", ()))
    found.sort(key=lambda m: (m.order, m.name))
    registry: dict[str, Method] = {}
    for m in found:
        if m.name in registry:
            raise RuntimeError(f"method {m.name!r} is declared twice in xlsweep.methods")
        registry[m.name] = m
    return registry


_REGISTRY = _discover()


def all_methods() -> tuple[Method, ...]:
    """Every method, in report order."""
    return tuple(_REGISTRY.values())


def method_names() -> tuple[str, ...]:
    """``meta.algorithm``'s values, in report order."""
    return tuple(_REGISTRY)


def method(name: str) -> Method:
    """The method called ``name``.

    Raises:
        KeyError: For an unknown name (the config layer checks names first and says which are known).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; expected one of {', '.join(_REGISTRY)}") from None


def prepared_rows(prepared: PreparedData) -> RowCount:
    """Rows of (language, split) in ``prepared``'s features, for :attr:`Method.total_steps`."""
    from xlsweep.data.features import num_rows

    return lambda language, split: num_rows(prepared.features.get(language, split))


def needed_splits(cfg: TrialConfig, dev_languages: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(language, split, why) of every split a trial reads; ``dev_languages``: the search objective's."""
    needed = [(cfg.data.source, "train", "stage 1 (data.source)")]
    needed += [(lang, "dev", "the search objective (search.metric)") for lang in dev_languages]
    needed += method(cfg.meta.algorithm).reads(cfg)
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    needed += [(lang, "test", "evaluation (eval.targets)") for lang in targets]
    if cfg.eval.few_shot.enabled:
        needed += [(lang, "dev", "few-shot evaluation (eval.few_shot)") for lang in targets]
    return needed


_MAML_ONLY = {"steps", "meta_batch", "support_size", "query_size", "inner_lr", "inner_steps", "first_order",
              "inner_backend", "adapt", "meta_lr", "weight_decay", "warmup_ratio", "sampling", "parallel"}
_RTN_ONLY = {"rtn_layers", "rtn_lr", "bottleneck", "rtn"}  # read by metaxl and jt-rtn
RTN_KEYS = frozenset(f"metaxl.{name}" for name in _RTN_ONLY)
"""The config keys of the RTN: read only by the methods that insert one (:attr:`Method.uses_rtn`)."""


def reads_key(key: str, cfg: TrialConfig) -> bool:
    """Whether the trial's method (and its model and data) reads the config key ``key`` (``metaxl.rtn_lr``):
    a child run's params are the keys it reads, and two grid cells that differ only in keys neither reads
    are one trial run twice."""
    section, _, name = key.partition(".")
    spec = method(cfg.meta.algorithm)
    if section == "metaxl":
        if spec.section != "metaxl":
            return False
        if name in _RTN_ONLY:
            return spec.uses_rtn
        if name == "step":  # MetaXL's bi-level step (paper / authors-code)
            return spec.name == "metaxl"
        return name != "jt_batches" or spec.name in ("jt", "jt-rtn")
    if section == "meta":
        return spec.section == "meta" or name not in _MAML_ONLY
    if key.startswith("eval.few_shot.") and key != "eval.few_shot.enabled":
        return cfg.eval.few_shot.enabled
    if key.startswith("model.tiny."):
        return cfg.model.name == "tiny"
    if key.startswith("data.synthetic."):
        return cfg.data.benchmark == "synthetic"
    return True
