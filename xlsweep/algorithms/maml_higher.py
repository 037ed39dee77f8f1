"""MAML through the ``higher`` library: a second backend, checked against :mod:`.maml`.

``higher`` patches the module into a stateless one and unrolls a differentiable
SGD; first-order MAML detaches the inner gradients through ``grad_callback``, the
same approximation the functional backend makes.
"""

from __future__ import annotations

from collections.abc import Mapping

import higher
import torch
from torch import Tensor, nn

from xlsweep.algorithms.maml import Batch, double_backward_attention

__all__ = ["higher_maml_loss"]


def higher_maml_loss(
    model: nn.Module,
    params: Mapping[str, Tensor],
    support: Batch,
    query: Batch,
    *,
    inner_lr: float,
    inner_steps: int,
    first_order: bool,
) -> Tensor:
    """Same contract as :func:`xlsweep.algorithms.maml.maml_loss`; ``params`` are ``model``'s adapted ones."""
    inner_opt = torch.optim.SGD(list(params.values()), lr=inner_lr)
    detach = (lambda grads: [None if g is None else g.detach() for g in grads]) if first_order else None
    with double_backward_attention(first_order), higher.innerloop_ctx(
        model, inner_opt, copy_initial_weights=False, track_higher_grads=True
    ) as (fmodel, diffopt):
        for _ in range(inner_steps):
            diffopt.step(fmodel(**support).loss, grad_callback=detach)
        return fmodel(**query).loss
