"""Per-example test outcomes, and each task's corpus metric recomputed from any resample of them.

A model's test score is a *corpus* metric: accuracy, the positive class's F1, entity-level
F1, the mean of per-question EM / F1. Each is a function of per-example counts summed over the
test set, so one row of counts per test example (the **outcomes**, same order as the test
split) is enough to recompute the metric on any resample of the examples — what the paired
bootstrap of :mod:`xlsweep.report.bootstrap` does. The columns per task:

* ``nli`` — ``correct`` (1 or 0);
* ``sentiment`` — ``tp``, ``fp``, ``fn`` of the positive class, and ``correct``;
* ``ner`` — per sentence ``tp`` (entities predicted exactly), ``n_pred``, ``n_gold``
  (seqeval's CoNLL entity extraction, sentence by sentence: entities never cross sentences);
* ``qa`` — per question the best ``em`` and ``f1`` against its gold answers.

:func:`corpus_metrics` turns column totals into the task's metrics; the tasks' ``evaluate``
computes its reported scores with it from the full sample, so a resample of every example
once gives back the reported score exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

__all__ = ["COLUMNS", "OUTCOMES_FILE", "Outcomes", "classification_outcomes", "corpus_metrics", "full_sample",
           "ner_outcomes", "qa_outcomes", "read_outcomes", "write_outcomes"]

COLUMNS: Mapping[str, tuple[str, ...]] = {
    "nli": ("correct",),
    "sentiment": ("tp", "fp", "fn", "correct"),
    "ner": ("tp", "n_pred", "n_gold"),
    "qa": ("em", "f1"),
}
"""Task -> the outcome columns of one test example."""

OUTCOMES_FILE = "test_outcomes.npz"
"""A trial's artifact: its per-example outcomes and its stage-1 baseline's, per target language."""


def corpus_metrics(task: str, totals: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The task's metrics from outcome column totals over ``n`` examples (any leading shape: one per resample).

    Args:
        task: ``nli``, ``sentiment``, ``ner`` or ``qa``.
        totals: ``(..., k)`` sums of the task's :data:`COLUMNS` over the (resampled) examples.
        n: The number of examples summed (a resample has as many as the test split).

    Returns:
        Metric name -> ``(...)`` array, as fractions (the names ``evaluate`` reports).
    """
    t = np.asarray(totals, dtype=np.float64)
    if task not in COLUMNS or t.shape[-1] != len(COLUMNS[task]):
        raise ValueError(f"outcome totals of shape {t.shape} for task {task!r}: expected a last axis of the "
                         f"columns {dict(COLUMNS)}")
    if task in ("nli", "qa"):
        return {name: t[..., i] / n for i, name in enumerate(("acc",) if task == "nli" else ("em", "f1"))}
    if task == "sentiment":
        tp, fp, fn, correct = (t[..., i] for i in range(4))
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        return {"f1": f1, "acc": correct / n}
    tp, n_pred, n_gold = (t[..., i] for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):  # seqeval's micro average, zero_division=0
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(n_gold > 0, tp / n_gold, 0.0)
        denominator = 1 * precision + recall
        f1 = (1 + 1) * precision * recall / np.where(denominator == 0, 1.0, denominator)
    return {"f1": f1}


def full_sample(task: str, outcomes: np.ndarray) -> dict[str, float]:
    """The task's metrics over every example once: what ``evaluate`` reports."""
    rows = np.asarray(outcomes, dtype=np.float64)
    if rows.ndim != 2 or not len(rows):
        raise ValueError(f"outcomes of shape {rows.shape}: expected (examples ≥ 1, columns)")
    return {name: float(value) for name, value in corpus_metrics(task, _sum(rows), len(rows)).items()}


def _sum(rows: np.ndarray) -> np.ndarray:
    """Column sums in example order (``math.fsum``-exact for the integer columns; sequential for the rest)."""
    return np.add.reduce(rows, axis=0) if rows.dtype.kind in "iu" else np.cumsum(rows, axis=0)[-1]


def classification_outcomes(task: str, predicted: Sequence[int] | np.ndarray, gold: Sequence[int] | np.ndarray,
                            positive: int = 1) -> np.ndarray:
    """``(N, k)`` outcomes of a classification task (``nli``: correct; ``sentiment``: tp, fp, fn, correct)."""
    p, g = np.asarray(predicted).astype(np.int64), np.asarray(gold).astype(np.int64)
    correct = (p == g).astype(np.int64)
    if task == "nli":
        return correct[:, None]
    tp = (p == positive) & (g == positive)
    fp = (p == positive) & (g != positive)
    fn = (p != positive) & (g == positive)
    return np.stack([tp, fp, fn, correct.astype(bool)], axis=1).astype(np.int64)


def ner_outcomes(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> np.ndarray:
    """``(N, 3)`` per sentence: entities predicted exactly (type, start, end), predicted, gold."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    rows = []
    for g, p in zip(gold, predicted, strict=True):
        true, pred = set(get_entities(list(g))), set(get_entities(list(p)))
        rows.append((len(true & pred), len(pred), len(true)))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def qa_outcomes(em: Sequence[float], f1: Sequence[float]) -> np.ndarray:
    """``(N, 2)`` per question: its best EM and F1."""
    return np.stack([np.asarray(em, dtype=np.float64), np.asarray(f1, dtype=np.float64)], axis=1)


@dataclass(frozen=True)
class Outcomes:
    """What :data:`OUTCOMES_FILE` holds: the task, and per target language the trial's and the baseline's rows."""

    task: str
    trial: Mapping[str, np.ndarray]
    baseline: Mapping[str, np.ndarray]


def write_outcomes(path: str | Path, outcomes: Outcomes) -> Path:
    """Write ``outcomes`` as a compressed ``.npz`` (integers as the smallest type that holds them)."""
    arrays: dict[str, np.ndarray] = {"task": np.asarray(outcomes.task)}
    for side, per in (("trial", outcomes.trial), ("baseline", outcomes.baseline)):
        for lang, rows in per.items():
            arrays[f"{side}/{lang}"] = _compact(np.asarray(rows))
    out = Path(path)
    with out.open("wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    return out


def read_outcomes(path: str | Path) -> Outcomes:
    """The :class:`Outcomes` in ``path``; ``ValueError`` naming the file if it is not such a file."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            task = str(data["task"])
            per: dict[str, dict[str, np.ndarray]] = {"trial": {}, "baseline": {}}
            for key in data.files:
                side, _, lang = key.partition("/")
                if side in per and lang:
                    per[side][lang] = np.asarray(data[key])
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{path}: not a test-outcomes file ({err})") from None
    if task not in COLUMNS:
        raise ValueError(f"{path}: unknown task {task!r}; expected one of {', '.join(COLUMNS)}")
    return Outcomes(task, per["trial"], per["baseline"])


def _compact(rows: np.ndarray) -> np.ndarray:
    if rows.dtype.kind in "iub" and (not rows.size or (rows.min() >= 0 and rows.max() < 2**16)):
        return rows.astype(np.uint8 if not rows.size or rows.max() < 256 else np.uint16)
    return rows
