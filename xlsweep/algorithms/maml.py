"""MAML with a functional inner loop (``torch.func.functional_call``).

The inner loop is plain SGD on a dict of adapted parameters::

    grads = autograd.grad(loss(params, support), params)
    params = {n: p - lr * g for ...}

and the meta-loss is the query loss at the adapted parameters. Backpropagating it
gives the second-order meta-gradient (``first_order=False``) or the first-order
approximation, where the inner gradients are treated as constants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

__all__ = ["Batch", "LossFn", "adapted_parameters", "double_backward_attention", "inner_adapt", "maml_loss",
           "model_loss"]

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
) -> Tensor:
    """The MAML meta-loss: the query loss after adapting ``params`` on the support batch."""
    with double_backward_attention(first_order):
        adapted = inner_adapt(loss_fn, params, support, lr=inner_lr, steps=inner_steps, first_order=first_order)
        return loss_fn(adapted, query)
