"""Tests for :mod:`xlsweep.algorithms.maml` and :mod:`xlsweep.algorithms.maml_higher`, in float64.

The two backends must give the same meta-gradients; first-order MAML must equal a
hand-written "SGD step, then query gradient"; second-order MAML must match finite
differences of L_q(θ - α ∇L_s(θ)).

The model uses eager attention: PyTorch's CPU flash-attention kernel (the ``sdpa``
default) has no double backward, which second-order MAML needs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest
import torch
from torch import Tensor, nn
from transformers import BertConfig, BertForSequenceClassification

from xlsweep.algorithms import adapted_parameters, higher_maml_loss, inner_adapt, maml_loss, model_loss

INNER_LR = 0.5
SUBSET = ("classifier", "encoder.layer.0.output")
Batch = dict[str, Tensor]
Grads = dict[str, Tensor]


def _tiny_bert() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=3, attn_implementation="eager")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
    return model.double().train()


def _batch(seed: int, size: int = 4, length: int = 6) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, -2:] = 0  # one padded row, so the attention mask matters
    return {
        "input_ids": torch.randint(5, 30, (size, length), generator=gen),
        "attention_mask": mask,
        "token_type_ids": torch.cat([torch.zeros(size, 3), torch.ones(size, length - 3)], dim=1).long(),
        "labels": torch.randint(0, 3, (size,), generator=gen),
    }


@pytest.fixture
def model() -> BertForSequenceClassification:
    return _tiny_bert()


@pytest.fixture(scope="module")
def support() -> Batch:
    return _batch(1)


@pytest.fixture(scope="module")
def query() -> Batch:
    return _batch(2)


def _meta_grads(model: nn.Module, backend: str, patterns: Sequence[str], support: Batch, query: Batch,
                *, steps: int, first_order: bool) -> Grads:
    """Meta-gradients of every model parameter from one backend (grads zeroed first)."""
    model.zero_grad(set_to_none=True)
    params = adapted_parameters(model, patterns)
    kwargs = {"inner_lr": INNER_LR, "inner_steps": steps, "first_order": first_order}
    if backend == "functional":
        loss = maml_loss(model_loss(model), params, support, query, **kwargs)  # type: ignore[arg-type]
    else:
        loss = higher_maml_loss(model, params, support, query, **kwargs)  # type: ignore[arg-type]
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def _first_order_by_hand(model: nn.Module, patterns: Sequence[str], support: Batch, query: Batch,
                         *, steps: int) -> Grads:
    """Copy the model, take ``steps`` plain SGD steps on the adapted parameters, return the query gradients."""
    clone = copy.deepcopy(model)
    adapted = [p for name, p in clone.named_parameters() if not patterns or any(pat in name for pat in patterns)]
    for _ in range(steps):
        grads = torch.autograd.grad(clone(**support).loss, adapted)
        with torch.no_grad():
            for p, g in zip(adapted, grads, strict=True):
                p -= INNER_LR * g
    names = [name for name, _ in clone.named_parameters()]
    grads = torch.autograd.grad(clone(**query).loss, list(clone.parameters()))
    return dict(zip(names, grads, strict=True))


def _second_order_objective(model: nn.Module, support: Batch, query: Batch) -> Tensor:
    """L_q(θ - α ∇L_s(θ)) for one SGD step on all parameters, computed on a copy without autograd graphs kept."""
    clone = copy.deepcopy(model)
    params = list(clone.parameters())
    grads = torch.autograd.grad(clone(**support).loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= INNER_LR * g
        return clone(**query).loss


def _assert_grads_close(actual: Grads, expected: Grads, *, rtol: float, atol: float) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=rtol, atol=atol, msg=name)


def _relative_difference(a: Grads, b: Grads) -> float:
    diff = torch.sqrt(sum(((a[n] - b[n]) ** 2).sum() for n in a))  # type: ignore[arg-type]
    norm = torch.sqrt(sum((b[n] ** 2).sum() for n in b))  # type: ignore[arg-type]
    return float(diff / norm)


# ----------------------------------------------------------------- backends agree
@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("patterns", [(), SUBSET], ids=["all", "subset"])
def test_functional_and_higher_backends_give_the_same_meta_gradient(
    model: BertForSequenceClassification, support: Batch, query: Batch,
    first_order: bool, steps: int, patterns: tuple[str, ...],
) -> None:
    functional = _meta_grads(model, "functional", patterns, support, query, steps=steps, first_order=first_order)
    higher = _meta_grads(model, "higher", patterns, support, query, steps=steps, first_order=first_order)
    assert set(functional) == {name for name, _ in model.named_parameters()}  # every parameter gets a gradient
    _assert_grads_close(functional, higher, rtol=1e-8, atol=1e-10)
    assert _relative_difference(functional, higher) < 1e-8


def test_meta_loss_equals_query_loss_after_inner_adaptation(
    model: BertForSequenceClassification, support: Batch, query: Batch
) -> None:
    loss_fn = model_loss(model)
    params = adapted_parameters(model)
    meta = maml_loss(loss_fn, params, support, query, inner_lr=INNER_LR, inner_steps=1, first_order=True)
    by_hand = _second_order_objective(model, support, query)
    higher = higher_maml_loss(model, params, support, query, inner_lr=INNER_LR, inner_steps=1, first_order=True)
    assert meta.item() == pytest.approx(by_hand.item(), rel=1e-12)
    assert higher.item() == pytest.approx(by_hand.item(), rel=1e-12)
    assert meta.item() != pytest.approx(model(**query).loss.item(), rel=1e-3)  # adaptation changed the loss


def test_inner_adapt_with_zero_steps_returns_the_parameters(model: BertForSequenceClassification,
                                                            support: Batch) -> None:
    params = adapted_parameters(model, SUBSET)
    assert inner_adapt(model_loss(model), params, support, lr=INNER_LR, steps=0, first_order=False) == params


# ----------------------------------------------------------------- first order by hand
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("patterns", [(), SUBSET], ids=["all", "subset"])
def test_first_order_equals_sgd_step_then_query_gradient(
    model: BertForSequenceClassification, support: Batch, query: Batch, steps: int, patterns: tuple[str, ...]
) -> None:
    meta = _meta_grads(model, "functional", patterns, support, query, steps=steps, first_order=True)
    expected = _first_order_by_hand(model, patterns, support, query, steps=steps)
    _assert_grads_close(meta, expected, rtol=1e-10, atol=1e-12)


def test_first_order_gradient_of_frozen_parameters_is_their_query_gradient_at_the_adapted_point(
    model: BertForSequenceClassification, support: Batch, query: Batch
) -> None:
    meta = _meta_grads(model, "functional", SUBSET, support, query, steps=1, first_order=True)
    expected = _first_order_by_hand(model, SUBSET, support, query, steps=1)
    frozen = [name for name in expected if not any(pat in name for pat in SUBSET)]
    assert "bert.embeddings.word_embeddings.weight" in frozen
    at_start = dict(zip(expected, torch.autograd.grad(model(**query).loss, list(model.parameters())), strict=True))
    for name in frozen:
        torch.testing.assert_close(meta[name], expected[name], rtol=1e-10, atol=1e-12, msg=name)
    # ... and not the query gradient at the initial point: the adapted parameters moved.
    assert _relative_difference({n: meta[n] for n in frozen}, {n: at_start[n] for n in frozen}) > 1e-3


# ----------------------------------------------------------------- second order
@pytest.mark.parametrize("patterns", [(), SUBSET], ids=["all", "subset"])
def test_second_order_differs_from_first_order(
    model: BertForSequenceClassification, support: Batch, query: Batch, patterns: tuple[str, ...]
) -> None:
    second = _meta_grads(model, "functional", patterns, support, query, steps=1, first_order=False)
    first = _meta_grads(model, "functional", patterns, support, query, steps=1, first_order=True)
    assert _relative_difference(second, first) > 1e-2


@pytest.mark.parametrize("coordinate", [(0, 0), (1, 5), (2, 11)])
def test_second_order_matches_finite_differences(
    model: BertForSequenceClassification, support: Batch, query: Batch, coordinate: tuple[int, int]
) -> None:
    meta = _meta_grads(model, "functional", (), support, query, steps=1, first_order=False)
    first = _meta_grads(model, "functional", (), support, query, steps=1, first_order=True)
    eps = 1e-6
    values = []
    for sign in (1.0, -1.0):
        shifted = copy.deepcopy(model)
        with torch.no_grad():
            shifted.classifier.weight[coordinate] += sign * eps
        values.append(_second_order_objective(shifted, support, query).item())
    numeric = (values[0] - values[1]) / (2 * eps)
    analytic = meta["classifier.weight"][coordinate].item()
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    assert first["classifier.weight"][coordinate].item() != pytest.approx(numeric, rel=1e-3)


# ----------------------------------------------------------------- adapted parameters
def test_adapted_parameters_selects_by_regex(model: BertForSequenceClassification) -> None:
    params = adapted_parameters(model, SUBSET)
    assert sorted(params) == [
        "bert.encoder.layer.0.output.LayerNorm.bias",
        "bert.encoder.layer.0.output.LayerNorm.weight",
        "bert.encoder.layer.0.output.dense.bias",
        "bert.encoder.layer.0.output.dense.weight",
        "classifier.bias",
        "classifier.weight",
    ]
    assert params["classifier.weight"] is model.classifier.weight


def test_adapted_parameters_empty_patterns_means_all_trainable(model: BertForSequenceClassification) -> None:
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    params = adapted_parameters(model)
    assert "bert.embeddings.word_embeddings.weight" not in params
    assert len(params) == len(list(model.parameters())) - 1


def test_adapted_parameters_without_match_raises_naming_the_pattern(model: BertForSequenceClassification) -> None:
    with pytest.raises(ValueError, match=r"no parameter name matches \['nomatch'\]"):
        adapted_parameters(model, ["nomatch"])


def test_default_dtype_is_not_changed() -> None:
    assert torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize("backend", ["functional", "higher"])
def test_second_order_works_with_the_default_sdpa_attention_and_no_dropout(backend: str) -> None:
    """Fused SDPA kernels have no double backward; the MAML losses must route around them."""
    from transformers import BertConfig, BertForSequenceClassification

    from xlsweep.algorithms import adapted_parameters, higher_maml_loss, maml_loss, model_loss

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=3)
    model = BertForSequenceClassification(config)  # default attention implementation (sdpa)
    batch = {"input_ids": torch.randint(0, 30, (4, 8)), "attention_mask": torch.ones(4, 8, dtype=torch.long),
             "labels": torch.tensor([0, 1, 2, 0])}
    params = adapted_parameters(model)
    if backend == "higher":
        loss = higher_maml_loss(model, params, batch, batch, inner_lr=0.1, inner_steps=1, first_order=False)
    else:
        loss = maml_loss(model_loss(model), params, batch, batch, inner_lr=0.1, inner_steps=1, first_order=False)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values())


def _tiny(kind: str) -> nn.Module:
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        XLMRobertaConfig,
        XLMRobertaForTokenClassification,
    )

    with torch.random.fork_rng():
        torch.manual_seed(0)
        if kind == "bert":
            model: nn.Module = _tiny_bert()
        elif kind == "xlm-r":  # padding-aware positions; a token head, so padded positions' outputs matter
            model = XLMRobertaForTokenClassification(XLMRobertaConfig(
                vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                max_position_embeddings=20, pad_token_id=1, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, num_labels=3, attn_implementation="eager"))
        else:
            model = DistilBertForSequenceClassification(DistilBertConfig(
                vocab_size=30, dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=16,
                dropout=0.0, attention_dropout=0.0, num_labels=3, attn_implementation="eager"))
    return model.double().train()


def _padded_batch(seed: int, kind: str) -> Batch:
    batch = _batch(seed)
    pad = 1 if kind == "xlm-r" else 0
    batch["input_ids"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, pad)  # real padding tokens
    if kind == "xlm-r":
        batch["labels"] = torch.randint(0, 3, batch["input_ids"].shape, generator=torch.Generator().manual_seed(seed))
        batch.pop("token_type_ids")
    if kind == "distilbert":
        batch.pop("token_type_ids")
    return batch


def test_models_whose_inputs_embeds_path_differs_keep_the_dense_embedding() -> None:
    from xlsweep.algorithms.maml import input_embedding

    model = _tiny("distilbert")  # transformers 5: its loss with inputs_embeds differs from the one with input_ids
    batch = _padded_batch(1, "distilbert")
    ids = batch.pop("input_ids")
    with torch.no_grad():
        by_ids = float(model(input_ids=ids, **batch).loss)
        by_embeds = float(model(inputs_embeds=model.get_input_embeddings()(ids), **batch).loss)
    assert by_ids != by_embeds
    assert input_embedding(model) is None


@pytest.mark.parametrize("kind", ["bert", "xlm-r"])
@pytest.mark.parametrize(("first_order", "steps"), [(False, 1), (True, 1), (False, 2)])
def test_row_sparse_embeddings_give_the_dense_meta_loss_and_gradient(kind: str, first_order: bool,
                                                                     steps: int) -> None:
    from xlsweep.algorithms.maml import input_embedding

    model = _tiny(kind)
    support, query = _padded_batch(1, kind), _padded_batch(2, kind)
    embedding = input_embedding(model)
    assert embedding is not None and embedding.name.endswith("word_embeddings.weight")
    assert (embedding.positions is not None) == (kind == "xlm-r")
    results = []
    for sparse in (False, True):
        model.zero_grad(set_to_none=True)
        loss = maml_loss(model_loss(model), adapted_parameters(model), support, query, inner_lr=INNER_LR,
                         inner_steps=steps, first_order=first_order, embedding=embedding if sparse else None)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                        if p.grad is not None}))
    (dense_loss, dense), (sparse_loss, sparse) = results
    assert sparse_loss == pytest.approx(float(dense_loss), rel=1e-12)
    assert set(sparse) == set(dense)
    _assert_grads_close(sparse, dense, rtol=1e-9, atol=1e-12)
    assert dense[embedding.name].abs().sum() > 0  # the embedding really is meta-learned
