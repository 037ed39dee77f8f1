"""MetaXL (the MetaXL paper) and its baselines target-only, JT and JT w/ RTN: one source language, one target.

All four train :class:`xlsweep.train.transfer.TransferLearner` from the encoder (or the stage-1 model,
``metaxl.init``) with the ``metaxl`` section's settings: source = meta.support's train split, target =
meta.query's ``meta.split``, model selection on the target's dev split. Their length is epochs ×
steps per epoch (+ back-off epochs), known from the data's sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xlsweep.config.errors import ConfigError, fraction, non_negative, positive
from xlsweep.methods.base import Build, Method, PreparedData, RowCount, Rules, no_rules
from xlsweep.train.phases import Objective, transfer_total_steps

if TYPE_CHECKING:
    import torch

    from xlsweep.config.schema import TrialConfig
    from xlsweep.train.learner import Learner

__all__ = ["METHODS", "transfer_method", "transfer_rules"]


def _subset_size(rows: int, n: int) -> int:
    """Rows :func:`xlsweep.train.transfer.subset_rows` keeps of ``rows`` for ``n`` (0: all)."""
    return rows if n <= 0 or n >= rows else n


def _steps(objective: Objective, rtn: bool) -> Callable[[TrialConfig, RowCount], int]:
    def total_steps(cfg: TrialConfig, rows: RowCount) -> int:
        """The learner's ``total_steps`` from the config and the data's sizes, without building a model."""
        m, x = cfg.meta, cfg.metaxl
        n_source = _subset_size(rows(m.support[0], "train"), x.source_size) if m.support else 0
        n_target = _subset_size(rows(m.query[0], m.split), x.target_size)
        return transfer_total_steps(objective, n_source, n_target, rtn=rtn, epochs=x.epochs,
                                    backoff_epochs=x.backoff_epochs, source_batch=x.source_batch,
                                    target_batch=x.target_batch, joint_batches=x.jt_batches)

    return total_steps


def _reads(cfg: TrialConfig) -> list[tuple[str, str, str]]:
    meta, name = cfg.meta, cfg.meta.algorithm
    needed = [(lang, "train", f"{name} source data (meta.support)") for lang in meta.support]
    needed += [(lang, meta.split, f"{name} target data (meta.query)") for lang in meta.query]
    needed += [(lang, "dev", "model selection on the target's dev split") for lang in meta.query]
    if cfg.metaxl.analysis_rows:
        needed += [(lang, "test", "the representation analysis (metaxl.analysis_rows)") for lang in meta.support]
    return needed


def _trains_on(cfg: TrialConfig) -> tuple[str, ...]:
    """The target: its ``meta.split`` rows (the sources are read from their train split)."""
    return cfg.meta.query


def _builder(objective: Objective, rtn: bool) -> Build:
    def build(cfg: TrialConfig, prepared: PreparedData, device: torch.device | str) -> Learner:
        import torch

        from xlsweep.data.features import Features
        from xlsweep.tasks import get_task
        from xlsweep.train.transfer import TransferData, TransferLearner, TransferSettings, subset_rows

        m, x, task = cfg.meta, cfg.metaxl, get_task(cfg.data.task)
        torch.manual_seed(cfg.seed)
        model = task.load_model(prepared.encoder_dir if x.init == "encoder" else prepared.stage1_dir)
        (target,) = m.query

        def subset(lang: str, split: str, n: int) -> Features:
            return subset_rows(prepared.features.get(lang, split), n, mode=x.subset, seed=x.subset_seed)

        data = TransferData(source=subset(m.support[0], "train", x.source_size) if m.support else None,
                            target=subset(target, m.split, x.target_size), dev=prepared.features.get(target, "dev"),
                            dev_references=prepared.features.references(target, "dev"), language=target)
        settings = TransferSettings(
            objective=objective, rtn=x.rtn if rtn else None, rtn_layers=x.rtn_layers, bottleneck=x.bottleneck,
            epochs=x.epochs, source_batch=x.source_batch, target_batch=x.target_batch, lr=x.lr, rtn_lr=x.rtn_lr,
            weight_decay=x.weight_decay, optimizer=x.optimizer, warmup_ratio=x.warmup_ratio,
            max_grad_norm=x.max_grad_norm,
            backoff_epochs=x.backoff_epochs, step=x.step, joint_batches=x.jt_batches, select=x.select,
            eval_batch_size=cfg.eval.batch_size)
        return TransferLearner(model, data, settings, task=task, seed=cfg.seed, device=device)

    return build


def _metaxl_check(cfg: TrialConfig) -> None:
    x = cfg.metaxl
    if x.step == "authors-code" and x.target_batch < 2:
        raise ConfigError(f"metaxl.target_batch: got {x.target_batch}; step authors-code splits each target batch "
                          "in halves (one trains θ, the other scores θ'), so expected at least 2")


def transfer_rules(own: Rules = no_rules, *, needs_source: bool = True) -> Rules:
    """The rules of MetaXL and its baselines: one target language, one source unless ``needs_source`` is false,
    sane RTN settings; ``own`` checks what only this method requires."""

    def check(cfg: TrialConfig) -> None:
        meta, x = cfg.meta, cfg.metaxl
        if len(meta.query) != 1:
            raise ConfigError(f"meta.query: got {list(meta.query)}; {meta.algorithm} trains for one target language "
                              "(sweep targets with grid.aux, e.g. product: {support: [en], query: [qu, mi]})")
        if needs_source and len(meta.support) != 1:
            raise ConfigError(f"meta.support: got {list(meta.support)}; {meta.algorithm} needs exactly one source "
                              "language (e.g. [en], or a language related to the target)")
        if meta.query[0] in meta.support:
            raise ConfigError(f"meta.query: {meta.query[0]!r} is also a source language (meta.support)")
        if cfg.eval.few_shot.enabled and cfg.eval.few_shot.protocol == "target-inner":
            raise ConfigError(f"eval.few_shot.protocol: target-inner is the XLA-MAML paper's few-shot protocol "
                              f"(meta-learning with the target as support); {meta.algorithm} trials fine-tune their "
                              "model: use protocol: finetune")
        for name in ("epochs", "source_batch", "target_batch", "lr", "rtn_lr", "bottleneck"):
            positive(f"metaxl.{name}", getattr(x, name))
        for name in ("source_size", "target_size", "backoff_epochs", "max_grad_norm", "weight_decay",
                     "analysis_rows"):
            non_negative(f"metaxl.{name}", getattr(x, name))
        fraction("metaxl.warmup_ratio", x.warmup_ratio)
        _rtn_rules(cfg)
        own(cfg)
        if cfg.model.name == "tiny" and x.bottleneck >= cfg.model.tiny.hidden_size:
            raise ConfigError(f"metaxl.bottleneck: got {x.bottleneck}; expected fewer units than the encoder's "
                              f"hidden size ({cfg.model.tiny.hidden_size})")

    return check


def _rtn_rules(cfg: TrialConfig) -> None:
    x = cfg.metaxl
    if not x.rtn_layers:
        raise ConfigError("metaxl.rtn_layers: empty; expected layer indices (0: after the embeddings, "
                          "i: after encoder layer i)")
    layers = cfg.model.tiny.num_layers if cfg.model.name == "tiny" else None  # a hub model's depth: preflight
    for i in x.rtn_layers:
        if i < 0 or (layers is not None and i > layers):
            allowed = f"0..{layers}" if layers is not None else "0 or more"
            raise ConfigError(f"metaxl.rtn_layers: got {i}; expected {allowed} (0: after the embeddings, "
                              "i: after encoder layer i)")
    if len(set(x.rtn_layers)) != len(x.rtn_layers):
        raise ConfigError(f"metaxl.rtn_layers: got {list(x.rtn_layers)}; a layer may appear only once")


def transfer_method(*, name: str, label: str, order: int, objective: Objective, own: Rules = no_rules,
                    needs_source: bool = True, uses_rtn: bool = False, **changes: Any) -> Method:
    """MetaXL or one of its baselines: one source and one target, ``metaxl.epochs`` over the data, trained on
    ``objective`` (:mod:`xlsweep.train.transfer`), source rows through an RTN if ``uses_rtn``."""
    return Method(name=name, label=label, family="transfer", section="metaxl", order=order,
                  build=_builder(objective, uses_rtn), total_steps=_steps(objective, uses_rtn), reads=_reads,
                  trains_on_split=_trains_on, check=transfer_rules(own, needs_source=needs_source),
                  training_loss=True, transfer_analysis=True, one_target=True, needs_source=needs_source,
                  uses_rtn=uses_rtn, **changes)


METHODS = (  # rows: baselines first, as in the MetaXL paper's tables; jt, else target-only, is the reference
    transfer_method(name="target-only", label="target-only", order=100, objective="target", needs_source=False,
                    reference=2),
    transfer_method(name="jt", label="JT", order=110, objective="joint", reference=1),
    transfer_method(name="jt-rtn", label="JT w/ RTN", order=120, objective="joint", uses_rtn=True),
    transfer_method(name="metaxl", label="MetaXL", order=130, objective="metaxl", own=_metaxl_check, uses_rtn=True),
)
