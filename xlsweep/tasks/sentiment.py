"""Sentiment (MARC-style stars mapped to binary, or text+label corpora): one sentence, binary F1.

F1 is the positive class's F1, as binary sentiment results are reported; accuracy
is logged next to it.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import torch
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features
from xlsweep.data.schema import SENTIMENT_LABELS
from xlsweep.tasks.base import Diagnostics, OutcomeRows
from xlsweep.tasks.classification import (
    constant_prediction,
    featurize_text,
    load_sequence_classifier,
    predict_labels,
)
from xlsweep.tasks.outcomes import classification_outcomes, full_sample

__all__ = ["TASK", "SentimentTask", "binary_f1"]


def binary_f1(predicted: Tensor, gold: Tensor, positive: int = 1) -> float:
    """F1 of the ``positive`` class; 0 when it is never predicted and never gold (nothing to find)."""
    tp = int(((predicted == positive) & (gold == positive)).sum())
    fp = int(((predicted == positive) & (gold != positive)).sum())
    fn = int(((predicted != positive) & (gold == positive)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


class SentimentTask:
    name = "sentiment"
    metrics = ("f1", "acc")
    primary = "f1"

    def featurize(self, ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                  doc_stride: int) -> tuple[dict[str, Tensor], None]:
        return featurize_text(ds, tokenizer, ("text",), max_length=max_length), None

    def load_model(self, name_or_dir: str | Path) -> PreTrainedModel:
        return load_sequence_classifier(name_or_dir, len(SENTIMENT_LABELS))

    def evaluate(self, model: nn.Module, features: Features, references: None, *, language: str,
                 batch_size: int, device: torch.device | str,
                 diagnostics: Diagnostics | None = None, outcomes: OutcomeRows | None = None) -> dict[str, float]:
        predicted = predict_labels(model, features, batch_size=batch_size, device=device)
        if diagnostics is not None and (reason := constant_prediction(predicted, SENTIMENT_LABELS)):
            diagnostics["degenerate"] = reason
        rows = classification_outcomes("sentiment", predicted.numpy(), features["labels"].numpy())
        if outcomes is not None:
            outcomes[language] = rows
        return full_sample("sentiment", rows)


TASK = SentimentTask()
