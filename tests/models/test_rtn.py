"""The RTN and its hook insertion, on tiny BERT, XLM-R and DistilBERT built from configs (float64, eval mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    DistilBertConfig,
    DistilBertForTokenClassification,
    XLMRobertaConfig,
    XLMRobertaForTokenClassification,
)

from xlsweep.models.rtn import RTN, RTNInsertion, encoder_layers, insert_rtns, rtn_hidden_size, rtn_variant

D, R, L = 16, 4, 3  # hidden size, bottleneck, layers


HEAD: dict[str, Any] = {"num_labels": 3}
BERT: dict[str, Any] = {"vocab_size": 50, "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": 2,
                        "intermediate_size": 32}


def bert_tagger() -> nn.Module:
    return BertForTokenClassification(BertConfig(**BERT, **HEAD))


def bert_classifier() -> nn.Module:
    return BertForSequenceClassification(BertConfig(**BERT, **HEAD))


def xlmr_tagger() -> nn.Module:
    return XLMRobertaForTokenClassification(XLMRobertaConfig(**BERT, **HEAD, max_position_embeddings=40,
                                                             pad_token_id=1))


def distilbert_tagger() -> nn.Module:
    return DistilBertForTokenClassification(DistilBertConfig(vocab_size=50, dim=D, n_layers=L, n_heads=2,
                                                             hidden_dim=32, **HEAD))


ENCODERS: dict[str, Callable[[], nn.Module]] = {
    "bert": bert_tagger, "xlmr": xlmr_tagger, "distilbert": distilbert_tagger,
}


def build(make: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return make().double().eval()


def batch(labels: bool = False, seed: int = 1) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 50, (2, 7), generator=gen)  # (B, T), no pad ids
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    out = {"input_ids": ids, "attention_mask": mask}
    if labels:
        out["labels"] = torch.randint(0, 3, (2, 7), generator=gen)
    return out


def random_rtn(seed: int, **kwargs: Any) -> RTN:
    torch.manual_seed(seed)
    return RTN(D, R, init="torch", **kwargs).double()


def hidden_states(model: nn.Module, inputs: dict[str, Tensor]) -> tuple[Tensor, ...]:
    with torch.no_grad():
        return tuple(model(**inputs, output_hidden_states=True).hidden_states)


# --- the RTN itself ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 5, D), (3, D)])
@pytest.mark.parametrize("residual", [True, False])
def test_rtn_matches_the_formula(shape: tuple[int, ...], residual: bool) -> None:
    rtn = random_rtn(0, residual=residual)
    h = torch.randn(*shape, dtype=torch.float64)
    g = torch.relu(h @ rtn.down.weight.T + rtn.down.bias) @ rtn.up.weight.T + rtn.up.bias
    out = rtn(h)
    assert out.shape == h.shape
    torch.testing.assert_close(out, h + g if residual else g)


@pytest.mark.parametrize("gate", [False, True])
def test_zero_init_residual_rtn_is_the_identity(gate: bool) -> None:
    rtn = RTN(D, R, gate=gate).double()
    h = torch.randn(2, 5, D, dtype=torch.float64)
    assert torch.equal(rtn(h), h)
    assert rtn.down.weight.abs().sum() > 0  # only the output layer starts at zero


@pytest.mark.parametrize("bias", [-2.0, 0.0, 1.5])
def test_gate_scales_g_by_the_sigmoid_of_its_unit(bias: float) -> None:
    rtn = random_rtn(0, gate=True)
    assert rtn.up.out_features == D + 1
    with torch.no_grad():  # the gate's unit is the last one: make it the constant ``bias``
        rtn.up.weight[-1].zero_()
        rtn.up.bias[-1] = bias
    h = torch.randn(2, 5, D, dtype=torch.float64)
    g = torch.relu(h @ rtn.down.weight.T + rtn.down.bias) @ rtn.up.weight[:-1].T + rtn.up.bias[:-1]
    torch.testing.assert_close(rtn(h), h + torch.sigmoid(torch.tensor(bias, dtype=torch.float64)) * g)
    torch.testing.assert_close(rtn.transform(h), torch.sigmoid(torch.tensor(bias, dtype=torch.float64)) * g)


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((D, 0), {}, "bottleneck must be an integer >= 1, got 0"),
    ((D, -3), {}, "bottleneck must be an integer >= 1, got -3"),
    ((D, 2.5), {}, "bottleneck must be an integer >= 1, got 2.5"),
    ((0, R), {}, "hidden_size must be an integer >= 1, got 0"),
    ((D, R), {"residual": False}, "init='zero-output', residual=False"),
    ((D, R), {"init": "normal"}, "RTN init 'normal'; expected one of zero-output, torch, xavier"),
    ((D, R), {"residual": False, "init": "torch", "detach_input": True}, "detach_input=True, residual=False"),
])
def test_rtn_rejects_bad_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        RTN(*args, **kwargs)


def test_rtn_rejects_an_input_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match=r"hidden_size 16 got an input of shape \(2, 8\)"):
        RTN(D, R)(torch.randn(2, 8))


def test_the_paper_rtn_is_eq_1_without_a_residual_and_not_an_identity_at_init() -> None:
    torch.manual_seed(0)
    rtn = rtn_variant("paper", D, R).double()
    assert (rtn.residual, rtn.gate, rtn.detach_input) == (False, False, False)
    assert rtn.up.out_features == D and rtn.up.weight.abs().sum() > 0 and rtn.up.bias.abs().sum() > 0
    h = torch.randn(2, 5, D, dtype=torch.float64)
    g = torch.relu(h @ rtn.down.weight.T + rtn.down.bias) @ rtn.up.weight.T + rtn.up.bias  # Eq. 1
    torch.testing.assert_close(rtn(h), g)
    assert not torch.allclose(rtn(h), h)


def test_the_identity_init_rtn_is_exactly_the_identity_at_init() -> None:
    rtn = rtn_variant("identity-init", D, R).double()
    h = torch.randn(2, 5, D, dtype=torch.float64)
    assert torch.equal(rtn(h), h)
    assert (rtn.residual, rtn.gate, rtn.init) == (True, False, "zero-output")


def test_the_authors_code_rtn_follows_their_raptors_and_step_metaxl() -> None:
    """``Raptors(struct="perceptron", add_weights=True, tied=True)`` in ``step_metaxl``: ``g(h.detach()) + h``."""
    torch.manual_seed(0)
    rtn = rtn_variant("authors-code", 768, 192).double()
    assert rtn.up.out_features == 768 + 1  # the tied gate's unit
    for layer in (rtn.down, rtn.up):  # init_weights: xavier_normal_ weights, zeroed biases
        assert torch.count_nonzero(layer.bias) == 0
        fan_out, fan_in = layer.weight.shape
        assert float(layer.weight.detach().std()) == pytest.approx((2.0 / (fan_in + fan_out)) ** 0.5, rel=0.05)
    h = torch.randn(3, 4, 768, dtype=torch.float64, requires_grad=True)
    out = rtn.up(torch.relu(rtn.down(h)))
    expected = h + torch.sigmoid(out[..., -1:]) * out[..., :-1]
    torch.testing.assert_close(rtn(h), expected)
    assert not torch.allclose(rtn(h), h)  # not an identity at init
    # the input is detached inside the RTN: the gradient reaching h is the residual's, the identity
    (grad,) = torch.autograd.grad(rtn(h).sum(), h)
    assert torch.equal(grad, torch.ones_like(h))
    # while φ gets a gradient
    assert all(p.grad is None for p in rtn.parameters())
    rtn(h).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rtn.parameters())


def test_an_unknown_rtn_variant_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown RTN variant 'eq1'; expected one of identity-init, paper, "
                                         "authors-code"):
        rtn_variant("eq1", D, R)


# --- insertion ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [bert_tagger, bert_classifier, xlmr_tagger])
@pytest.mark.parametrize("gate", [False, True])
def test_zero_init_rtns_leave_the_logits_exactly_unchanged(make: Callable[[], nn.Module], gate: bool) -> None:
    model = build(make)
    inputs = batch()
    with torch.no_grad():
        before = model(**inputs).logits
        insertion = insert_rtns(model, {p: RTN(D, R, gate=gate).double() for p in range(L + 1)})
        with insertion.applied():
            during = model(**inputs).logits
    assert torch.equal(during, before)


@pytest.mark.parametrize("make", [bert_tagger, bert_classifier, xlmr_tagger])
def test_a_random_rtn_changes_the_logits_only_while_applied(make: Callable[[], nn.Module]) -> None:
    model = build(make)
    inputs = batch()
    with torch.no_grad():
        before = model(**inputs).logits
        insertion = insert_rtns(model, {1: random_rtn(0)})
        assert torch.equal(model(**inputs).logits, before)  # inserted, not applied: a target-language batch
        with insertion.applied():
            assert insertion.active
            during = model(**inputs).logits
        assert not insertion.active
        after = model(**inputs).logits
    assert not torch.allclose(during, before)
    assert torch.equal(after, before)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("position", range(L + 1))
@pytest.mark.parametrize("capture_hooks_first", [False, True])
def test_an_rtn_at_i_transforms_hidden_state_i_and_nothing_before(
    name: str, position: int, capture_hooks_first: bool
) -> None:
    # transformers 5 records hidden_states with forward hooks on the layers, installed lazily on the first
    # output_hidden_states=True call; the RTN's hooks run first either way, so hidden_states[i] is RTN(h_i).
    model = build(ENCODERS[name])
    inputs = batch()
    if capture_hooks_first:
        hidden_states(model, inputs)
    rtn = random_rtn(position)
    insertion = insert_rtns(model, {position: rtn})
    with insertion.applied():
        moved = hidden_states(model, inputs)
    plain = hidden_states(model, inputs)
    assert len(moved) == len(plain) == L + 1
    for j in range(position):
        assert torch.equal(moved[j], plain[j]), f"hidden_states[{j}] changed by an RTN at {position}"
    with torch.no_grad():
        assert torch.equal(moved[position], rtn(plain[position]))
    for j in range(position, L + 1):
        assert not torch.allclose(moved[j], plain[j]), f"hidden_states[{j}] unchanged by an RTN at {position}"


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_several_rtns_each_transform_their_own_layer_output(name: str) -> None:
    model = build(ENCODERS[name])
    inputs = batch()
    rtns = {0: random_rtn(10), 2: random_rtn(12), L: random_rtn(13)}
    insertion = insert_rtns(model, rtns)
    _, layers = encoder_layers(model)
    raw: dict[int, Tensor] = {}  # the layers' own outputs, caught before the RTN's hooks (prepended after them)
    handles = [layers[i - 1].register_forward_hook(lambda m, a, out, i=i: raw.__setitem__(i, out), prepend=True)
               for i in (2, L)]
    with insertion.applied():
        moved = hidden_states(model, inputs)
    for handle in handles:
        handle.remove()
    plain = hidden_states(model, inputs)
    with torch.no_grad():
        assert torch.equal(moved[0], rtns[0](plain[0]))
        assert torch.equal(moved[2], rtns[2](raw[2]))
        assert torch.equal(moved[L], rtns[L](raw[L]))
        assert not torch.allclose(raw[2], plain[2])  # the input of layer 1 was transformed at position 0
    singles = []
    for position, rtn in rtns.items():
        one = insert_rtns(model, {position: rtn})
        with one.applied():
            singles.append(hidden_states(model, inputs)[-1])
        one.remove()
    assert all(not torch.allclose(moved[-1], single) for single in singles)


def test_remove_restores_the_plain_model() -> None:
    model = build(bert_tagger)
    inputs = batch()
    embeddings, layers = encoder_layers(model)
    hooks_before = [len(m._forward_hooks) for m in (embeddings, *layers)]
    with torch.no_grad():
        before = model(**inputs).logits
    insertion = insert_rtns(model, {0: random_rtn(0), 2: random_rtn(1)})
    insertion.remove()
    insertion.remove()  # idempotent
    assert [len(m._forward_hooks) for m in (embeddings, *layers)] == hooks_before
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, before)
    with pytest.raises(RuntimeError, match="removed"), insertion.applied():
        pass


def test_the_rtns_are_not_part_of_the_model_and_can_be_checkpointed() -> None:
    model = build(bert_tagger)
    names = set(model.state_dict())
    rtns = {1: random_rtn(0, gate=True), 3: random_rtn(1)}
    insertion = insert_rtns(model, rtns)
    assert set(model.state_dict()) == names
    assert set(insertion.rtns) == {"1", "3"}
    assert {id(p) for p in insertion.parameters()} == {id(p) for r in rtns.values() for p in r.parameters()}
    assert set(insertion.rtns.state_dict()) == {f"{p}.{layer}.{kind}" for p in (1, 3) for layer in ("down", "up")
                                                for kind in ("weight", "bias")}
    assert rtn_hidden_size(model) == D


def test_applied_nests_and_restores_on_error() -> None:
    insertion = insert_rtns(build(bert_tagger), {1: random_rtn(0)})
    with pytest.raises(KeyError), insertion.applied():
        with insertion.applied():
            pass
        assert insertion.active
        raise KeyError("boom")
    assert not insertion.active


@pytest.mark.parametrize("position", [-1, L + 1, 1.0, True, "1"])
def test_bad_positions_name_the_index_and_the_range(position: Any) -> None:
    with pytest.raises(ValueError, match=rf"invalid RTN position {position!r}.*3 layers.*0\.\.3"):
        insert_rtns(build(bert_tagger), {position: RTN(D, R)})


def test_insert_rejects_a_wrong_hidden_size_and_an_empty_mapping() -> None:
    model = build(bert_tagger)
    with pytest.raises(ValueError, match="hidden_size 8, but the BertForTokenClassification has hidden_size 16"):
        insert_rtns(model, {1: RTN(8, R)})
    with pytest.raises(ValueError, match="no RTNs"):
        insert_rtns(model, {})


def test_encoder_layers_finds_the_layers_or_says_what_it_expected() -> None:
    for make, count in [(bert_tagger, L), (xlmr_tagger, L), (distilbert_tagger, L)]:
        embeddings, layers = encoder_layers(build(make))
        assert len(layers) == count and isinstance(embeddings, nn.Module)
    with pytest.raises(ValueError, match=r"a Linear: expected an HF encoder with base_model\.embeddings"):
        encoder_layers(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="a Linear has no config.hidden_size"):
        rtn_hidden_size(nn.Linear(2, 2))


@pytest.mark.parametrize("output", ["tensor", "tuple"])
def test_a_layer_returning_a_tuple_is_handled(output: str) -> None:
    # transformers 5 layers return a Tensor; older versions returned (hidden_states, ...).
    class Layer(nn.Module):
        def forward(self, h: Tensor) -> Any:
            return h * 2 if output == "tensor" else (h * 2, "extra")

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.Identity()
            self.encoder = nn.Module()
            self.encoder.layer = nn.ModuleList([Layer()])

        def forward(self, h: Tensor) -> Any:
            out = cast(nn.ModuleList, self.encoder.layer)[0](self.embeddings(h))
            return out if output == "tensor" else out[0]

    model, rtn = Stack(), random_rtn(0)
    insertion = insert_rtns(model, {1: rtn})
    h = torch.randn(2, 3, D, dtype=torch.float64)
    with torch.no_grad(), insertion.applied():
        assert torch.equal(model(h), rtn(h * 2))


# --- autograd: functional_call and second order -------------------------------------------------------------------


def test_gradients_reach_the_rtn_through_functional_call() -> None:
    model = build(bert_tagger)
    inputs = batch(labels=True)
    rtns = {0: RTN(D, R).double(), 2: random_rtn(1, gate=True)}
    insertion = insert_rtns(model, rtns)
    params: dict[str, Tensor] = {n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()}
    with insertion.applied():
        loss = functional_call(model, params, args=(), kwargs=inputs).loss
    rtn_params = dict(insertion.rtns.named_parameters())
    grads = dict(zip(rtn_params, torch.autograd.grad(loss, list(rtn_params.values())), strict=True))
    for name in ("0.up.weight", "0.up.bias", "2.down.weight", "2.down.bias", "2.up.weight", "2.up.bias"):
        assert grads[name].abs().sum() > 0, name
    # zero-initialised output layer: nothing flows back into the input layer yet (d g / d W1 = W2 · ... = 0)
    assert grads["0.down.weight"].abs().sum() == 0
    with torch.no_grad(), insertion.applied():  # the substituted values are the model's own: the same loss
        assert torch.equal(loss, model(**inputs).loss)


def metaxl_meta_loss(model: nn.Module, insertion: RTNInsertion, source: dict[str, Tensor], target: dict[str, Tensor],
                     lr: float) -> Tensor:
    """One MetaXL step: an SGD step on the source loss (through the RTN), then the target loss (without)."""
    params: dict[str, Tensor] = dict(model.named_parameters())
    with insertion.applied():
        source_loss = functional_call(model, params, args=(), kwargs=source).loss
    grads = torch.autograd.grad(source_loss, list(params.values()), create_graph=True)
    adapted = {n: p - lr * g for (n, p), g in zip(params.items(), grads, strict=True)}
    return functional_call(model, adapted, args=(), kwargs=target).loss


def test_second_order_meta_gradient_of_the_rtn_matches_finite_differences() -> None:
    model = build(bert_tagger)
    rtn = random_rtn(3, gate=True)
    insertion = insert_rtns(model, {2: rtn})
    source, target = batch(labels=True, seed=1), batch(labels=True, seed=2)
    lr = 0.5
    with sdpa_kernel(SDPBackend.MATH):  # the math kernel has a double backward
        meta_loss = metaxl_meta_loss(model, insertion, source, target, lr)
        meta_grads = torch.autograd.grad(meta_loss, list(insertion.parameters()))
        assert all(g.abs().sum() > 0 for g in meta_grads)
        # the meta-gradient along a random direction v, against (f(φ + εv) - f(φ - εv)) / 2ε
        gen = torch.Generator().manual_seed(4)
        direction = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in insertion.parameters()]
        eps = 1e-5

        def shifted(sign: float) -> float:
            with torch.no_grad():
                for p, v in zip(insertion.parameters(), direction, strict=True):
                    p.add_(sign * eps * v)
            value = metaxl_meta_loss(model, insertion, source, target, lr).item()
            with torch.no_grad():
                for p, v in zip(insertion.parameters(), direction, strict=True):
                    p.sub_(sign * eps * v)
            return value

        numeric = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    analytic = torch.stack([(g * v).sum() for g, v in zip(meta_grads, direction, strict=True)]).sum()
    assert abs(numeric) > 1e-6
    assert analytic.item() == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_double_backward_through_the_rtn_runs() -> None:
    model = build(xlmr_tagger)
    rtn = random_rtn(5)
    insertion = insert_rtns(model, {0: rtn, L: RTN(D, R).double()})
    params: dict[str, Tensor] = dict(model.named_parameters())
    with sdpa_kernel(SDPBackend.MATH), insertion.applied():
        loss = functional_call(model, params, args=(), kwargs=batch(labels=True)).loss
        first = torch.autograd.grad(loss, list(insertion.parameters()), create_graph=True)
        penalty = torch.stack([(g**2).sum() for g in first]).sum()  # a gradient of a gradient
        second = torch.autograd.grad(penalty, list(rtn.parameters()))
    assert all(torch.isfinite(g).all() for g in second)
    assert any(g.abs().sum() > 0 for g in second)
