"""The optimisers and learning-rate schedules of the training loops: AdamW or Adam; linear or constant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch

__all__ = ["OPTIMIZERS", "SCHEDULES", "linear_schedule", "make_optimizer", "make_schedule"]

OPTIMIZERS = ("adamw", "adam")
SCHEDULES = ("linear", "constant")


def make_optimizer(params: Iterable[torch.Tensor], kind: Literal["adamw", "adam"] | str, *, lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """``adamw``: ``torch.optim.AdamW`` (decoupled weight decay, Loshchilov & Hutter); ``adam``:
    ``torch.optim.Adam`` with ``weight_decay`` added to the gradient as an L2 term (Kingma & Ba; what
    ``torch.optim.Adam(..., weight_decay=...)`` in the MetaXL and X-MAML code does)."""
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer {kind!r}; expected one of {', '.join(OPTIMIZERS)}")


def make_schedule(optimizer: torch.optim.Optimizer, kind: Literal["linear", "constant"] | str, *, total_steps: int,
                  warmup_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """``linear``: :func:`linear_schedule`; ``constant``: the learning rate unchanged (no warm-up, no decay)."""
    if kind == "linear":
        return linear_schedule(optimizer, total_steps=total_steps, warmup_ratio=warmup_ratio)
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    raise ValueError(f"schedule {kind!r}; expected one of {', '.join(SCHEDULES)}")


def linear_schedule(
    optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio`` of the steps, then linear decay to zero."""
    warmup = int(warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
