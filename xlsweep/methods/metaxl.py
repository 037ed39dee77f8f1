"""MetaXL (the MetaXL paper) and its baselines target-only, JT and JT w/ RTN: one source language, one target.

All four train :class:`xlsweep.train.transfer.TransferLearner` from the encoder (or the stage-1 model,
``metaxl.init``) with the ``metaxl`` section's settings: source = meta.support's train split, target =
meta.query's ``meta.split``, model selection on the target's dev split. Their length is epochs ×
steps per epoch (+ back-off epochs), known from the data's sizes (:func:`transfer_steps`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlsweep.methods.base import Method, RowCount
from xlsweep.train.phases import transfer_total_steps

if TYPE_CHECKING:
    import torch

    from xlsweep.config.schema import TrialConfig
    from xlsweep.prepare import Prepared
    from xlsweep.train.learner import Learner

__all__ = ["METHODS", "transfer_steps"]


def _subset_size(rows: int, n: int) -> int:
    """Rows :func:`xlsweep.train.transfer.subset_rows` keeps of ``rows`` for ``n`` (0: all)."""
    return rows if n <= 0 or n >= rows else n


def transfer_steps(cfg: TrialConfig, rows: RowCount) -> int:
    """The learner's ``total_steps`` from the config and the data's sizes, without building a model."""
    m, x = cfg.meta, cfg.metaxl
    n_source = _subset_size(rows(m.support[0], "train"), x.source_size) if m.support else 0
    n_target = _subset_size(rows(m.query[0], m.split), x.target_size)
    return transfer_total_steps(m.algorithm, n_source, n_target, epochs=x.epochs, backoff_epochs=x.backoff_epochs,
                                source_batch=x.source_batch, target_batch=x.target_batch, jt_batches=x.jt_batches)


def _reads(cfg: TrialConfig) -> list[tuple[str, str, str]]:
    meta, name = cfg.meta, cfg.meta.algorithm
    needed = [(lang, "train", f"{name} source data (meta.support)") for lang in meta.support]
    needed += [(lang, meta.split, f"{name} target data (meta.query)") for lang in meta.query]
    needed += [(lang, "dev", "model selection on the target's dev split") for lang in meta.query]
    if cfg.metaxl.analysis_rows:
        needed += [(lang, "test", "the representation analysis (metaxl.analysis_rows)") for lang in meta.support]
    return needed


def _build(cfg: TrialConfig, prepared: Prepared, device: torch.device | str) -> Learner:
    import torch

    from xlsweep.data.features import Features
    from xlsweep.tasks import get_task
    from xlsweep.train.transfer import TransferLearner, subset_rows

    m, x, task = cfg.meta, cfg.metaxl, get_task(cfg.data.task)
    torch.manual_seed(cfg.seed)
    model = task.load_model(prepared.encoder_dir if x.init == "encoder" else prepared.stage1_dir)
    (target,) = m.query

    def subset(lang: str, split: str, n: int) -> Features:
        return subset_rows(prepared.features.get(lang, split), n, mode=x.subset, seed=x.subset_seed)

    return TransferLearner(
        model, method=m.algorithm,  # type: ignore[arg-type]  # a name of this module's METHODS
        source=subset(m.support[0], "train", x.source_size) if m.support else None,
        target=subset(target, m.split, x.target_size),
        dev=prepared.features.get(target, "dev"), dev_references=prepared.features.references(target, "dev"),
        task=task, language=target, rtn=x.rtn, rtn_layers=x.rtn_layers, bottleneck=x.bottleneck,
        epochs=x.epochs, source_batch=x.source_batch, target_batch=x.target_batch, lr=x.lr,
        rtn_lr=x.rtn_lr, weight_decay=x.weight_decay, warmup_ratio=x.warmup_ratio, max_grad_norm=x.max_grad_norm,
        backoff_epochs=x.backoff_epochs, step=x.step, jt_batches=x.jt_batches, select=x.select, seed=cfg.seed,
        eval_batch_size=cfg.eval.batch_size, device=device)


def _metaxl_check(cfg: TrialConfig) -> str | None:
    x = cfg.metaxl
    if x.step == "authors-code" and x.target_batch < 2:
        return (f"metaxl.target_batch: got {x.target_batch}; step authors-code splits each target batch in halves "
                "(one trains θ, the other scores θ'), so expected at least 2")
    return None


_TRANSFER = Method(name="metaxl", label="MetaXL", family="transfer", section="metaxl", order=130, build=_build,
                   total_steps=transfer_steps, reads=_reads, uses_rtn=True)

METHODS = (  # rows: baselines first, as in the MetaXL paper's tables
    _TRANSFER.replace(name="target-only", label="target-only", order=100, needs_source=False, uses_rtn=False),
    _TRANSFER.replace(name="jt", label="JT", order=110, uses_rtn=False),
    _TRANSFER.replace(name="jt-rtn", label="JT w/ RTN", order=120),
    _TRANSFER.replace(check=_metaxl_check),
)
