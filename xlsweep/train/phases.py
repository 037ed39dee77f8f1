"""The step plan of a :class:`~xlsweep.train.transfer.TransferLearner`, without torch: what it runs and what the
sweep driver knows of a trial's length (ASHA's ``max_t``) before any model is built.

Its ``objective`` is what one step trains on: ``target`` (a batch of target rows), ``joint`` (source and
target rows, ``joint_batches`` balanced or pooled) or ``metaxl`` (MetaXL's bi-level step,
:func:`xlsweep.algorithms.metaxl.metaxl_loss`); ``rtn``: source rows pass through an RTN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["OBJECTIVES", "Objective", "Phase", "transfer_phases", "transfer_total_steps"]

Objective = Literal["target", "joint", "metaxl"]
OBJECTIVES: tuple[Objective, ...] = ("target", "joint", "metaxl")


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


def transfer_phases(objective: str, n_source: int, n_target: int, *, rtn: bool, epochs: int, backoff_epochs: int,
                    source_batch: int, target_batch: int,
                    joint_batches: Literal["balanced", "pooled"]) -> list[Phase]:
    """The phases of ``objective`` over ``n_source`` source and ``n_target`` target rows (after any subsetting).

    Raises:
        ValueError: For an unknown ``objective``, MetaXL's step without an RTN, or back-off epochs without source rows.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    if objective == "metaxl" and not rtn:
        raise ValueError("objective metaxl: MetaXL's step meta-learns an RTN; expected rtn")
    joint: Literal["balanced", "pooled"] = "balanced" if joint_batches == "balanced" else "pooled"
    joint_pool = n_source if joint == "balanced" else n_source + n_target
    main = {
        "target": Phase("target", False, epochs, n_target, target_batch),
        "joint": Phase(joint, rtn, epochs, joint_pool, source_batch),
        "metaxl": Phase("metaxl", True, epochs, n_source, source_batch),
    }[objective]
    phases = [main]
    if backoff_epochs:
        if not n_source:
            raise ValueError("backoff_epochs: fine-tuning on source + target needs source features")
        phases.append(Phase("pooled", False, backoff_epochs, n_source + n_target, source_batch))
    return phases


def transfer_total_steps(objective: str, n_source: int, n_target: int, *, rtn: bool, epochs: int,
                         backoff_epochs: int, source_batch: int, target_batch: int,
                         joint_batches: Literal["balanced", "pooled"]) -> int:
    """Steps of a whole training: epochs × steps per epoch, summed over its phases."""
    return sum(p.steps for p in transfer_phases(objective, n_source, n_target, rtn=rtn, epochs=epochs,
                                                backoff_epochs=backoff_epochs, source_batch=source_batch,
                                                target_batch=target_batch, joint_batches=joint_batches))
