"""The Reptile loop over X-/XLA-MAML's episodes: θ ← θ + ε · mean over the meta-batch of (θ̃ − θ).

One step samples ``meta_batch`` episodes; each is a task whose minibatches are its
support batch ``inner_steps`` times, then its query batch (see
:mod:`xlsweep.algorithms.reptile`). The outer step is SGD with learning rate ε =
``meta_lr`` on ``θ − mean θ̃`` (Nichol et al.'s Algorithm 2, ε annealed linearly to 0
as in their experiments, with an optional warm-up). The state round-trips through
``state_dict`` like :class:`xlsweep.train.meta.MetaLearner`'s, with the same shape
(``step``, ``step_count``, ``total_steps``, ``final_model``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from xlsweep.algorithms.maml import adapted_parameters, input_embedding, model_loss
from xlsweep.algorithms.reptile import reptile_delta
from xlsweep.data.episodes import EpisodeSampler, episode_batch
from xlsweep.data.features import Features
from xlsweep.train.meta import NonFiniteLoss, episode_state, load_episode_state
from xlsweep.train.schedule import linear_schedule

__all__ = ["ReptileLearner"]


class ReptileLearner:
    """Reptile over episodes: ``step()`` until ``total_steps``; ``meta_lr`` is the outer step size ε.

    Args:
        model: The task model (stage 1's), trained in place.
        data: Features per language, as the sampler's episodes index them.
        sampler: Draws the episodes (support → query pairs, as XLA-MAML's).
        steps: Outer steps.
        meta_batch: Episodes (tasks) averaged per outer step.
        inner_lr: α, the SGD step size of the task's steps.
        inner_steps: SGD steps on the support batch before the one on the query batch.
        adapt: Regexes of the parameters tasks adapt (empty: all); the others never move.
        meta_lr: ε.
        warmup_ratio: Linear warm-up of ε, then linear decay to 0.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Mapping[str, Features],
        sampler: EpisodeSampler,
        *,
        steps: int,
        meta_batch: int,
        inner_lr: float,
        inner_steps: int,
        adapt: tuple[str, ...],
        meta_lr: float,
        warmup_ratio: float,
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model.to(device)
        self.data, self.sampler, self.device = data, sampler, device
        self.meta_batch, self.inner_lr, self.inner_steps = meta_batch, inner_lr, inner_steps
        self.adapt_names = tuple(adapted_parameters(model, adapt))
        named = dict(model.named_parameters())
        self.optimizer = torch.optim.SGD([named[n] for n in self.adapt_names], lr=meta_lr)  # θ ← θ − ε·(θ − θ̃)
        self.scheduler = linear_schedule(self.optimizer, total_steps=steps, warmup_ratio=warmup_ratio)
        self.loss_fn = model_loss(model)
        self.embedding = input_embedding(model)
        self.step_count = 0
        self.total_steps = steps

    def step(self) -> float:
        """One outer step; returns the mean query loss after the support steps (the last task step's loss)."""
        self.model.train()
        named = dict(self.model.named_parameters())
        params: dict[str, torch.Tensor] = {n: named[n] for n in self.adapt_names}
        total = {n: torch.zeros_like(p) for n, p in params.items()}
        query_loss = 0.0
        for _ in range(self.meta_batch):
            ep = self.sampler.sample()
            support = episode_batch(self.data, ep.support, self.device)  # (K, T)
            query = episode_batch(self.data, ep.query, self.device)  # (N, T)
            task = reptile_delta(self.loss_fn, params, [support] * self.inner_steps + [query], lr=self.inner_lr,
                                 embedding=self.embedding)
            for name, d in task.delta.items():
                total[name] += d
            query_loss += task.losses[-1] / self.meta_batch
        if not math.isfinite(query_loss) or not all(torch.isfinite(t).all() for t in total.values()):
            raise NonFiniteLoss(f"reptile loss is {query_loss} at step {self.step_count + 1}")
        for name, p in params.items():
            p.grad = -total[name] / self.meta_batch  # θ − mean θ̃: SGD(ε) then moves θ by ε·mean(θ̃ − θ)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step_count += 1
        return query_loss

    def final_model(self) -> nn.Module:
        """The meta-learned model (evaluated after the last step)."""
        return self.model

    def state_dict(self) -> dict[str, Any]:
        return episode_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_episode_state(self, state)
