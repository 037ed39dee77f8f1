"""What a method declares: its name, config section and rules, the splits it reads, its language pairs,
its length and how its learner is built. One :class:`Method` per method, in a module of this package."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch

    from xlsweep.config.schema import TrialConfig
    from xlsweep.data.features import Features
    from xlsweep.train.learner import Learner

__all__ = ["Build", "FeatureSource", "Method", "PreparedData", "RowCount", "TargetInner", "no_rules",
           "unchanged_cell"]


class FeatureSource(Protocol):
    """The features (and metric references) of each language's split."""

    def get(self, language: str, split: str) -> Features: ...

    def references(self, language: str, split: str) -> Any: ...


class PreparedData(Protocol):
    """What a method's learner is built from: the encoder, the stage-1 model and the features
    (:class:`xlsweep.prepare.Prepared` is one)."""

    @property
    def encoder_dir(self) -> Path: ...

    @property
    def stage1_dir(self) -> Path: ...

    @property
    def features(self) -> FeatureSource: ...


RowCount = Callable[[str, str], int]
"""Rows of (language, split) in the prepared data: what a method's length may depend on."""
Build = Callable[["TrialConfig", PreparedData, "torch.device | str"], "Learner"]
TargetInner = Callable[["TrialConfig", PreparedData, str, "torch.device | str"], "Learner | None"]
Rules = Callable[["TrialConfig"], None]


def no_rules(cfg: TrialConfig) -> None:
    """A method without rules of its own beyond its family's."""


def unchanged_cell(cfg: TrialConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """A grid cell's languages as its aux choice gives them."""
    return cfg


@dataclass(frozen=True)
class Method:
    """One stage-2 method, as the rest of xlsweep sees it (through :func:`xlsweep.methods.method`).

    Attributes:
        name: ``meta.algorithm``'s value.
        label: Its name in tables (the papers').
        family: ``episodes`` (meta-learning over support → query episodes from the stage-1 model) or
            ``transfer`` (MetaXL-style: a source and one target language); only this package reads it,
            everything else asks the attributes below.
        section: The config section holding its settings (``meta`` or ``metaxl``).
        order: Its place among the rows of a report (lower first).
        build: ``build(cfg, prepared, device)``: its learner, untrained.
        total_steps: ``total_steps(cfg, rows)``: its learner's ``total_steps``, from the config and the
            prepared data's sizes, without building a model (ASHA's ``max_t`` is set before trials start).
        reads: ``reads(cfg)``: the (language, split, why) its training reads.
        trains_on_split: ``trains_on_split(cfg)``: the languages whose ``meta.split`` rows it trains on (a
            dev-split objective leaves them out when ``meta.split`` is dev).
        check: ``check(cfg)``: raises :class:`~xlsweep.config.errors.ConfigError` for what is wrong with
            ``cfg`` for this method (its family's rules and its own).
        resolve: ``resolve(cfg, overrides)``: a grid cell's config with the method's languages (support /
            query) resolved from its aux choice.
        meta_steps: Its length is ``meta.steps`` meta-steps, known from the config alone (else epochs ×
            batches, known once the data is prepared); the pair search's resource.
        training_loss: Its loss is the model's loss on the rows it fits, so a final loss at chance level
            means it learnt nothing (an episode method's is the query loss after adapting on other languages).
        transfer_analysis: Its trials measure how close source and target representations are
            (``metaxl.analysis_rows``) and report the best dev score of their model selection.
        one_target: A trial trains for its one target language (``meta.query``) and is scored on it alone: its
            report rows are per method (a method table), not per auxiliary choice.
        same_language: Support and query come from one language set (``meta.query`` left empty).
        needs_source: Trains on source languages (``meta.support``); false for target-only.
        uses_rtn: Inserts an RTN (the ``metaxl.rtn_*`` keys apply).
        compared_with: The method whose report rows its rows are set against, seed by seed ("" for none).
        reference: Its rank as the default reference row of a method table (lowest first; 0: never).
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
    trains_on_split: Callable[[TrialConfig], tuple[str, ...]]
    check: Rules = no_rules
    resolve: Callable[[TrialConfig, Mapping[str, Any]], TrialConfig] = unchanged_cell
    meta_steps: bool = False
    training_loss: bool = False
    transfer_analysis: bool = False
    one_target: bool = False
    same_language: bool = False
    needs_source: bool = True
    uses_rtn: bool = False
    compared_with: str = ""
    reference: int = 0
    target_inner: TargetInner | None = None

    def replace(self, **changes: Any) -> Method:
        """A copy with ``changes`` (a family's template made into one method)."""
        return dataclasses.replace(self, **changes)
