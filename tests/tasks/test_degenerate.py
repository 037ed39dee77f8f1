"""A model that learnt nothing is flagged (issue 12, point 16): one class for every row, no entity at all, one answer
for every question, or a final training loss at chance level; the scores themselves stay as they are."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import datasets
import pytest
import torch
from torch import nn

from xlsweep.data.schema import NER_TAGS, task_features
from xlsweep.models.tiny import _train_tokenizer
from xlsweep.tasks import get_task
from xlsweep.tasks.base import degenerate_loss
from xlsweep.tasks.qa import same_answer

TEXTS = ["good film", "bad bad film indeed", "great", "awful and long and dull", "fine film"]
NER_ROWS = [(["Anna", "in", "Berlinstadt"], ["B-PER", "O", "B-LOC"]), (["nothing", "here"], ["O", "O"])]


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return _train_tokenizer(TEXTS * 10 + [" ".join(t) for t, _ in NER_ROWS] * 10, vocab_size=80)


class _Constant(nn.Module):
    """The same logits for every row (and token): argmax ``index``."""

    def __init__(self, classes: int, index: int, per_token: bool = False) -> None:
        super().__init__()
        self.logits = torch.nn.functional.one_hot(torch.tensor(index), classes).float()
        self.per_token = per_token

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        shape = (*input_ids.shape, -1) if self.per_token else (input_ids.shape[0], -1)
        return SimpleNamespace(logits=self.logits.expand(*shape))


class _FirstToken(nn.Module):
    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        positive = (input_ids[:, 1] % 2 == 0).float()
        return SimpleNamespace(logits=torch.stack([1 - positive, positive], dim=1))


def _sentiment(tokenizer):  # type: ignore[no-untyped-def]
    ds = datasets.Dataset.from_dict({"id": [str(i) for i in range(5)], "text": TEXTS, "label": [1, 0, 1, 0, 0]},
                                    features=task_features("sentiment"))
    return get_task("sentiment").featurize(ds, tokenizer, max_length=16, doc_stride=0)


def test_one_class_for_every_row_is_degenerate_and_the_scores_stay_clean(tokenizer) -> None:  # type: ignore[no-untyped-def]
    features, refs = _sentiment(tokenizer)
    task = get_task("sentiment")
    diagnostics: dict[str, str] = {}
    scores = task.evaluate(_Constant(2, 1), features, refs, language="x", batch_size=2, device="cpu",
                           diagnostics=diagnostics)
    assert diagnostics == {"degenerate": "predicts 'positive' for all 5 test rows"}
    assert set(scores) == {"f1", "acc"}  # the metrics dict holds scores only
    varied: dict[str, str] = {}
    task.evaluate(_FirstToken(), features, refs, language="x", batch_size=2, device="cpu", diagnostics=varied)
    assert varied == {}


def test_no_entity_predicted_is_degenerate(tokenizer) -> None:  # type: ignore[no-untyped-def]
    task = get_task("ner")
    ds = datasets.Dataset.from_dict({"id": ["0", "1"], "tokens": [t for t, _ in NER_ROWS],
                                     "ner_tags": [[NER_TAGS.index(x) for x in tags] for _, tags in NER_ROWS]},
                                    features=task_features("ner"))
    features, refs = task.featurize(ds, tokenizer, max_length=16, doc_stride=0)
    diagnostics: dict[str, str] = {}
    scores = task.evaluate(_Constant(len(NER_TAGS), 0, per_token=True), features, refs, language="x", batch_size=2,
                           device="cpu", diagnostics=diagnostics)
    assert scores == {"f1": 0.0} and diagnostics == {"degenerate": "predicts no entity in any of 2 test sentences"}
    some: dict[str, str] = {}
    task.evaluate(_Constant(len(NER_TAGS), 1, per_token=True), features, refs, language="x", batch_size=2,
                  device="cpu", diagnostics=some)
    assert some == {}  # B-PER everywhere: wrong, but not silent


def test_one_answer_for_every_question_is_degenerate() -> None:
    assert same_answer(["", "", ""], ["a b", "c d", "e f"]) == "predicts an empty answer for all 3 test questions"
    assert same_answer(["Anna", "Anna"], ["Anna met Bob", "Bob met Anna"]) == (
        "gives the same answer 'Anna' to all 2 test questions")
    assert same_answer(["Anna", "Bob"], ["c1", "c2"]) is None
    assert same_answer(["Anna", "Anna"], ["same context", "same context"]) is None  # may well be right


@pytest.mark.parametrize(("task", "loss", "flagged"), [
    ("nli", 1.1065, True),  # the smoke config's stage 1: ln 3 = 1.0986
    ("nli", 0.9 * math.log(3), False),
    ("sentiment", 0.70, True),
    ("ner", 0.3, False),
    ("qa", 9.0, False),  # no fixed label set
    ("nli", math.nan, False),  # a diverged loss is reported as a failure, not as this
])
def test_a_final_loss_at_chance_level_is_degenerate(task: str, loss: float, flagged: bool) -> None:
    reason = degenerate_loss(task, loss)
    assert (reason is not None) == flagged
    if flagged:
        assert reason is not None and f"final training loss {loss:.4f} is at chance level (ln " in reason
