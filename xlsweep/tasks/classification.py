"""Shared by the sentence(-pair) classification tasks (NLI, sentiment): featurise text columns, predict labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import datasets
import torch
from torch import Tensor, nn
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features, example_ids
from xlsweep.models.encoder import load_pretrained
from xlsweep.tasks.base import predict

__all__ = ["constant_prediction", "featurize_text", "load_sequence_classifier", "predict_labels"]


def featurize_text(ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, columns: Sequence[str], *,
                   max_length: int) -> dict[str, Tensor]:
    """``[CLS] a [SEP]`` (one column) or ``[CLS] a [SEP] b [SEP]`` (two), padded to the longest row."""
    texts = [list(ds[c]) for c in columns]
    enc = tokenizer(*texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt",
                    return_token_type_ids=True)
    return {
        "input_ids": enc["input_ids"],  # (N, T)
        "attention_mask": enc["attention_mask"],  # (N, T)
        "token_type_ids": enc["token_type_ids"],  # (N, T)
        "labels": torch.tensor(list(ds["label"]), dtype=torch.long),  # (N,)
        "example_id": example_ids(list(ds["id"])),  # (N,)
    }


def load_sequence_classifier(name_or_dir: str | Path, num_labels: int) -> PreTrainedModel:
    return load_pretrained(AutoModelForSequenceClassification, name_or_dir, num_labels=num_labels)


def constant_prediction(predicted: Tensor, labels: Sequence[str]) -> str | None:
    """Why ``predicted`` (N,) carries nothing: one label for every row (``None`` otherwise, or for one row)."""
    values = predicted.unique()
    if len(predicted) < 2 or len(values) > 1:
        return None
    return f"predicts {labels[int(values[0])]!r} for all {len(predicted)} test rows"


def predict_labels(model: nn.Module, features: Features, *, batch_size: int,
                   device: torch.device | str) -> Tensor:
    (logits,) = predict(model, features, lambda out: out.logits, batch_size=batch_size, device=device)
    return logits.argmax(-1)  # (N,)
