"""Plain supervised fine-tuning (stage 1 on the source language)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from xlsweep.algorithms.finetune import supervised_loss
from xlsweep.data.features import Features, batch_of, num_rows
from xlsweep.train.schedule import linear_schedule

__all__ = ["finetune"]


def finetune(
    model: nn.Module,
    features: Features,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    warmup_ratio: float,
    seed: int,
    device: torch.device | str = "cpu",
    on_epoch: Callable[[int, float], None] | None = None,
) -> None:
    """AdamW with a linear schedule over ``epochs`` passes of shuffled batches; ``on_epoch(epoch, mean_loss)``."""
    n = num_rows(features)
    steps_per_epoch = max(1, n // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = linear_schedule(opt, total_steps=epochs * steps_per_epoch, warmup_ratio=warmup_ratio)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            loss = supervised_loss(model, batch_of(features, order[i * batch_size : (i + 1) * batch_size], device))
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            total += loss.item()
        if on_epoch is not None:
            on_epoch(epoch, total / steps_per_epoch)
