"""Hub datasets in the canonical schema, mapped by the columns they have rather than by their name.

``datasets.load_dataset(name, config, split=split)`` is mapped to the task's schema
(:mod:`xlsweep.data.schema`) from the columns it offers, so any hub copy with the usual columns works:

=========  ===========================================================================================
task       columns read
=========  ===========================================================================================
nli        ``premise``, ``hypothesis``, ``label`` (XNLI, MNLI); rows labelled -1 (no consensus) are
           dropped. The id is ``id`` if present, else ``<split>-<row index>``: the XNLI configs are
           parallel row by row, so row *i* is a translation of row *i* in every language (an XNLI
           TSV's ``pairID`` ids differ; do not mix hub and file sources of one split across languages).
qa         ``id``, ``context``, ``question``, ``answers`` {``text``, ``answer_start``} (SQuAD, MLQA).
ner        ``tokens``, ``ner_tags`` (WikiAnn); tags are mapped by their class names; the id is the row index.
sentiment  ``text`` or ``review_body``, and ``stars`` 1-5, or a 5-class ``label`` 0-4 (stars - 1, as the
           SetFit copies of MARC have it), or a binary ``label`` 0/1. A ``label`` is 5-class when its
           class names number 5, or, without class names, when a value above 1 occurs. Stars 1-2 are
           negative, 4-5 positive, 3 is dropped. The id is ``id`` or ``review_id``, else the row index.
=========  ===========================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import datasets

from xlsweep.data.schema import NER_TAGS, NLI_LABELS, DataError, check_qa_rows, task_features

__all__ = ["load_hub"]


NO_CONSENSUS = "rows labelled -1 (no consensus)"
THREE_STARS = "3-star reviews (neither negative nor positive)"


def load_hub(name: str, config: str | None, split: str, task: str, language: str, *,
             skipped: dict[str, int] | None = None) -> datasets.Dataset:
    """The hub dataset ``name`` (``config``, ``split``) as ``task``'s canonical schema, for ``language``.

    Any failure of the hub or the loader (no connection, unknown name, config or split) and any missing
    column is a :class:`DataError` naming the dataset, the split and the language. Rows dropped by the
    mapping (no consensus, 3 stars) are counted by reason into ``skipped``.
    """
    mappers = {"nli": _nli, "qa": _qa, "ner": _ner, "sentiment": _sentiment}
    task_features(task)  # an unknown task is a ValueError naming the tasks
    where = f"hub:{name}{f':{config}' if config else ''}@{split} (language {language!r})"
    try:
        raw = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # the loader raises many types; each becomes one clear DataError
        raise DataError(f"{where}: cannot be loaded ({type(err).__name__}: {err}); check the name, config and "
                        "split on the hub and the network, or point data.sources at local files") from err
    if not isinstance(raw, datasets.Dataset):
        raise DataError(f"{where}: loaded a {type(raw).__name__}; expected one split (a datasets.Dataset)")
    ds = mappers[task](raw, split, where)
    dropped = len(raw) - len(ds)
    if dropped and skipped is not None:
        reason = {"nli": NO_CONSENSUS, "sentiment": THREE_STARS}[task]
        skipped[reason] = skipped.get(reason, 0) + dropped
    return ds


def _require(ds: datasets.Dataset, columns: Sequence[str], where: str, task: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(f"{where}: has columns {ds.column_names}, missing {missing}; "
                        f"a hub {task} dataset needs {list(columns)}")


def _dataset(columns: dict[str, list[Any]], task: str) -> datasets.Dataset:
    return datasets.Dataset.from_dict(columns, features=task_features(task))


def _ids(ds: datasets.Dataset, split: str, *candidates: str) -> list[str]:
    """The first id column present, as strings, else ``<split>-<row index>``."""
    for column in candidates:
        if column in ds.column_names:
            return [str(i) for i in ds[column]]
    return [f"{split}-{i}" for i in range(len(ds))]


def _class_names(feature: Any) -> list[str] | None:
    """The names of a ``ClassLabel`` feature, or of a sequence of them; ``None`` otherwise."""
    inner = getattr(feature, "feature", feature)
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def _to_canonical(values: list[Any], names: list[str] | None, canonical: Sequence[str], column: str,
                  where: str) -> list[int]:
    """Label values as indices into ``canonical`` (mapped by class name or string); -1 stays -1."""
    lookup = {name.lower(): i for i, name in enumerate(canonical)}
    out = []
    for value in values:
        if isinstance(value, int) and names is not None and 0 <= value < len(names):
            value = names[value]  # mapped by name: the hub's class order may differ from ours
        if isinstance(value, str):
            if value.lower() not in lookup:
                raise DataError(f"{where}: {column} {value!r}; expected one of {', '.join(canonical)}")
            value = lookup[value.lower()]
        if not isinstance(value, int) or not -1 <= value < len(canonical):
            raise DataError(f"{where}: {column} {value!r}; expected 0 to {len(canonical) - 1} "
                            f"({', '.join(canonical)}) or -1 (unlabelled)")
        out.append(value)
    return out


def _nli(ds: datasets.Dataset, split: str, where: str) -> datasets.Dataset:
    _require(ds, ("premise", "hypothesis", "label"), where, "nli")
    names = _class_names(ds.features["label"])
    labels = _to_canonical(list(ds["label"]), names, NLI_LABELS, "label", where)
    ids = _ids(ds, split, "id")  # before dropping rows: XNLI's parallel rows keep equal ids
    keep = [i for i, label in enumerate(labels) if label != -1]
    premise, hypothesis = list(ds["premise"]), list(ds["hypothesis"])
    return _dataset({"id": [ids[i] for i in keep], "premise": [premise[i] for i in keep],
                     "hypothesis": [hypothesis[i] for i in keep], "label": [labels[i] for i in keep]}, "nli")


def _answers(value: Any, where: str) -> dict[str, list[Any]]:
    """SQuAD's answers as {text: [...], answer_start: [...]}, from that form or from a list of answers."""
    try:
        if isinstance(value, list):
            value = {"text": [a["text"] for a in value], "answer_start": [a["answer_start"] for a in value]}
        if not isinstance(value, dict) or not {"text", "answer_start"} <= set(value):
            raise TypeError
        starts = [s if isinstance(s, int) and not isinstance(s, bool) else int(s) for s in value["answer_start"]]
        return {"text": list(value["text"]), "answer_start": starts}
    except (TypeError, KeyError, ValueError):
        shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:197] + "..."
        raise DataError(f"{where}: answers {shown}; expected {{'text': [...], 'answer_start': [integers]}}") from None


