"""NER: first-sub-token label alignment, and entity-level F1 (seqeval) against hand-computed values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import datasets
import pytest
import torch
from torch import nn

from xlsweep.data.schema import NER_TAGS, task_features
from xlsweep.models.tiny import _train_tokenizer
from xlsweep.tasks.ner import IGNORE, TASK, entity_f1

CORPUS = ["Anna lives in Berlinstadt", "Bob works at Acme Corp", "nothing here at all"] * 20


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return _train_tokenizer(CORPUS, vocab_size=60)  # small: long words split into several sub-tokens


def _dataset(rows: list[tuple[list[str], list[str]]]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"id": [str(i) for i in range(len(rows))], "tokens": [t for t, _ in rows],
         "ner_tags": [[NER_TAGS.index(tag) for tag in tags] for _, tags in rows]},
        features=task_features("ner"))


ROWS = [
    (["Anna", "in", "Berlinstadt"], ["B-PER", "O", "B-LOC"]),
    (["Bob", "works", "here", "and", "there", "at", "Acme", "Corp"], ["B-PER", "O", "O", "O", "O", "O", "B-ORG",
                                                                     "I-ORG"]),
]


def test_entity_f1_hand_computed() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    # gold entities: PER(0-1), LOC(3), ORG(s2: 0) = 3; predicted: PER(0-1), ORG(3), ORG(s2: 0) = 3; correct: 2
    # precision 2/3, recall 2/3, F1 2/3
    assert entity_f1(gold, predicted) == pytest.approx(2 / 3)
    # a partially found entity (I- without its B-, boundary wrong) counts as wrong under the CoNLL rules
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]]) == 0.0
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        entity_f1(gold, predicted[:1])


def test_labels_sit_on_first_sub_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    features, references = TASK.featurize(_dataset(ROWS), tokenizer, max_length=32, doc_stride=0)
    assert references == [tags for _, tags in ROWS]
    for row, (words, tags) in enumerate(ROWS):
        enc = tokenizer(words, is_split_into_words=True)
        word_ids = enc.word_ids()
        assert len(word_ids) > len(words) + 2, "the fixture should split some word into several sub-tokens"
        seen = set()
        for position, word in enumerate(word_ids):
            label = int(features["labels"][row, position])
            if word is None or word in seen:
                assert label == IGNORE
            else:
                assert label == NER_TAGS.index(tags[word])
                assert int(features["word_index"][row, position]) == word
                seen.add(word)
        assert seen == set(range(len(words)))


class _Oracle(nn.Module):
    """Predicts, at every first sub-token, the gold tag stored in the features (or a corrupted one)."""

    def __init__(self, features: dict[str, torch.Tensor], corrupt: dict[tuple[int, int], str]) -> None:
        super().__init__()
        self.table = {tuple(ids.tolist()): labels for ids, labels in zip(features["input_ids"], features["labels"],
                                                                         strict=True)}
        self.corrupt = corrupt

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        logits = torch.zeros(*input_ids.shape, len(NER_TAGS))
        for b, ids in enumerate(input_ids):
            key = next(k for k in self.table if k[: len(ids)] == tuple(ids.tolist()))
            labels = self.table[key][: len(ids)]
            for t, label in enumerate(labels.tolist()):
                logits[b, t, max(label, 0)] = 1.0
        return SimpleNamespace(logits=logits)


def test_evaluate_scores_whole_sentences_and_truncation_costs_recall(tokenizer) -> None:  # type: ignore[no-untyped-def]
    features, references = TASK.featurize(_dataset(ROWS), tokenizer, max_length=32, doc_stride=0)
    perfect = TASK.evaluate(_Oracle(features, {}), features, references, language="en", batch_size=1, device="cpu")
    assert perfect == {"f1": 1.0}
    # cut the second sentence before "Acme Corp": its ORG entity is predicted O (missed), the rest is right
    enc = tokenizer(ROWS[1][0], is_split_into_words=True)
    cut = enc.word_ids().index(6)  # first sub-token of "Acme": keep [CLS] .. "at", then [SEP]
    assert len(tokenizer(ROWS[0][0], is_split_into_words=True)["input_ids"]) <= cut + 1  # row 0 stays whole
    short, refs = TASK.featurize(_dataset(ROWS), tokenizer, max_length=cut + 1, doc_stride=0)
    scores = TASK.evaluate(_Oracle(short, {}), short, refs, language="en", batch_size=2, device="cpu")
    # gold entities 4 (PER, LOC, PER, ORG); predicted 3, all correct: P 1, R 3/4, F1 6/7
    assert scores["f1"] == pytest.approx(6 / 7)
