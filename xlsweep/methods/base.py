"""What a method declares: its name, config section and rules, the splits it reads, its language pairs,
its length and how its learner is built. One :class:`Method` per method, in a module of this package."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

    from xlsweep.config.schema import TrialConfig
    from xlsweep.prepare import Prepared
    from xlsweep.train.learner import Learner

__all__ = ["Build", "Method", "RowCount", "TargetInner", "no_problem", "unchanged_cell"]

RowCount = Callable[[str, str], int]
"""Rows of (language, split) in the prepared data: what a method's length may depend on."""
Build = Callable[["TrialConfig", "Prepared", "torch.device | str"], "Learner"]
TargetInner = Callable[["TrialConfig", "Prepared", str, "torch.device | str"], "Learner | None"]


def no_problem(cfg: TrialConfig) -> str | None:
    """A method without rules of its own beyond its family's."""
    return None


def unchanged_cell(cfg: TrialConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """A grid cell's languages as its aux choice gives them."""
    return cfg


@dataclass(frozen=True)
class Method:
    """One stage-2 method, as the rest of xlsweep sees it (through :func:`xlsweep.methods.method`).

    Attributes:
        name: ``meta.algorithm``'s value.
        label: Its name in tables (the papers').
        family: ``episodes`` (meta-learning over support → query episodes from the stage-1 model, its
            length ``meta.steps``) or ``transfer`` (MetaXL-style: a source and one target language,
            ``metaxl.epochs`` over the data, the best dev epoch kept).
        section: The config section holding its settings (``meta`` or ``metaxl``).
        order: Its place among the rows of a report (lower first).
        build: ``build(cfg, prepared, device)``: its learner, untrained.
        total_steps: ``total_steps(cfg, rows)``: its learner's ``total_steps``, from the config and the
            prepared data's sizes, without building a model (ASHA's ``max_t`` is set before trials start).
        reads: ``reads(cfg)``: the (language, split, why) its training reads.
        check: ``check(cfg)``: what is wrong with ``cfg`` for this method beyond its family's rules, or None.
        resolve: ``resolve(cfg, overrides)``: a grid cell's config with the method's languages (support /
            query) resolved from its aux choice.
        same_language: Support and query come from one language set (``meta.query`` left empty).
        needs_source: Trains on source languages (``meta.support``); false for target-only.
        uses_rtn: Inserts an RTN (the ``metaxl.rtn_*`` keys apply).
        target_inner: For ``eval.few_shot.protocol: target-inner``: ``target_inner(cfg, prepared, target,
            device)``, the learner meta-learning with the target as support (None: the protocol does not apply).
    """

    name: str
    label: str
    family: Literal["episodes", "transfer"]
    section: Literal["meta", "metaxl"]
    order: int
    build: Build
    total_steps: Callable[[TrialConfig, RowCount], int]
    reads: Callable[[TrialConfig], list[tuple[str, str, str]]]
    check: Callable[[TrialConfig], str | None] = no_problem
    resolve: Callable[[TrialConfig, Mapping[str, Any]], TrialConfig] = unchanged_cell
    same_language: bool = False
    needs_source: bool = True
    uses_rtn: bool = False
    target_inner: TargetInner | None = None

    def replace(self, **changes: Any) -> Method:
        """A copy with ``changes`` (a family's template made into one method)."""
        return dataclasses.replace(self, **changes)
