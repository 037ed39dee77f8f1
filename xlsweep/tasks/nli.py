"""NLI (XNLI; MNLI as the English source): ``[CLS] premise [SEP] hypothesis [SEP]``, 3 labels, accuracy."""

from __future__ import annotations

from pathlib import Path

import datasets
import torch
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features
from xlsweep.data.schema import NLI_LABELS
from xlsweep.tasks.base import Diagnostics, OutcomeRows
from xlsweep.tasks.classification import (
    constant_prediction,
    featurize_text,
    load_sequence_classifier,
    predict_labels,
)
from xlsweep.tasks.outcomes import classification_outcomes, full_sample

__all__ = ["TASK", "NLITask"]


class NLITask:
    name = "nli"
    metrics = ("acc",)
    primary = "acc"

    def featurize(self, ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                  doc_stride: int) -> tuple[dict[str, Tensor], None]:
        return featurize_text(ds, tokenizer, ("premise", "hypothesis"), max_length=max_length), None

    def load_model(self, name_or_dir: str | Path) -> PreTrainedModel:
        return load_sequence_classifier(name_or_dir, len(NLI_LABELS))

    def evaluate(self, model: nn.Module, features: Features, references: None, *, language: str,
                 batch_size: int, device: torch.device | str,
                 diagnostics: Diagnostics | None = None, outcomes: OutcomeRows | None = None) -> dict[str, float]:
        predicted = predict_labels(model, features, batch_size=batch_size, device=device)
        if diagnostics is not None and (reason := constant_prediction(predicted, NLI_LABELS)):
            diagnostics["degenerate"] = reason
        rows = classification_outcomes("nli", predicted.numpy(), features["labels"].numpy())
        if outcomes is not None:
            outcomes[language] = rows
        return full_sample("nli", rows)


TASK = NLITask()
