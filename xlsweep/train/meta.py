"""The meta-training loop of X-MAML and XLA-MAML: AdamW or Adam (+ weight decay), a linear or constant schedule.

One meta-step averages the MAML loss of ``meta_batch`` episodes, backpropagates it
into the model and takes an optimiser step. The learner's whole state (model,
optimiser, schedule, sampler, step) round-trips through ``state_dict`` so a trial
resumes exactly where its last checkpoint was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from xlsweep.algorithms.maml import adapted_parameters, input_embedding, maml_loss, model_loss
from xlsweep.algorithms.maml_higher import higher_maml_loss
from xlsweep.data.episodes import EpisodeSampler, episode_batch
from xlsweep.data.features import Features
from xlsweep.train.schedule import make_optimizer, make_schedule

__all__ = ["MetaLearner", "NonFiniteLoss", "episode_state", "load_episode_state"]


class NonFiniteLoss(FloatingPointError):
    """The meta-loss became NaN or infinite; the trial cannot go on."""


class MetaLearner:
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
        first_order: bool,
        backend: Literal["functional", "higher"],
        adapt: tuple[str, ...],
        meta_lr: float,
        weight_decay: float,
        warmup_ratio: float,
        optimizer: Literal["adamw", "adam"] = "adamw",
        schedule: Literal["linear", "constant"] = "linear",
        device: torch.device | str = "cpu",
    ) -> None:
        if backend not in ("functional", "higher"):
            raise ValueError(f"inner_backend {backend!r}; expected 'functional' or 'higher'")
        self.model = model.to(device)
        self.data, self.sampler, self.device = data, sampler, device
        self.meta_batch, self.inner_lr, self.inner_steps = meta_batch, inner_lr, inner_steps
        self.first_order, self.backend = first_order, backend
        self.adapt_names = tuple(adapted_parameters(model, adapt))
        self.optimizer = make_optimizer(model.parameters(), optimizer, lr=meta_lr, weight_decay=weight_decay)
        self.scheduler = make_schedule(self.optimizer, schedule, total_steps=steps, warmup_ratio=warmup_ratio)
        self.loss_fn = model_loss(model)
        self.embedding = input_embedding(model)  # adapted row-sparsely by the functional backend
        self.step_count = 0
        self.total_steps = steps

    def _episode_loss(self) -> torch.Tensor:
        ep = self.sampler.sample()
        support = episode_batch(self.data, ep.support, self.device)  # (K, T): one language, or several mixed
        query = episode_batch(self.data, ep.query, self.device)
        named = dict(self.model.named_parameters())
        params: dict[str, torch.Tensor] = {n: named[n] for n in self.adapt_names}
        if self.backend == "higher":
            return higher_maml_loss(self.model, params, support, query, inner_lr=self.inner_lr,
                                    inner_steps=self.inner_steps, first_order=self.first_order)
        return maml_loss(self.loss_fn, params, support, query, inner_lr=self.inner_lr,
                         inner_steps=self.inner_steps, first_order=self.first_order, embedding=self.embedding)

    def step(self) -> float:
        """One meta-step; returns the mean meta-loss of its episodes."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(self.meta_batch):
            loss = self._episode_loss() / self.meta_batch
            loss.backward()
            total += loss.item()
        if not math.isfinite(total):
            raise NonFiniteLoss(f"meta-loss is {total} at meta-step {self.step_count + 1}")
        self.optimizer.step()
        self.scheduler.step()
        self.step_count += 1
        return total

    def final_model(self) -> nn.Module:
        """The meta-learned model (evaluated after the last meta-step)."""
        return self.model

    def state_dict(self) -> dict[str, Any]:
        return episode_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_episode_state(self, state)


def episode_state(learner: Any) -> dict[str, Any]:
    """The state of an episode learner (its ``model``, ``optimizer``, ``scheduler``, ``sampler`` and
    ``step_count``) and torch's RNG (dropout masks), so that a resumed run continues exactly."""
    return {
        "model": learner.model.state_dict(),
        "optimizer": learner.optimizer.state_dict(),
        "scheduler": learner.scheduler.state_dict(),
        "sampler": learner.sampler.state_dict(),
        "step": learner.step_count,
        "torch_rng": torch.get_rng_state(),
    }


def load_episode_state(learner: Any, state: Mapping[str, Any]) -> None:
    """Restore an :func:`episode_state` into ``learner``."""
    learner.model.load_state_dict(state["model"])
    learner.optimizer.load_state_dict(state["optimizer"])
    learner.scheduler.load_state_dict(state["scheduler"])
    learner.sampler.load_state_dict(state["sampler"])
    learner.step_count = int(state["step"])
    torch.set_rng_state(state["torch_rng"])
