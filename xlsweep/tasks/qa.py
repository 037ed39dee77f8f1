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
from xlsweep.tasks.base import Diagnostics, OutcomeRows, predict
from xlsweep.tasks.mlqa_metrics import normalization, question_scores
from xlsweep.tasks.outcomes import full_sample, qa_outcomes
from xlsweep.tasks.qa_features import decode_spans, featurize_qa

__all__ = ["TASK", "QATask", "same_answer"]


def same_answer(answers: list[str], contexts: list[str]) -> str | None:
    """QA's constant prediction: every question answered with nothing, or with one and the same text across
    different contexts (``None`` otherwise)."""
    if len(answers) < 2 or len(set(answers)) > 1 or len(set(contexts)) < 2:
        return None
    return (f"predicts an empty answer for all {len(answers)} test questions" if not answers[0].strip() else
            f"gives the same answer {answers[0][:40]!r} to all {len(answers)} test questions")


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
                 batch_size: int, device: torch.device | str,
                 diagnostics: Diagnostics | None = None, outcomes: OutcomeRows | None = None) -> dict[str, float]:
        start, end = predict(model, features, lambda out: (out.start_logits, out.end_logits),
                             batch_size=batch_size, device=device, per_token=True)
        answers = decode_spans(start, end, features["offset_mapping"], features["example_index"],
                               references["contexts"], n_best=self.n_best, max_answer_length=self.max_answer_length)
        if diagnostics is not None and (reason := same_answer(answers, references["contexts"])):
            diagnostics["degenerate"] = reason
        em, f1 = question_scores(answers, references["answers"], normalization(language))
        rows = qa_outcomes(em, f1)
        if outcomes is not None:
            outcomes[language] = rows
        return full_sample("qa", rows)


TASK = QATask()
