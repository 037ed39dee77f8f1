"""Reptile's task update in float64 against a hand computation: k SGD steps written out, θ̃ − θ."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor
from transformers import BertConfig, BertForSequenceClassification

from xlsweep.algorithms.maml import input_embedding, model_loss
from xlsweep.algorithms.reptile import reptile_delta

ALPHA = 0.2
Batch = dict[str, Tensor]


def _model() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=3, attn_implementation="eager")
    torch.manual_seed(0)
    return BertForSequenceClassification(config).double().train()


def _batch(seed: int, size: int = 4) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(size, 6, dtype=torch.long)
    mask[0, -2:] = 0
    return {"input_ids": torch.randint(5, 30, (size, 6), generator=gen), "attention_mask": mask,
            "labels": torch.randint(0, 3, (size,), generator=gen)}


SUPPORT, QUERY = _batch(1), _batch(2)


def _by_hand(model: torch.nn.Module, batches: list[Batch]) -> tuple[dict[str, Tensor], list[float]]:
    """θ̃ − θ: a copy of the model, ``torch.optim.SGD`` one step per batch."""
    tuned = copy.deepcopy(model)
    opt = torch.optim.SGD(tuned.parameters(), lr=ALPHA)
    losses = []
    for batch in batches:
        opt.zero_grad()
        loss = tuned(**batch).loss
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    before = dict(model.named_parameters())
    return {n: (p - before[n]).detach() for n, p in tuned.named_parameters()}, losses


@pytest.mark.parametrize("support_steps", [1, 2])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "row-sparse"])
def test_reptile_delta_is_k_sgd_steps_on_support_then_query(support_steps: int, sparse: bool) -> None:
    model = _model()
    batches = [SUPPORT] * support_steps + [QUERY]
    want, want_losses = _by_hand(model, batches)
    embedding = input_embedding(model) if sparse else None
    got = reptile_delta(model_loss(model), dict(model.named_parameters()), batches, lr=ALPHA, embedding=embedding)
    assert set(got.delta) == set(want)
    for name, d in want.items():
        torch.testing.assert_close(got.delta[name], d, rtol=1e-10, atol=1e-13, msg=name)
    assert got.losses == pytest.approx(want_losses, rel=1e-12)
    assert want["bert.embeddings.word_embeddings.weight"].abs().sum() > 0  # the rows the batches read moved
    assert all(p.grad is None for p in model.parameters())  # the model itself is untouched


def test_reptile_delta_adapts_only_the_given_parameters() -> None:
    model = _model()
    params = {n: p for n, p in model.named_parameters() if n.startswith("classifier.")}
    got = reptile_delta(model_loss(model), params, [SUPPORT, QUERY], lr=ALPHA)
    assert set(got.delta) == {"classifier.weight", "classifier.bias"}
    # by hand: only the classifier moves
    tuned = copy.deepcopy(model)
    for batch in (SUPPORT, QUERY):
        loss = tuned(**batch).loss
        grads = torch.autograd.grad(loss, [tuned.classifier.weight, tuned.classifier.bias])
        with torch.no_grad():
            for p, g in zip((tuned.classifier.weight, tuned.classifier.bias), grads, strict=True):
                p -= ALPHA * g
    torch.testing.assert_close(got.delta["classifier.weight"], (tuned.classifier.weight - model.classifier.weight)
                               .detach(), rtol=1e-10, atol=1e-13)
