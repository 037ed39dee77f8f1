"""NLI and sentiment: featurisation, length-sorted prediction in input order, accuracy and binary F1."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import datasets
import pytest
import torch
from torch import nn

from xlsweep.data.schema import task_features
from xlsweep.models.tiny import _train_tokenizer
from xlsweep.tasks import get_task
from xlsweep.tasks.sentiment import binary_f1

TEXTS = ["good film", "bad bad film indeed", "great", "awful and long and dull", "fine film"]


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return _train_tokenizer(TEXTS * 10, vocab_size=80)


class _LabelFromFirstToken(nn.Module):
    """Logits that say 'positive' when a row's first word id is even: a fixed function of the input row."""

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        positive = (input_ids[:, 1] % 2 == 0).float()
        return SimpleNamespace(logits=torch.stack([1 - positive, positive], dim=1))


def test_binary_f1_hand_computed() -> None:
    gold = torch.tensor([1, 1, 0, 0, 1])
    predicted = torch.tensor([1, 0, 1, 0, 1])
    # tp 2, fp 1, fn 1 -> F1 = 4 / 6
    assert binary_f1(predicted, gold) == pytest.approx(2 / 3)
    assert binary_f1(torch.tensor([0, 0]), torch.tensor([0, 0])) == 0.0


def test_sentiment_scores_rows_in_their_own_order(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer(TEXTS)["input_ids"]
    predicted = [int(row[1] % 2 == 0) for row in ids]
    labels = [1, 0, 1, 0, 0]
    ds = datasets.Dataset.from_dict({"id": [str(i) for i in range(5)], "text": TEXTS, "label": labels},
                                    features=task_features("sentiment"))
    task = get_task("sentiment")
    features, refs = task.featurize(ds, tokenizer, max_length=16, doc_stride=0)
    assert refs is None and features["labels"].tolist() == labels
    # batch size 2 with rows of different lengths: predict sorts by length, then restores the order
    scores = task.evaluate(_LabelFromFirstToken(), features, refs, language="x", batch_size=2, device="cpu")
    expected = binary_f1(torch.tensor(predicted), torch.tensor(labels))
    assert scores == {"f1": pytest.approx(expected),
                      "acc": pytest.approx(sum(p == g for p, g in zip(predicted, labels, strict=True)) / 5)}


def test_nli_pairs_are_cls_premise_sep_hypothesis_sep(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ds = datasets.Dataset.from_dict({"id": ["a", "b"], "premise": TEXTS[:2], "hypothesis": TEXTS[2:4],
                                     "label": [0, 2]}, features=task_features("nli"))
    features, _ = get_task("nli").featurize(ds, tokenizer, max_length=32, doc_stride=0)
    first = features["input_ids"][0][features["attention_mask"][0].bool()].tolist()
    assert tokenizer.decode(first) == f"[CLS] {TEXTS[0]} [SEP] {TEXTS[2]} [SEP]"
    assert features["token_type_ids"][0].tolist().count(1) == len(tokenizer(TEXTS[2])["input_ids"]) - 1
    assert features["example_id"][0] != features["example_id"][1]


def test_unknown_task_is_named() -> None:
    with pytest.raises(ValueError, match="unknown task 'pos'; expected one of nli, qa, ner, sentiment"):
        get_task("pos")
