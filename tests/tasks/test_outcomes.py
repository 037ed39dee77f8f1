"""Per-example outcomes: the corpus metric recomputed from them equals each task's reference metric, on the
full sample exactly, and the artifact file round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from seqeval.metrics import f1_score

from xlsweep.tasks.mlqa_metrics import mlqa_scores, question_scores
from xlsweep.tasks.outcomes import (
    Outcomes,
    classification_outcomes,
    corpus_metrics,
    full_sample,
    ner_outcomes,
    qa_outcomes,
    read_outcomes,
    write_outcomes,
)
from xlsweep.tasks.sentiment import binary_f1

RNG = np.random.default_rng(7)


def test_nli_accuracy_from_outcomes_is_the_accuracy() -> None:
    predicted, gold = RNG.integers(0, 3, 501), RNG.integers(0, 3, 501)
    rows = classification_outcomes("nli", predicted, gold)
    assert rows.shape == (501, 1)
    assert full_sample("nli", rows) == {"acc": float(np.sum(predicted == gold)) / 501}


@pytest.mark.parametrize("seed", range(5))
def test_sentiment_f1_from_outcomes_is_binary_f1_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    predicted, gold = rng.integers(0, 2, 333), rng.integers(0, 2, 333)
    scores = full_sample("sentiment", classification_outcomes("sentiment", predicted, gold))
    assert scores["f1"] == binary_f1(torch.tensor(predicted), torch.tensor(gold))
    assert scores["acc"] == float(np.mean(predicted == gold))


def test_sentiment_f1_is_zero_when_the_positive_class_is_never_found() -> None:
    rows = classification_outcomes("sentiment", [0, 0, 0], [0, 1, 0])
    assert full_sample("sentiment", rows)["f1"] == 0.0


def _tags(rng: np.random.Generator, n: int) -> list[list[str]]:
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    return [[tags[i] for i in rng.integers(0, len(tags), rng.integers(1, 12))] for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_ner_f1_from_per_sentence_counts_is_seqeval_f1(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gold = _tags(rng, 80)
    noise = _tags(rng, 80)
    predicted = [[t if rng.random() < 0.7 else noise[i][j % len(noise[i])] for j, t in enumerate(sentence)]
                 for i, sentence in enumerate(gold)]
    rows = ner_outcomes(gold, predicted)
    assert full_sample("ner", rows)["f1"] == pytest.approx(f1_score(gold, predicted, zero_division=0), abs=1e-15)


def test_ner_without_entities_scores_zero() -> None:
    assert full_sample("ner", ner_outcomes([["O", "O"]], [["O", "O"]]))["f1"] == 0.0


def test_qa_means_of_per_question_scores_are_mlqa_scores_exactly() -> None:
    predictions = ["the cat", "a dog", "", "blue house", "red"]
    golds = [["cat"], ["the dog", "dog"], ["x"], ["blue houses"], ["red", "rot"]]
    em, f1 = question_scores(predictions, golds, "en")
    assert full_sample("qa", qa_outcomes(em, f1)) == mlqa_scores(predictions, golds, "en")


def test_a_resample_of_every_example_once_is_the_full_sample_and_totals_broadcast() -> None:
    rows = classification_outcomes("sentiment", RNG.integers(0, 2, 50), RNG.integers(0, 2, 50))
    counts = np.stack([np.ones(50), RNG.multinomial(50, np.full(50, 1 / 50))])  # (2 resamples, 50 examples)
    metrics = corpus_metrics("sentiment", counts @ rows, 50)
    assert metrics["f1"].shape == (2,)
    assert metrics["f1"][0] == full_sample("sentiment", rows)["f1"]


def test_wrong_columns_are_named() -> None:
    with pytest.raises(ValueError, match="'ner'"):
        corpus_metrics("ner", np.zeros(2), 3)


def test_the_file_round_trips_compactly(tmp_path: Path) -> None:
    trial = {"bel": classification_outcomes("nli", [0, 1, 2], [0, 1, 1])}
    base = {"bel": classification_outcomes("nli", [0, 0, 2], [0, 1, 1])}
    path = write_outcomes(tmp_path / "o.npz", Outcomes("nli", trial, base))
    read = read_outcomes(path)
    assert read.task == "nli" and read.trial["bel"].dtype == np.uint8
    np.testing.assert_array_equal(read.trial["bel"], trial["bel"])
    np.testing.assert_array_equal(read.baseline["bel"], base["bel"])
    (tmp_path / "bad.npz").write_text("no")
    with pytest.raises(ValueError, match="bad.npz"):
        read_outcomes(tmp_path / "bad.npz")
