"""Evaluation in inference mode."""

from __future__ import annotations

import torch
from torch import nn

from xlsweep.data.features import Features, batch_of, num_rows

__all__ = ["accuracy"]


@torch.inference_mode()
def accuracy(model: nn.Module, features: Features, *, batch_size: int, device: torch.device | str = "cpu") -> float:
    was_training = model.training
    model.eval()
    n = num_rows(features)
    correct = 0
    for start in range(0, n, batch_size):
        batch = batch_of(features, torch.arange(start, min(n, start + batch_size)), device)
        labels = batch.pop("labels")
        correct += int((model(**batch).logits.argmax(-1) == labels).sum())
    model.train(was_training)
    return correct / n
