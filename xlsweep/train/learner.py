"""The one interface every stage-2 learner satisfies, so a trial's loop, Tune and MLflow know none of them.

:class:`~xlsweep.train.meta.MetaLearner` (X-/XLA-MAML), :class:`~xlsweep.train.reptile.ReptileLearner`
and :class:`~xlsweep.train.transfer.TransferLearner` (MetaXL and its baselines) all satisfy it
structurally (a ``Protocol``, no base class). ``total_steps`` is the trial's length in steps — the
time axis of checkpoints, ASHA and the final metrics — which is ``meta.steps`` for episode learners
but epochs × steps per epoch (+ back-off) for the MetaXL family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from torch import nn

__all__ = ["Learner"]


class Learner(Protocol):
    """``step()`` until ``step_count == total_steps``, then ``final_model()``; the state round-trips exactly."""

    model: nn.Module  # the model being trained (scored on dev at checkpoints)
    step_count: int
    total_steps: int

    def step(self) -> float:
        """One training step; returns its loss."""
        ...

    def final_model(self) -> nn.Module:
        """The model to evaluate once training is over."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed trial needs to continue exactly (tensors, numbers, strings, containers)."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`."""
        ...
