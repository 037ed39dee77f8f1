"""MetaXL's bi-level step (Xia et al., 2021, Algorithm 1) as a loss.

A representation transformation network (RTN) with parameters φ transforms the
source language's hidden states inside the encoder. One step::

    θ' = θ − α ∇θ L_src(θ, φ)          # a virtual SGD step on RTN-transformed source data
    φ  ← φ − β ∇φ L_tgt(θ')             # second order: L_tgt depends on φ only through θ'
    θ  ← θ − (optimiser step on ∇θ L_src(θ, φ))   # the source step itself

:func:`metaxl_loss` computes ``L_tgt(θ')`` with the graph through θ' kept, so its
gradient with respect to φ is the meta-gradient, together with the source loss and
``∇θ L_src`` (reused for the real source step: it is the step θ' was virtually taken
along). Target batches never pass through the RTN: ``transformed`` is the context in
which the model applies it (see :mod:`xlsweep.models.rtn`).

This is the paper's step (Algorithm 1, lines 3–5; Eq. 2–3: θ on the source loss only). The
authors' released code (``mlt.step_metaxl``) adds the plain loss of a *training* target batch
(the first half of its target batch) to the step's loss and scores θ' on the other half; pass
``target_train`` for that variant (``metaxl.step: authors-code``, see :mod:`xlsweep.train.transfer`,
which also recomputes θ's step after φ's, as that code does).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import Tensor

from xlsweep.algorithms.maml import ROWS, Batch, InputEmbedding, LossFn, Params, double_backward_attention, row_sparse

__all__ = ["MetaXLLoss", "metaxl_loss"]


@dataclass(frozen=True)
class MetaXLLoss:
    """What one bi-level step needs: the meta-loss, the source loss and the source gradient."""

    target: Tensor  # L_tgt(θ'): differentiable with respect to φ (and θ)
    source: Tensor  # the step's training loss: L_src(θ, φ) (+ L_tgt(θ) on a training target batch)
    source_grads: dict[str, Tensor]  # its gradient with respect to θ, detached


def metaxl_loss(
    loss_fn: LossFn,
    params: Params,
    source: Batch,
    target: Batch,
    *,
    virtual_lr: float,
    transformed: Callable[[], AbstractContextManager[object]],
    target_train: Batch | None = None,
    embedding: InputEmbedding | None = None,
) -> MetaXLLoss:
    """The target loss after a virtual SGD step of size ``virtual_lr`` on the RTN-transformed source loss.

    Args:
        loss_fn: ``loss(params, batch)``, e.g. :func:`xlsweep.algorithms.maml.model_loss`.
        params: θ, the parameters the virtual step moves (the RTN's are not among them).
        source, target: Model keyword arguments (labels included); ``target`` scores θ'.
        virtual_lr: α; MetaXL uses the main model's learning rate in force at this step.
        transformed: Returns the context in which the model applies the RTN.
        target_train: Another target batch whose plain loss joins the step's training loss,
            ``L_src(θ, φ) + L_tgt(θ)``, as in the authors' released code (``step_metaxl``); the
            meta-loss then scores a different target batch. ``None``: the source loss alone.
        embedding: The word embeddings (:func:`xlsweep.algorithms.maml.input_embedding`): the virtual
            step moves the matrix through the rows the batches read (the same losses, no dense fast copy).
    """
    full = params
    if embedding is not None and embedding.name in params:
        batches = [source, target, *([target_train] if target_train is not None else [])]
        loss_fn, params = row_sparse(loss_fn, params, embedding, batches)
    with double_backward_attention(first_order=False):
        with transformed():
            source_loss = loss_fn(params, source)
        if target_train is not None:
            source_loss = source_loss + loss_fn(params, target_train)
        grads = torch.autograd.grad(source_loss, tuple(params.values()), create_graph=True, allow_unused=True)
        fast = {name: p if g is None else p - virtual_lr * g
                for (name, p), g in zip(params.items(), grads, strict=True)}
        target_loss = loss_fn(fast, target)
    source_grads = {name: torch.zeros_like(p) if g is None else g.detach()
                    for (name, p), g in zip(params.items(), grads, strict=True)}
    if ROWS in source_grads and embedding is not None:  # the rows' gradient, scattered into the matrix's
        rows = source_grads.pop(ROWS)
        (source_grads[embedding.name],) = torch.autograd.grad(params[ROWS], full[embedding.name], rows)
    return MetaXLLoss(target=target_loss, source=source_loss.detach(), source_grads=source_grads)
