"""The per-task dataset schema every loader yields (synthetic, hub or local files).

Downstream code (featurisation, episodes, metrics) sees only these columns, so a
task runs the same on the embedded synthetic benchmark and on XNLI, MLQA, WikiAnn
or a sentiment corpus. ``id`` is a string in every task; rows that are
translations of one another (parallel data such as XNLI or MLQA) share it.

=========  =================================================================
task       columns
=========  =================================================================
nli        id, premise, hypothesis, label (0 entailment, 1 neutral, 2 contradiction)
qa         id, context, question, answers {text: [str], answer_start: [int]}
ner        id, tokens [str], ner_tags [int] (indices into :data:`NER_TAGS`)
sentiment  id, text, label (0 negative, 1 positive)
=========  =================================================================
"""

from __future__ import annotations

from typing import Literal

import datasets

__all__ = [
    "DataError",
    "NER_TAGS",
    "NLI_LABELS",
    "SENTIMENT_LABELS",
    "TASKS",
    "TaskName",
    "check_columns",
    "task_features",
]

TaskName = Literal["nli", "qa", "ner", "sentiment"]
TASKS: tuple[str, ...] = ("nli", "qa", "ner", "sentiment")

NLI_LABELS = ("entailment", "neutral", "contradiction")  # XNLI's / MNLI's label ids 0, 1, 2
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")  # WikiAnn's tag ids 0..6
SENTIMENT_LABELS = ("negative", "positive")


class DataError(ValueError):
    """Data cannot be loaded as configured; the message names the file or language and what was expected."""


def task_features(task: str) -> datasets.Features:
    """The ``datasets.Features`` of a task's canonical columns."""
    string = datasets.Value("string")
    if task == "nli":
        return datasets.Features({"id": string, "premise": string, "hypothesis": string,
                                  "label": datasets.ClassLabel(names=list(NLI_LABELS))})
    if task == "qa":
        return datasets.Features({"id": string, "context": string, "question": string,
                                  "answers": {"text": datasets.Sequence(string),
                                              "answer_start": datasets.Sequence(datasets.Value("int32"))}})
    if task == "ner":
        return datasets.Features({"id": string, "tokens": datasets.Sequence(string),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(NER_TAGS)))})
    if task == "sentiment":
        return datasets.Features({"id": string, "text": string,
                                  "label": datasets.ClassLabel(names=list(SENTIMENT_LABELS))})
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def check_columns(ds: datasets.Dataset, task: str, where: str) -> None:
    """Raise one clear error when ``ds`` lacks a column of ``task``'s schema or is empty.

    ``where`` names the data (a file, or ``hub xnli/hi validation``) in the message.
    """
    expected = list(task_features(task))
    missing = [c for c in expected if c not in ds.column_names]
    if missing:
        raise DataError(f"{where}: has columns {ds.column_names}, missing {missing}; "
                         f"a {task} dataset needs {expected}")
    if len(ds) == 0:
        raise DataError(f"{where}: is empty; expected at least one {task} example")
