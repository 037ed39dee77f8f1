"""MAML with a functional inner loop (``torch.func.functional_call``).

The inner loop is plain SGD on a dict of adapted parameters::

    grads = autograd.grad(loss(params, support), params)
    params = {n: p - lr * g for ...}

and the meta-loss is the query loss at the adapted parameters. Backpropagating it
gives the second-order meta-gradient (``first_order=False``) or the first-order
approximation, where the inner gradients are treated as constants.

The word-embedding matrix (120k × 768 for mBERT: most of the parameters) is adapted
through the rows the episode reads (:func:`row_sparse`): its inner gradient is zero
on every other row, so their fast weights equal the weights; the same meta-loss and
meta-gradient, without materialising a dense gradient and fast copy of the matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

__all__ = ["Batch", "InputEmbedding", "LossFn", "adapted_parameters", "double_backward_attention", "inner_adapt",
           "input_embedding", "maml_loss", "model_loss", "row_sparse"]

Batch = Mapping[str, Tensor]  # model keyword arguments, "labels" included
Params = dict[str, Tensor]
LossFn = Callable[[Params, Batch], Tensor]


def model_loss(model: nn.Module) -> LossFn:
    """``loss(params, batch)``: the model's own loss with ``params`` substituted for its parameters.

    Parameters absent from ``params`` are the module's own, so they still receive
    (meta-)gradients; only the substituted ones are adapted.
    """

    def loss(params: Params, batch: Batch) -> Tensor:
        return functional_call(model, params, args=(), kwargs=dict(batch), strict=False).loss

    return loss


def adapted_parameters(model: nn.Module, patterns: Sequence[str] = ()) -> Params:
    """The parameters the inner loop adapts: those whose name matches one of ``patterns`` (all if empty)."""
    named: Params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not patterns:
        return named
    chosen: Params = {n: p for n, p in named.items() if any(re.search(pat, n) for pat in patterns)}
    if not chosen:
        raise ValueError(f"meta.adapt: no parameter name matches {list(patterns)}; "
                         f"names look like {list(named)[:3]}")
    return chosen


@contextmanager
def double_backward_attention(first_order: bool) -> Iterator[None]:
    """Second-order MAML differentiates through gradients; fused attention kernels (flash,
    memory-efficient, and the CPU flash kernel SDPA picks when dropout is off) have no double
    backward. Inside this context SDPA uses its math kernel, which does; first order needs nothing.
    """
    with nullcontext() if first_order else sdpa_kernel(SDPBackend.MATH):
        yield


@dataclass(frozen=True)
class InputEmbedding:
    """A model's word-embedding matrix: its parameter name, padding row and how it derives positions."""

    name: str
    padding_idx: int | None
    positions: Callable[[Tensor], Tensor] | None = None  # input_ids → position_ids (RoBERTa's padding-aware ones)


ROW_SPARSE_MODELS = ("bert", "roberta", "xlm-roberta")
"""Model types whose forward with ``inputs_embeds`` equals the one with ``input_ids`` (checked in float64 by the
tests); DistilBERT's, for one, does not, and others keep the dense path."""


def input_embedding(model: nn.Module) -> InputEmbedding | None:
    """The word embeddings of an HF encoder of :data:`ROW_SPARSE_MODELS` (mBERT, XLM-R, ...), else None."""
    if getattr(getattr(model, "config", None), "model_type", None) not in ROW_SPARSE_MODELS:
        return None
    get = getattr(model, "get_input_embeddings", None)
    embedding = get() if callable(get) else None
    if not isinstance(embedding, nn.Embedding) or embedding.max_norm is not None:
        return None
    name = next((n for n, p in model.named_parameters() if p is embedding.weight), None)
    if name is None:
        return None
    module = getattr(getattr(model, "base_model", model), "embeddings", None)
    positions = None
    if module is not None and hasattr(module, "create_position_ids_from_input_ids"):  # RoBERTa family: from ids,
        padding = module.padding_idx  # not the plain 0..n-1 that inputs_embeds would get

        def positions(ids: Tensor) -> Tensor:
            return module.create_position_ids_from_input_ids(ids, padding)  # type: ignore[no-any-return]
    return InputEmbedding(name, embedding.padding_idx, positions)


ROWS = "<input embedding rows>"  # the adapted key that stands for the rows of the embedding matrix an episode reads


def row_sparse(loss_fn: LossFn, params: Params, embedding: InputEmbedding,
               batches: Sequence[Batch]) -> tuple[LossFn, Params]:
    """``(loss_fn, params)`` rewritten so the embedding matrix is adapted through the rows ``batches`` read.

    ``params[embedding.name]`` (the full matrix) becomes ``params[ROWS] = matrix[used]``
    and the loss looks the batch's tokens up in those rows (``inputs_embeds``). Every
    other row keeps a zero inner gradient, so the losses and gradients are the dense
    ones, without a dense gradient or fast copy of the matrix per inner step.
    """
    weight = params[embedding.name]
    used = torch.unique(torch.cat([b["input_ids"].reshape(-1) for b in batches]))  # sorted
    padding = None
    if embedding.padding_idx is not None:  # its row gets no gradient, as nn.Embedding(padding_idx=...) does
        at = int(torch.searchsorted(used, torch.tensor(embedding.padding_idx, device=used.device)))
        padding = at if at < len(used) and int(used[at]) == embedding.padding_idx else None

    def loss(p: Params, batch: Batch) -> Tensor:
        rest = {n: t for n, t in p.items() if n != ROWS}
        ids = batch["input_ids"]
        kwargs = {k: v for k, v in batch.items() if k != "input_ids"}
        kwargs["inputs_embeds"] = F.embedding(torch.searchsorted(used, ids), p[ROWS], padding_idx=padding)
        if embedding.positions is not None and "position_ids" not in kwargs:
            kwargs["position_ids"] = embedding.positions(ids)
        return loss_fn(rest, kwargs)

    rows = {n: t for n, t in params.items() if n != embedding.name}
    rows[ROWS] = weight[used]
    return loss, rows


def inner_adapt(
    loss_fn: LossFn, params: Params, batch: Batch, *, lr: float, steps: int, first_order: bool
) -> Params:
    """``steps`` SGD steps of size ``lr`` on ``batch``, differentiable unless ``first_order``."""
    for _ in range(steps):
        loss = loss_fn(params, batch)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
    return params


def maml_loss(
    loss_fn: LossFn,
    params: Params,
    support: Batch,
    query: Batch,
    *,
    inner_lr: float,
    inner_steps: int,
    first_order: bool,
    embedding: InputEmbedding | None = None,
) -> Tensor:
    """The MAML meta-loss: the query loss after adapting ``params`` on the support batch.

    With ``embedding`` (see :func:`input_embedding`) and its matrix among ``params``, the
    matrix is adapted row-sparsely (:func:`row_sparse`): the same loss, less work.
    """
    if embedding is not None and embedding.name in params:
        loss_fn, params = row_sparse(loss_fn, params, embedding, (support, query))
    with double_backward_attention(first_order):
        adapted = inner_adapt(loss_fn, params, support, lr=inner_lr, steps=inner_steps, first_order=first_order)
        return loss_fn(adapted, query)
