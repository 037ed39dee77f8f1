"""NER (WikiAnn): token classification with IOB tags, entity-level F1 via seqeval.

Words are split into sub-tokens; a word's tag is learnt and predicted at its first
sub-token (the others get the ignore label -100). Scoring compares whole gold tag
sequences (kept as references) with the predicted ones: words cut off by
``max_length`` are predicted ``O``, so truncation costs recall instead of
silently shrinking the test set.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import torch
from seqeval.metrics import f1_score
from torch import Tensor, nn
from transformers import AutoModelForTokenClassification, PreTrainedModel, PreTrainedTokenizerBase

from xlsweep.data.features import Features, example_ids
from xlsweep.data.schema import NER_TAGS
from xlsweep.models.encoder import load_pretrained
from xlsweep.tasks.base import Diagnostics, OutcomeRows, predict
from xlsweep.tasks.outcomes import full_sample, ner_outcomes

__all__ = ["TASK", "NERTask", "entity_f1"]

IGNORE = -100


def entity_f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    """Entity-level F1 (seqeval, CoNLL evaluation rules) over sentences of IOB tags."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    return float(f1_score(gold, predicted, zero_division=0))


class NERTask:
    name = "ner"
    metrics = ("f1",)
    primary = "f1"

    def featurize(self, ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                  doc_stride: int) -> tuple[dict[str, Tensor], list[list[str]]]:
        if not tokenizer.is_fast:
            raise ValueError(f"NER needs a fast tokenizer (word ids of sub-tokens); got {type(tokenizer).__name__}")
        tokens, tags = [list(t) for t in ds["tokens"]], [list(t) for t in ds["ner_tags"]]
        enc = tokenizer(tokens, is_split_into_words=True, padding="longest", truncation=True,
                        max_length=max_length, return_tensors="pt", return_token_type_ids=True)
        labels = torch.full_like(enc["input_ids"], IGNORE)  # (N, T)
        word_index = torch.full_like(enc["input_ids"], -1)  # (N, T): the word a first sub-token starts
        for row, row_tags in enumerate(tags):
            previous = None
            for position, word in enumerate(enc.word_ids(row)):
                if word is not None and word != previous:
                    labels[row, position] = row_tags[word]
                    word_index[row, position] = word
                previous = word
        features = {
            "input_ids": enc["input_ids"],  # (N, T)
            "attention_mask": enc["attention_mask"],  # (N, T)
            "token_type_ids": enc["token_type_ids"],  # (N, T)
            "labels": labels,  # (N, T)
            "example_id": example_ids(list(ds["id"])),  # (N,)
            "word_index": word_index,  # (N, T)
        }
        references = [[NER_TAGS[t] for t in row_tags] for row_tags in tags]
        return features, references

    def load_model(self, name_or_dir: str | Path) -> PreTrainedModel:
        return load_pretrained(AutoModelForTokenClassification, name_or_dir, num_labels=len(NER_TAGS))

    def evaluate(self, model: nn.Module, features: Features, references: list[list[str]], *, language: str,
                 batch_size: int, device: torch.device | str,
                 diagnostics: Diagnostics | None = None, outcomes: OutcomeRows | None = None) -> dict[str, float]:
        (logits,) = predict(model, features, lambda out: out.logits, batch_size=batch_size, device=device,
                            per_token=True)
        tag_ids = logits.argmax(-1)  # (N, T)
        predicted = []
        for row, gold in enumerate(references):
            tags = ["O"] * len(gold)
            starts = features["word_index"][row]
            for position in torch.nonzero(starts >= 0).flatten().tolist():
                tags[int(starts[position])] = NER_TAGS[int(tag_ids[row, position])]
            predicted.append(tags)
        if diagnostics is not None and all(t == "O" for row in predicted for t in row) and any(
                t != "O" for row in references for t in row):
            diagnostics["degenerate"] = f"predicts no entity in any of {len(predicted)} test sentences"
        rows = ner_outcomes(references, predicted)
        if outcomes is not None:
            outcomes[language] = rows
        return full_sample("ner", rows)


TASK = NERTask()
