"""Reptile (Nichol, Achiam & Schulman, 2018, "On First-Order Meta-Learning Algorithms") as an update function.

Reptile's batched update (their Algorithm 2)::

    for each task τ_i of the meta-batch:  θ̃_i = U^k_{τ_i}(θ)     # k SGD steps on τ_i's minibatches, from θ
    θ ← θ + ε · (1/n) Σ_i (θ̃_i − θ)

:func:`reptile_delta` computes one task's ``θ̃ − θ``; the loop
(:class:`xlsweep.train.reptile.ReptileLearner`) averages it over the meta-batch and
takes the outer step. There is no meta-loss to differentiate: Reptile is first order
by construction (its inner gradients are plain SGD gradients, no graph is kept).

Over xlsweep's cross-lingual episodes a task's minibatches are the support batch
``inner_steps`` times, then the query batch: Nichol et al. (§5) show that with k ≥ 2
steps on *different* minibatches the expected update contains MAML's term that raises
the inner product of the minibatches' gradients — here between the support (e.g. the
source language) and the query (auxiliary) language, XLA-MAML's cross-lingual
adaptation; with one step on one batch Reptile is plain SGD on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from xlsweep.algorithms.maml import ROWS, Batch, InputEmbedding, LossFn, Params, row_sparse

__all__ = ["ReptileTask", "reptile_delta"]


@dataclass(frozen=True)
class ReptileTask:
    """One task's contribution: ``θ̃ − θ`` per parameter (detached) and the loss of each SGD step."""

    delta: dict[str, Tensor]
    losses: tuple[float, ...]  # before each step; the last one is the query loss after the support steps


def reptile_delta(
    loss_fn: LossFn,
    params: Params,
    batches: Sequence[Batch],
    *,
    lr: float,
    embedding: InputEmbedding | None = None,
) -> ReptileTask:
    """``θ̃ − θ`` after one plain SGD step of size ``lr`` on each of ``batches``, in order, from ``params``.

    Args:
        loss_fn: ``loss(params, batch)``, e.g. :func:`xlsweep.algorithms.maml.model_loss`.
        params: θ, the parameters the task adapts (others keep their values: their delta is not returned).
        batches: The task's minibatches, one SGD step each (k = ``len(batches)``).
        lr: The inner SGD step size α.
        embedding: The word embeddings (:func:`xlsweep.algorithms.maml.input_embedding`): adapted through the rows
            the batches read (:func:`xlsweep.algorithms.maml.row_sparse`); their delta is scattered into the matrix.
    """
    full = params
    if embedding is not None and embedding.name in params:
        loss_fn, params = row_sparse(loss_fn, params, embedding, batches)
    start = {name: p.detach() for name, p in params.items()}
    fast = {name: p.clone().requires_grad_() for name, p in start.items()}
    losses = []
    for batch in batches:
        loss = loss_fn(fast, batch)
        grads = torch.autograd.grad(loss, tuple(fast.values()), allow_unused=True)
        fast = {name: (p if g is None else p - lr * g).detach().requires_grad_()
                for (name, p), g in zip(fast.items(), grads, strict=True)}
        losses.append(float(loss.detach()))
    delta = {name: fast[name].detach() - start[name] for name in fast}
    if ROWS in delta and embedding is not None:  # the rows' delta, scattered into the matrix's shape
        (delta[embedding.name],) = torch.autograd.grad(params[ROWS], full[embedding.name], delta.pop(ROWS))
    return ReptileTask(delta=delta, losses=tuple(losses))
