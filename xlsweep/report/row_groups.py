"""Trials grouped into report rows, and each row's values per seed.

A row is one method with one auxiliary choice and one setting of the other varying grid
keys; its trials differ only by seed (seeds are repeats, never a row key). Per seed and
target language a row holds ``(score, stage-1 baseline)``: the mean over that seed's
trials (usually one; MetaXL-family trials whose RTN settings do not apply to them, e.g.
``jt`` under a ``metaxl.rtn_layers`` grid, are the same experiment repeated).

A meta-learning row's **auxiliary languages** are its meta-step (query) languages and its
inner-step (support) languages other than the stage-1 source: the XLA-MAML paper's
"hi → X" rows use en for the inner step and hi for the meta step, and Table 3 (§4.3) blanks
only hi, keeping en. X-MAML rows (support = query) keep their one language, the source too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xlsweep.methods import RTN_KEYS as METHOD_RTN_KEYS
from xlsweep.methods import all_methods
from xlsweep.report.aux_table import BASELINE_TOLERANCE
from xlsweep.report.method_table import method_label
from xlsweep.report.stats import mean
from xlsweep.report.sweep_results import ReportError, RunRecord

__all__ = ["MAML_NAMES", "RTN_KEYS", "TRANSFER", "RowGroup", "SeedGrid", "languages", "over", "pair_key", "row_groups",
           "seed_grid", "stage1_grid"]

MAML_NAMES = {m.name: m.label for m in all_methods() if not m.one_target}
"""Display names of the meta-learning algorithms, as in the XLA-MAML paper."""

TRANSFER = frozenset(m.name for m in all_methods() if m.one_target)
"""The MetaXL family: each trial trains for, and is scored on, its own target (the query)."""

_RTN_METHODS = frozenset(m.name for m in all_methods() if m.uses_rtn)

RTN_KEYS = METHOD_RTN_KEYS | {"metaxl.residual", "metaxl.gate"}
"""Grid keys that change nothing for the methods without an RTN (target-only, jt): the RTN keys, and
``metaxl.residual`` and ``metaxl.gate`` (``metaxl.rtn`` replaces both; runs in a store may carry them)."""

_FIXED = ("aux", "seed", "meta.algorithm", "sample")  # shown otherwise, or a repeat (sample: its values are)

SeedGrid = dict[int, dict[str, tuple[float, float]]]
"""Seed -> target language -> (score, stage-1 baseline)."""


@dataclass(frozen=True)
class RowGroup:
    """The trials of one report row.

    Attributes:
        label: Row label, e.g. ``XLA-MAML (ana→bel)``, ``XLA-MAML (ana→bel) inner_lr=0.001``, ``metaxl rtn_layers=2``.
        algorithm: The method.
        settings: The varying grid values shown in the label (key -> value).
        aux_languages: The row's auxiliary languages, in order: for meta-learning rows the query
            languages and the support languages other than the stage-1 source (module docstring);
            for MetaXL-family rows support ∪ query (source and target).
        records: The trials, one or more per seed.
    """

    label: str
    algorithm: str
    settings: Mapping[str, Any]
    aux_languages: tuple[str, ...]
    records: tuple[RunRecord, ...]

    @property
    def transfer(self) -> bool:
        return self.algorithm in TRANSFER


def row_groups(records: Sequence[RunRecord]) -> list[RowGroup]:
    """Rows of the given trials, meta-learning rows before MetaXL-family ones.

    Meta-learning rows are labelled by algorithm and auxiliary choice and ordered as in the
    XLA-MAML paper's Table 3: the rows of one auxiliary language set (and settings) together,
    X-MAML before XLA-MAML ("X-MAML hi → X", then "XLA-MAML hi → X"); sets that have an X-MAML
    row come first, each group in order of first appearance. MetaXL-family rows are labelled by
    method (each trial's target is a column), with their source languages when those vary.
    Grid keys other than aux and seed whose values differ across the trials of a family are
    shown as ``key=value`` (the last part of the key); RTN keys only for ``metaxl`` and ``jt-rtn``.
    """
    maml = [r for r in records if r.algorithm not in TRANSFER]
    transfer = [r for r in records if r.algorithm in TRANSFER]
    rank = {m.name: i for i, m in enumerate(all_methods())}  # the registry's order: the papers' row order
    maml_groups = _group(maml, _maml_key(maml))
    keys = list(dict.fromkeys(pair_key(g) for g in maml_groups))
    first = {key: min(rank.get(g.algorithm, len(rank)) for g in maml_groups if pair_key(g) == key) for key in keys}
    maml_groups.sort(key=lambda g: (first[pair_key(g)], keys.index(pair_key(g)), rank.get(g.algorithm, len(rank))))
    transfer_groups = sorted(_group(transfer, _transfer_key(transfer)),
                             key=lambda g: rank.get(g.algorithm, len(rank)))  # stable: first appearance within
    return maml_groups + transfer_groups


def pair_key(group: RowGroup) -> tuple[frozenset[str], str]:
    """What a meta-learning row shares with its X-MAML / XLA-MAML counterpart: auxiliary languages and settings."""
    return frozenset(group.aux_languages), repr(sorted(group.settings.items()))


def _varying(records: Sequence[RunRecord]) -> list[str]:
    keys = dict.fromkeys(k for r in records for k in r.cell if k not in _FIXED)
    return [k for k in keys if len({repr(r.cell.get(k)) for r in records}) > 1]


def _maml_key(records: Sequence[RunRecord]) -> Any:
    varying = _varying(records)

    def key(record: RunRecord) -> tuple[str, dict[str, Any]]:
        shown = {k: record.cell.get(k) for k in varying}
        return method_label(f"{MAML_NAMES.get(record.algorithm, record.algorithm)} ({record.aux})", shown), shown
    return key


def _transfer_key(records: Sequence[RunRecord]) -> Any:
    varying = _varying(records)
    sources_vary = len({r.support for r in records}) > 1

    def key(record: RunRecord) -> tuple[str, dict[str, Any]]:
        shown: dict[str, Any] = {"source": ",".join(record.support)} if sources_vary else {}
        shown |= {k: record.cell.get(k) for k in varying
                  if record.algorithm in _RTN_METHODS or k not in RTN_KEYS}
        return method_label(record.algorithm, shown), shown
    return key


def _group(records: Sequence[RunRecord], key: Any) -> list[RowGroup]:
    members: dict[str, list[RunRecord]] = {}
    settings: dict[str, dict[str, Any]] = {}
    for record in records:
        label, shown = key(record)
        members.setdefault(label, []).append(record)
        settings.setdefault(label, shown)
    return [RowGroup(label, rows[0].algorithm, settings[label], _aux_languages(rows), tuple(rows))
            for label, rows in members.items()]


def _aux_languages(records: Iterable[RunRecord]) -> tuple[str, ...]:
    """Support ∪ query, less the stage-1 source among a meta-learning trial's support languages."""
    return tuple(dict.fromkeys(lang for r in records for lang in (
        *(s for s in r.support if r.algorithm in TRANSFER or s != r.source), *r.query)))


def _scored(record: RunRecord, metric: str) -> dict[str, tuple[float, float]]:
    """Target -> (score, stage-1 baseline) of one trial; a MetaXL-family trial counts on its own target only."""
    scores = record.scores.get(metric, {})
    langs = [lang for lang in record.query if lang in scores] if record.algorithm in TRANSFER else list(scores)
    baseline = record.baseline.get(metric, {})
    missing = [lang for lang in langs if lang not in baseline]
    if missing:
        raise ReportError(
            f"run {record.run_id} ({record.aux}, seed {record.seed}) has no stage-1 baseline for {metric} on "
            f"{missing}: expected metrics baseline/{metric}/<lang> on the child or the parent run")
    return {lang: (scores[lang], baseline[lang]) for lang in langs}


def seed_grid(records: Iterable[RunRecord], metric: str) -> SeedGrid:
    """Seed -> target -> (mean score, mean stage-1 baseline) over that seed's trials."""
    collected: dict[int, dict[str, list[tuple[float, float]]]] = {}
    for record in records:
        for lang, pair in _scored(record, metric).items():
            collected.setdefault(record.seed, {}).setdefault(lang, []).append(pair)
    return {seed: {lang: (mean([p[0] for p in pairs]), mean([p[1] for p in pairs])) for lang, pairs in per.items()}
            for seed, per in sorted(collected.items())}


def stage1_grid(records: Iterable[RunRecord], metric: str) -> SeedGrid:
    """Seed -> target -> (stage-1 baseline, same) over all trials; the trials of a seed must agree.

    Raises:
        ReportError: If two trials of one seed have different baselines for a target
            (the sweep has several stage-1 models, so there is no single baseline row).
    """
    grid: SeedGrid = {}
    first: dict[tuple[int, str], RunRecord] = {}
    for record in records:
        for lang, (_, base) in _scored(record, metric).items():
            seen = grid.setdefault(record.seed, {}).get(lang)
            if seen is None:
                grid[record.seed][lang] = (base, base)
                first[(record.seed, lang)] = record
            elif abs(seen[0] - base) > BASELINE_TOLERANCE:
                other = first[(record.seed, lang)]
                raise ReportError(
                    f"stage-1 baselines disagree for {metric} on {lang!r}, seed {record.seed}: {seen[0]!r} in run "
                    f"{other.run_id} ({other.aux}) and {base!r} in run {record.run_id} ({record.aux}); expected one "
                    "stage-1 model per seed (a grid over stage-1 settings has no single baseline row)")
    return dict(sorted(grid.items()))


def over(grid: SeedGrid, langs: Sequence[str]) -> tuple[dict[int, float], dict[int, float]]:
    """Per seed, the mean score and mean baseline over ``langs``; seeds lacking one of them are left out."""
    scores: dict[int, float] = {}
    bases: dict[int, float] = {}
    if not langs:
        return scores, bases
    for seed, per in grid.items():
        if all(lang in per for lang in langs):
            scores[seed] = mean([per[lang][0] for lang in langs])
            bases[seed] = mean([per[lang][1] for lang in langs])
    return scores, bases


def languages(grids: Iterable[SeedGrid]) -> list[str]:
    """Every target language of the grids, sorted."""
    return sorted({lang for grid in grids for per in grid.values() for lang in per})
