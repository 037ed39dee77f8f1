"""The step plan of MetaXL and its baselines, without torch: what :class:`~xlsweep.train.transfer.TransferLearner`
runs and what the sweep driver knows of a trial's length (ASHA's ``max_t``) before any model is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["TRANSFER_KINDS", "Phase", "transfer_phases", "transfer_total_steps"]

TRANSFER_KINDS = ("metaxl", "jt", "jt-rtn", "target-only")
"""What :class:`~xlsweep.train.transfer.TransferLearner` can train."""


@dataclass(frozen=True)
class Phase:
    kind: Literal["metaxl", "balanced", "pooled", "target"]  # balanced: source batch + target stream batch
    rtn: bool  # source rows pass through the RTN
    epochs: int
    pool: int  # rows per epoch
    batch: int

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.pool / self.batch)

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def transfer_phases(kind: str, n_source: int, n_target: int, *, epochs: int, backoff_epochs: int, source_batch: int,
                    target_batch: int, jt_batches: Literal["balanced", "pooled"]) -> list[Phase]:
    """The phases of ``kind`` over ``n_source`` source and ``n_target`` target rows (after any subsetting).

    Raises:
        ValueError: For an unknown ``kind``, or back-off epochs without source rows.
    """
    if kind not in TRANSFER_KINDS:
        raise ValueError(f"unknown method {kind!r}; expected one of {', '.join(TRANSFER_KINDS)}")
    joint: Literal["balanced", "pooled"] = "balanced" if jt_batches == "balanced" else "pooled"
    joint_pool = n_source if joint == "balanced" else n_source + n_target
    main = {
        "target-only": Phase("target", False, epochs, n_target, target_batch),
        "jt": Phase(joint, False, epochs, joint_pool, source_batch),
        "jt-rtn": Phase(joint, True, epochs, joint_pool, source_batch),
        "metaxl": Phase("metaxl", True, epochs, n_source, source_batch),
    }[kind]
    phases = [main]
    if backoff_epochs:
        if not n_source:
            raise ValueError("backoff_epochs: fine-tuning on source + target needs source features")
        phases.append(Phase("pooled", False, backoff_epochs, n_source + n_target, source_batch))
    return phases


def transfer_total_steps(kind: str, n_source: int, n_target: int, *, epochs: int, backoff_epochs: int,
                         source_batch: int, target_batch: int, jt_batches: Literal["balanced", "pooled"]) -> int:
    """Steps of a whole ``kind`` training: epochs × steps per epoch, summed over its phases."""
    return sum(p.steps for p in transfer_phases(kind, n_source, n_target, epochs=epochs, backoff_epochs=backoff_epochs,
                                                source_batch=source_batch, target_batch=target_batch,
                                                jt_batches=jt_batches))
