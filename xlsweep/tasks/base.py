"""What every task offers the pipeline, and the registry that picks one by name.

A task turns a canonical dataset (see :mod:`xlsweep.data.schema`) into features
(a dict of equal-length tensors, see :mod:`xlsweep.data.features`) plus the
JSON-able references its metric needs (gold answers, gold tag sequences), builds
the encoder with its head, and scores a model on features. Training code only
needs ``model(**batch).loss``, so stage 1, MAML and few-shot fine-tuning are the
same for every task.

``evaluate(..., diagnostics=d)`` also says, in ``d["degenerate"]``, when the predictions carry
no information: one class for every test row (classification), no entity at all (NER), one
and the same answer for every question (QA) — a model that learnt nothing, whose scores must
not pass for a result. :func:`degenerate_loss` is the same warning from a training loss.
``evaluate(..., outcomes=o)`` also puts the per-example outcomes its scores are computed from in
``o[language]`` (:mod:`xlsweep.tasks.outcomes`): what the reports' paired bootstrap resamples.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Protocol

import datasets
import torch
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features, batch_of, num_rows
from xlsweep.data.schema import NER_TAGS, NLI_LABELS, SENTIMENT_LABELS, TASKS

__all__ = ["CHANCE_MARGIN", "Diagnostics", "OutcomeRows", "Task", "degenerate_loss", "get_task", "predict"]

Diagnostics = MutableMapping[str, str]  # filled by evaluate(): "degenerate" -> why the predictions carry nothing
OutcomeRows = MutableMapping[str, Any]  # filled by evaluate(): language -> (N, k) per-example outcomes (tasks.outcomes)
CHANCE_MARGIN = 0.98  # a final training loss above this share of ln(#labels) is no better than uniform guessing
_LABELS = {"nli": len(NLI_LABELS), "sentiment": len(SENTIMENT_LABELS), "ner": len(NER_TAGS)}

References = Any  # JSON-able: what a metric needs beyond the features (None for classification)


class Task(Protocol):
    name: str
    metrics: tuple[str, ...]  # every score evaluate() returns, e.g. ("em", "f1")
    primary: str  # the one deltas, heatmaps and objectives use

    def featurize(self, ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                  doc_stride: int) -> tuple[dict[str, Tensor], References]: ...

    def load_model(self, name_or_dir: str | Path) -> PreTrainedModel: ...

    def evaluate(self, model: nn.Module, features: Features, references: References, *, language: str,
                 batch_size: int, device: torch.device | str,
                 diagnostics: Diagnostics | None = None, outcomes: OutcomeRows | None = None) -> dict[str, float]: ...


def degenerate_loss(task: str, loss: float) -> str | None:
    """Why a final training ``loss`` of ``task`` says the model learnt nothing (``None`` if it does not): at or
    above ``CHANCE_MARGIN`` × ln(#labels), the loss of uniform guessing (tasks with a fixed label set only)."""
    labels = _LABELS.get(task)
    if labels is None or not math.isfinite(loss) or loss < CHANCE_MARGIN * math.log(labels):
        return None
    return f"final training loss {loss:.4f} is at chance level (ln {labels} = {math.log(labels):.4f})"


def get_task(name: str) -> Task:
    """The task of ``name`` (one of :data:`xlsweep.data.schema.TASKS`); only its module is imported."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    module = importlib.import_module(f"xlsweep.tasks.{name}")
    return module.TASK  # type: ignore[no-any-return]


@torch.inference_mode()
def predict(model: nn.Module, features: Features, outputs: Callable[[Any], Tensor | tuple[Tensor, ...]], *,
            batch_size: int, device: torch.device | str, per_token: bool = False) -> list[Tensor]:
    """Run ``model`` over ``features`` in inference mode, rows sorted by length so batches carry little padding.

    ``outputs`` picks what to keep from a model output (e.g. ``lambda o: o.logits``);
    the result is one CPU tensor per returned output, rows in the features' order
    and, with ``per_token``, padded back to the features' width along dimension 1.
    """
    was_training = model.training
    model.eval()
    n = num_rows(features)
    width = features["input_ids"].shape[1]
    lengths = features["attention_mask"].sum(dim=1)  # (N,)
    order = torch.argsort(lengths, descending=True, stable=True)
    collected: list[list[Tensor]] = []
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        batch = batch_of(features, rows, device)
        for key in ("labels", "start_positions", "end_positions"):
            batch.pop(key, None)
        out = outputs(model(**batch))
        outs = out if isinstance(out, tuple) else (out,)
        if not collected:
            collected = [[] for _ in outs]
        for bucket, tensor in zip(collected, outs, strict=True):
            tensor = tensor.float().cpu()
            if per_token and tensor.shape[1] < width:
                pad = torch.zeros(tensor.shape[0], width - tensor.shape[1], *tensor.shape[2:])
                tensor = torch.cat([tensor, pad], dim=1)
            bucket.append(tensor)
    model.train(was_training)
    inverse = torch.argsort(order)
    return [torch.cat(bucket)[inverse] for bucket in collected]
