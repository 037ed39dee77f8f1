"""Plain supervised fine-tuning: the loss of one batch (stage 1, baselines, few-shot)."""

from __future__ import annotations

from torch import Tensor, nn

from xlsweep.algorithms.maml import Batch

__all__ = ["supervised_loss"]


def supervised_loss(model: nn.Module, batch: Batch) -> Tensor:
    return model(**batch).loss
