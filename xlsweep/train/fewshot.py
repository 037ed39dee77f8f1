"""Few-shot evaluation: fine-tune a copy of a model on the target language's dev split, then test it.

The XLA-MAML paper reports it next to zero-shot; the model passed in is left untouched.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlsweep.data.features import Features
from xlsweep.train.finetune import finetune

if TYPE_CHECKING:
    from xlsweep.tasks.base import Task

__all__ = ["few_shot_scores"]


def few_shot_scores(
    task: Task,
    model: nn.Module,
    dev: Features,
    test: Features,
    references: Any,
    *,
    language: str,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    warmup_ratio: float,
    seed: int,
    eval_batch_size: int,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """The task's test scores after ``epochs`` of AdamW fine-tuning on ``dev`` (a copy of ``model``)."""
    tuned = copy.deepcopy(model)
    torch.manual_seed(seed)
    finetune(tuned, dev, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
             warmup_ratio=warmup_ratio, seed=seed, device=device)
    return task.evaluate(tuned, test, references, language=language, batch_size=eval_batch_size, device=device)
