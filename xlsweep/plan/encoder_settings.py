"""Defaults tuned for the tiny embedded encoder, and the warnings when a real encoder runs with them.

The schema's defaults (:mod:`xlsweep.config.schema`) are right for the tiny 2-layer, 128-wide encoder on the
synthetic benchmark: it learns from scratch at ``stage1.lr: 1e-3``. A 12-layer pretrained multilingual encoder
(mBERT, XLM-R base) at those rates forgets its pretraining; the papers train it at 1e-5 to 3e-5. Each
:data:`TINY_TUNED` entry names a key, the tiny default and what the papers use for a base encoder, with the
source. :func:`tiny_default_warnings` gives one line per key a hub or local encoder's trials leave at the tiny
default (``xlsweep validate`` prints them, a sweep logs them before its work); the README's "Settings per
encoder size" table is the same content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xlsweep.config import TrialConfig
from xlsweep.methods import reads_key

__all__ = ["TINY_TUNED", "TinyTuned", "tiny_default_warnings"]


@dataclass(frozen=True)
class TinyTuned:
    """One key whose default suits the tiny encoder only."""

    key: str  # dotted config path
    tiny: object  # the schema's default
    base: str  # what the papers use for a 12-layer base encoder, with the source
    read: Callable[[TrialConfig], object]
    applies: Callable[[TrialConfig], bool]  # whether the trial uses the key


def _reads(key: str) -> Callable[[TrialConfig], bool]:
    return lambda cfg: reads_key(key, cfg)


_MAX_LENGTH = {"nli": "128 (XLA-MAML §4.2, MNLI)", "qa": "384 with doc_stride 128 (XLA-MAML §4.2, SQuAD)",
               "ner": "200 (MetaXL Appendix A)", "sentiment": "256 (MetaXL Appendix A)"}

TINY_TUNED: tuple[TinyTuned, ...] = (
    TinyTuned("stage1.lr", 1e-3, "2e-5 for MNLI, 3e-5 for SQuAD (XLA-MAML §4.2, AdamW)",
              lambda c: c.stage1.lr, lambda c: True),
    TinyTuned("meta.inner_lr", 1e-3, "1e-5, SGD (XLA-MAML §4.2)", lambda c: c.meta.inner_lr, _reads("meta.inner_lr")),
    TinyTuned("meta.meta_lr", 1e-4, "1e-5, Adam, weight decay 0.01, linear schedule (XLA-MAML §4.2)",
              lambda c: c.meta.meta_lr, _reads("meta.meta_lr")),
    TinyTuned("metaxl.rtn_lr", 1e-3, "tuned in {3e-5, 1e-6, 1e-7} (MetaXL Appendix A)",
              lambda c: c.metaxl.rtn_lr, _reads("metaxl.rtn_lr")),
    TinyTuned("metaxl.bottleneck", 64, "384 or 192 for a 768-wide encoder (MetaXL Appendix A)",
              lambda c: c.metaxl.bottleneck, _reads("metaxl.bottleneck")),
    TinyTuned("eval.few_shot.lr", 1e-4, "not stated by the papers; the fine-tuning rate of stage 1 (2e-5 / 3e-5, "
              "XLA-MAML §4.2) is the usual choice", lambda c: c.eval.few_shot.lr, lambda c: c.eval.few_shot.enabled),
    TinyTuned("data.max_length", 64, "per task: " + "; ".join(f"{t} {v}" for t, v in _MAX_LENGTH.items()),
              lambda c: c.data.max_length, lambda c: True),
)


def tiny_default_warnings(cfgs: Iterable[TrialConfig]) -> list[str]:
    """One line per tiny-tuned key that a hub or local encoder's trial leaves at the tiny default.

    A key swept by the grid warns when any trial of a real encoder uses the tiny value. Trials of the
    tiny encoder never warn.
    """
    found: dict[str, set[str]] = {}
    for cfg in cfgs:
        if cfg.model.name == "tiny":
            continue
        for entry in TINY_TUNED:
            if entry.applies(cfg) and entry.read(cfg) == entry.tiny:
                found.setdefault(entry.key, set()).add(cfg.model.name)
    lines = []
    for entry in TINY_TUNED:
        if entry.key in found:
            models = ", ".join(sorted(found[entry.key]))
            lines.append(f"{entry.key} is {entry.tiny}, the tiny encoder's default, and {models} runs with it; for a "
                         f"12-layer base encoder the papers use {entry.base} "
                         "(docs/paper-presets.md: Settings per encoder size)")
    return lines
