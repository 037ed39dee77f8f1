"""MetaXL's bi-level step in float64: the RTN's meta-gradient against finite differences of the unrolled objective.

The objective is F(φ) = L_tgt(θ − α ∇θ L_src(θ, φ)): the target loss after one
plain SGD step on the RTN-transformed source loss. Its finite differences need
only first-order gradients, so they check the second-order path of
:func:`xlsweep.algorithms.metaxl.metaxl_loss` independently.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from transformers import BertConfig, BertForTokenClassification

from xlsweep.algorithms.maml import model_loss
from xlsweep.algorithms.metaxl import metaxl_loss
from xlsweep.models.rtn import RTN, RTNInsertion, insert_rtns

ALPHA = 0.3
Batch = dict[str, Tensor]


def _setup(layer: int) -> tuple[BertForTokenClassification, RTNInsertion]:
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=5, attn_implementation="eager")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertForTokenClassification(config).double().train()
        rtn = RTN(16, 4, init="torch").double()  # random output layer: every φ has a gradient
    return model, insert_rtns(model, {layer: rtn})


def _batch(seed: int, size: int = 3, length: int = 6) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, -2:] = 0
    labels = torch.randint(0, 5, (size, length), generator=gen)
    labels[mask == 0] = -100
    return {"input_ids": torch.randint(5, 30, (size, length), generator=gen), "attention_mask": mask,
            "labels": labels}


SOURCE, TARGET, TARGET_TRAIN = _batch(1), _batch(2), _batch(3)


def _params(model: torch.nn.Module) -> dict[str, Tensor]:
    return dict(model.named_parameters())


def _objective(model: BertForTokenClassification, insertion: RTNInsertion, with_target: bool) -> float:
    """F(φ) computed with first-order autograd only: an explicit SGD step, then the target loss."""
    params = _params(model)
    with insertion.applied():
        source_loss = model(**SOURCE).loss
    if with_target:  # the authors' step: L_src(θ, φ) + L_tgt(θ) on a training target batch
        source_loss = source_loss + model(**TARGET_TRAIN).loss
    grads = torch.autograd.grad(source_loss, tuple(params.values()))
    fast = {n: (p - ALPHA * g).detach() for (n, p), g in zip(params.items(), grads, strict=True)}
    with torch.no_grad():
        return float(torch.func.functional_call(model, fast, args=(), kwargs=TARGET).loss)


def _meta_gradient(model: BertForTokenClassification, insertion: RTNInsertion,
                   with_target: bool) -> dict[str, Tensor]:
    out = metaxl_loss(model_loss(model), _params(model), SOURCE, TARGET, virtual_lr=ALPHA,
                      transformed=insertion.applied, target_train=TARGET_TRAIN if with_target else None)
    names = [n for n, _ in insertion.rtns.named_parameters()]
    grads = torch.autograd.grad(out.target, list(insertion.parameters()))
    return dict(zip(names, grads, strict=True))


@pytest.mark.parametrize("with_target", [False, True], ids=["source-step", "source+target-step"])
@pytest.mark.parametrize("layer", [0, 1, 2])
@pytest.mark.parametrize(("name", "index"), [("down.weight", (2, 3)), ("down.bias", (0,)), ("up.weight", (5, 0)),
                                             ("up.bias", (7,))])
def test_rtn_meta_gradient_matches_finite_differences(layer: int, name: str, index: tuple[int, ...],
                                                      with_target: bool) -> None:
    model, insertion = _setup(layer)
    analytic = float(_meta_gradient(model, insertion, with_target)[f"{layer}.{name}"][index])
    param = dict(insertion.rtns.named_parameters())[f"{layer}.{name}"]
    eps, values = 1e-6, []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            param[index] += sign * eps
        values.append(_objective(model, insertion, with_target))
        with torch.no_grad():
            param[index] -= sign * eps
    numeric = (values[0] - values[1]) / (2 * eps)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-10)
    assert abs(numeric) > 1e-8  # the coordinate matters: the check is not 0 == 0


def test_source_gradient_is_the_plain_gradient_through_the_rtn_and_the_target_skips_it() -> None:
    model, insertion = _setup(1)
    out = metaxl_loss(model_loss(model), _params(model), SOURCE, TARGET, virtual_lr=0.0,
                      transformed=insertion.applied)
    with insertion.applied():
        source_loss = model(**SOURCE).loss
    plain = torch.autograd.grad(source_loss, tuple(_params(model).values()))
    for (name, _), g in zip(_params(model).items(), plain, strict=True):
        assert torch.allclose(out.source_grads[name], g, atol=1e-12), name
    assert float(out.source) == pytest.approx(float(source_loss.detach()), abs=1e-12)
    # with a zero virtual step the target loss is the plain model's: the RTN never touches target batches
    assert float(out.target.detach()) == pytest.approx(float(model(**TARGET).loss.detach()), abs=1e-12)
    grads = torch.autograd.grad(out.target, list(insertion.parameters()), allow_unused=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("with_target", [False, True])
def test_row_sparse_embeddings_give_the_dense_step(layer: int, with_target: bool) -> None:
    """The virtual step through the rows the batches read: the same losses, RTN meta-gradient and θ gradient."""
    from xlsweep.algorithms.maml import input_embedding

    model, insertion = _setup(layer)
    embedding = input_embedding(model)
    assert embedding is not None
    outs = []
    for sparse in (None, embedding):
        out = metaxl_loss(model_loss(model), _params(model), SOURCE, TARGET, virtual_lr=ALPHA,
                          transformed=insertion.applied, target_train=TARGET_TRAIN if with_target else None,
                          embedding=sparse)
        outs.append((out, torch.autograd.grad(out.target, list(insertion.parameters()))))
    (dense, dense_phi), (rows, rows_phi) = outs
    assert float(rows.target.detach()) == pytest.approx(float(dense.target.detach()), rel=1e-12)
    assert float(rows.source) == pytest.approx(float(dense.source), rel=1e-12)
    assert set(rows.source_grads) == set(dense.source_grads)
    for name, g in dense.source_grads.items():
        assert torch.allclose(rows.source_grads[name], g, rtol=1e-10, atol=1e-12), name
    for a, b in zip(rows_phi, dense_phi, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    assert dense.source_grads[embedding.name].abs().sum() > 0