def _qa(ds: datasets.Dataset, split: str, where: str) -> datasets.Dataset:
    _require(ds, ("id", "context", "question", "answers"), where, "qa")
    ids = _ids(ds, split, "id")
    answers = [_answers(a, f"{where}: row {i} (question id {ids[i]!r})") for i, a in enumerate(ds["answers"])]
    columns = {"id": ids, "context": list(ds["context"]), "question": list(ds["question"]), "answers": answers}
    check_qa_rows(columns, where, lambda i: f"row {i} (question id {ids[i]!r})")
    return _dataset(columns, "qa")


def _ner(ds: datasets.Dataset, split: str, where: str) -> datasets.Dataset:
    _require(ds, ("tokens", "ner_tags"), where, "ner")
    names = _class_names(ds.features["ner_tags"])
    tags = [_to_canonical(list(row), names, NER_TAGS, "ner_tags", where) for row in ds["ner_tags"]]
    return _dataset({"id": [str(i) for i in range(len(ds))], "tokens": [list(t) for t in ds["tokens"]],
                     "ner_tags": tags}, "ner")


def _stars(ds: datasets.Dataset, where: str) -> list[int]:
    """Star ratings 1-5 from ``stars``, or from a 5-class ``label`` (stars - 1); 0/1 for a binary ``label``."""
    if "stars" in ds.column_names:
        stars = [int(s) for s in ds["stars"]]
    else:
        labels = [int(v) for v in ds["label"]]
        names = _class_names(ds.features["label"])
        five = len(names) == 5 if names is not None else any(v > 1 for v in labels)
        if not five:
            bad = [v for v in labels if v not in (0, 1)]
            if bad:
                raise DataError(f"{where}: label {bad[0]!r}; expected 0 (negative) or 1 (positive)")
            return [4 if v else 2 for v in labels]  # as stars: 2 negative, 4 positive
        stars = [v + 1 for v in labels]
    bad = [s for s in stars if not 1 <= s <= 5]
    if bad:
        raise DataError(f"{where}: star rating {bad[0]!r}; expected 1 to 5 (or a 5-class label 0 to 4)")
    return stars


def _sentiment(ds: datasets.Dataset, split: str, where: str) -> datasets.Dataset:
    text_column = next((c for c in ("text", "review_body") if c in ds.column_names), None)
    label_column = next((c for c in ("stars", "label") if c in ds.column_names), None)
    if text_column is None or label_column is None:
        raise DataError(f"{where}: has columns {ds.column_names}; a hub sentiment dataset needs 'text' or "
                        "'review_body', and 'stars' (1-5) or 'label' (0/1, or 0-4 for 1-5 stars)")
    stars = _stars(ds, where)
    ids, texts = _ids(ds, split, "id", "review_id"), list(ds[text_column])
    keep = [i for i, s in enumerate(stars) if s != 3]
    return _dataset({"id": [ids[i] for i in keep], "text": [texts[i] for i in keep],
                     "label": [int(stars[i] > 3) for i in keep]}, "sentiment")
