"""Extractive QA (MLQA; SQuAD 1.1 as the English source): start/end tagging over document windows.

Featurising cuts long contexts into overlapping windows (``max_length``,
``doc_stride``) and keeps the character offsets of context tokens; decoding
searches the best *valid* span of each example across all of its windows
(:func:`~xlsweep.tasks.qa_features.decode_spans`); EM and F1 use MLQA's
language-specific answer normalisation (:mod:`xlsweep.tasks.mlqa_metrics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import torch
from torch import Tensor, nn
from transformers import AutoModelForQuestionAnswering, PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features
from xlsweep.models.encoder import load_pretrained
from xlsweep.tasks.base import predict
from xlsweep.tasks.mlqa_metrics import mlqa_scores, normalization
from xlsweep.tasks.qa_features import decode_spans, featurize_qa

__all__ = ["TASK", "QATask"]


class QATask:
    name = "qa"
    metrics = ("em", "f1")
    primary = "f1"

    def __init__(self, *, n_best: int = 20, max_answer_length: int = 30) -> None:
        self.n_best, self.max_answer_length = n_best, max_answer_length

    def featurize(self, ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                  doc_stride: int) -> tuple[dict[str, Tensor], dict[str, Any]]:
        features = featurize_qa(ds, tokenizer, max_length=max_length, doc_stride=doc_stride)
        references = {"contexts": list(ds["context"]), "answers": [list(a["text"]) for a in ds["answers"]]}
        return features, references

    def load_model(self, name_or_dir: str | Path) -> PreTrainedModel:
        return load_pretrained(AutoModelForQuestionAnswering, name_or_dir)

    def evaluate(self, model: nn.Module, features: Features, references: dict[str, Any], *, language: str,
                 batch_size: int, device: torch.device | str) -> dict[str, float]:
        start, end = predict(model, features, lambda out: (out.start_logits, out.end_logits),
                             batch_size=batch_size, device=device, per_token=True)
        answers = decode_spans(start, end, features["offset_mapping"], features["example_index"],
                               references["contexts"], n_best=self.n_best, max_answer_length=self.max_answer_length)
        # a language the official script does not know reaches here only when the config declared it
        # whitespace-tokenised, or from the synthetic benchmark (validated by xlsweep.config.load)
        return mlqa_scores(answers, references["answers"], normalization(language))


TASK = QATask()
