"""What reports are made of: a sweep's finished trials as read from MLflow, and the error reports raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xlsweep.tasks.outcomes import Outcomes

__all__ = ["Excluded", "ReportError", "RunRecord", "SweepResults"]


class ReportError(ValueError):
    """A report cannot be made as asked; the message names the bad value and what exists."""


@dataclass(frozen=True)
class RunRecord:
    """One finished trial, as its child run recorded it.

    Attributes:
        run_id: The MLflow child run.
        trial_id: Ray Tune's trial id (``xlsweep.trial_id``).
        algorithm: ``xla-maml``, ``x-maml``, ``metaxl``, ``jt``, ``jt-rtn`` or ``target-only``.
        aux: The auxiliary-language label, e.g. ``ana→bel`` (support→query) or ``bel``.
        support: Support (MetaXL: source) languages.
        query: Query languages (X-MAML: the support; MetaXL: the target).
        seed: The trial's seed.
        cell: The grid cell's overrides, e.g. ``{"aux": "ana→bel", "seed": 1, "meta.inner_lr": 0.001}``.
        scores: Metric (``acc``, ``f1``, ``fs_acc``, …) -> language -> test score.
        baseline: Metric -> language -> the stage-1 model's score (the child's own
            ``baseline/…`` metrics, else the parent run's).
        metrics: Every final metric of the run, as logged.
        source: The stage-1 source language (param ``data.source`` of the child, else of the
            parent run; ``""`` when neither has it).
        outcomes: The per-example test outcomes of the trial and of its stage-1 baseline
            (artifact ``test_outcomes.npz``; None for runs without it).
    """

    run_id: str
    trial_id: str
    algorithm: str
    aux: str
    support: tuple[str, ...]
    query: tuple[str, ...]
    seed: int
    cell: Mapping[str, Any]
    scores: Mapping[str, Mapping[str, float]]
    baseline: Mapping[str, Mapping[str, float]]
    metrics: Mapping[str, float]
    source: str = ""
    outcomes: Outcomes | None = None


@dataclass(frozen=True)
class Excluded:
    """A child run left out of the reports, and why."""

    run_id: str
    aux: str
    seed: str
    status: str
    reason: str

    def line(self) -> str:
        return f"{self.aux} seed {self.seed} ({self.status}, run {self.run_id}): {self.reason}"


@dataclass(frozen=True)
class SweepResults:
    """A sweep's parent run and its trials (``experiment_id``: the MLflow experiment's id, for UI links)."""

    tracking_uri: str
    experiment: str
    parent_run_id: str
    sweep_id: str
    sweep: str
    task: str
    primary: str | None
    status: str
    records: tuple[RunRecord, ...]
    excluded: tuple[Excluded, ...]
    experiment_id: str = ""
    notes: tuple[str, ...] = ()  # lines a reader must see: a newer sweep skipped as "latest", degenerate results
    select_on_dev: tuple[str, ...] = ()  # grid keys the tables also show chosen on dev (dev_selection)
    select_per_target: bool = True
