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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import datasets

__all__ = [
    "DataError",
    "NER_TAGS",
    "NLI_LABELS",
    "SENTIMENT_LABELS",
    "TASKS",
    "TaskName",
    "check_columns",
    "check_qa_rows",
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


def _qa_problem(context: Any, question: Any, answers: Mapping[str, Sequence[Any]]) -> str | None:
    """What is wrong with one canonical QA row, or ``None``: every answer must be ``context[start:start + len]``."""
    if not isinstance(context, str) or not context.strip():
        return "the context is empty"
    if not isinstance(question, str) or not question.strip():
        return "the question is empty"
    texts, starts = list(answers.get("text") or []), list(answers.get("answer_start") or [])
    if len(texts) != len(starts):
        return f"{len(texts)} answer texts but {len(starts)} answer_start values"
    if not texts:
        return ("no answer; extractive QA here needs at least one per question, as SQuAD 1.1 and MLQA have "
                "(SQuAD 2.0's unanswerable questions are not supported: remove them)")
    for k, (text, start) in enumerate(zip(texts, starts, strict=True)):
        if not isinstance(text, str) or not text.strip():
            return f"answer {k} has an empty text"
        shown = text if len(text) <= 40 else text[:37] + "..."
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= len(context) - len(text):
            return (f"answer {k} {shown!r} at answer_start {start!r} does not fit in the context "
                    f"({len(context)} characters)")
        found = context[start : start + len(text)]
        if found != text:
            elsewhere = context.find(text)
            hint = f"; the text occurs at {elsewhere}" if elsewhere >= 0 else "; the text is nowhere in the context"
            return (f"answer {k} {shown!r} at answer_start {start} does not match the context there "
                    f"({found[:40]!r}{hint})")
    return None


def check_qa_rows(columns: Mapping[str, Sequence[Any]], where: str,
                  locate: Callable[[int], str] | None = None) -> None:
    """Refuse canonical QA rows (id, context, question, answers) whose answers are not spans of their context.

    Every answer must satisfy ``context[answer_start:answer_start + len(text)] == text``, every
    question has at least one answer, and no context or question is empty. ``where`` names the
    file or hub source, ``locate(i)`` the ``i``-th record (default: its question id). One
    :class:`DataError` names the first bad record and how many there are.
    """
    ids = columns["id"]
    bad = [(i, problem) for i in range(len(ids))
           if (problem := _qa_problem(columns["context"][i], columns["question"][i], columns["answers"][i]))]
    if not bad:
        return
    i, problem = bad[0]
    record = locate(i) if locate else f"question id {ids[i]!r}"
    count = f"{len(bad)} questions have bad answers or contexts; the first, " if len(bad) > 1 else ""
    raise DataError(f"{where}: {count}{record}: {problem}; expected every answer to be "
                    "context[answer_start:answer_start + len(text)]")
