"""Swept hyperparameters chosen on the development split: the dev-best value's trials, for the tables.

MetaXL's Appendix A "tuned the learning rate [of the RTN] on 3e-5, 1e-6 and 1e-7" and picks models "according
to the validation performance": a grid over such a key is a choice, made on dev, not one row per value for a
reader to pick from on test. :func:`select_on_dev` keeps, per method (and per target, when the paper tunes per
target) and per setting of the other grid keys, the trials of the value whose mean dev score over seeds is
highest; their cells then carry :data:`SELECTED` for the key, so the tables show one row per method, marked as
selected on dev. The per-value tables are written as before. A MetaXL-family trial is chosen on its own
target; a meta-learning trial (X-MAML, XLA-MAML: one model scored on every target) per target is chosen once per
target column, so one row may take different values in different columns (the footnote lists each choice).

A trial's dev score: ``dev_best`` (MetaXL-family trials: the kept epoch's score on the target's dev split),
else ``dev/<target>`` (per target) or ``dev_avg`` (a search objective's dev scores: meta-learning trials report
dev scores only with ``search.metric`` set, which validation requires of a meta-learning key in
``select_on_dev``). A trial without one keeps its value (it is not merged into the selected row). Ties keep the
value that comes first in the grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xlsweep.report.row_groups import RTN_KEYS, TRANSFER
from xlsweep.report.stats import mean
from xlsweep.report.sweep_results import RunRecord

__all__ = ["SELECTED", "Selection", "select_on_dev", "selection_note"]

SELECTED = "dev-best"
"""The value a selected key shows in a selected trial's cell."""

_METHODS_WITH_RTN = frozenset({"metaxl", "jt-rtn"})
_SHOWN = ("seed", "aux", "meta.algorithm")  # cell keys a group states otherwise (or a repeat: seed)


@dataclass(frozen=True)
class Selection:
    """One choice: for ``algorithm`` (on ``target``, when chosen per target) ``key`` = ``value``, mean dev ``dev``."""

    algorithm: str
    target: str
    key: str
    value: Any
    dev: float
    settings: str = ""  # the other grid keys' values, when they vary
    aux: str = ""  # a meta-learning row's auxiliary choice (its rows differ by it)


def _dev(record: RunRecord, target: str) -> float | None:
    for name in ("dev_best", f"dev/{target}" if target else "", "dev_avg"):
        if name and name in record.metrics:
            return float(record.metrics[name])
    return None


def _applies(record: RunRecord, key: str) -> bool:
    """Whether ``key`` changes ``record``'s experiment (RTN keys do not for target-only and JT: repeats)."""
    return not (record.algorithm in TRANSFER and key in RTN_KEYS and record.algorithm not in _METHODS_WITH_RTN)


def select_on_dev(records: Sequence[RunRecord], keys: Sequence[str], *,
                  per_target: bool = True) -> tuple[list[RunRecord], list[Selection]]:
    """The trials of each group's dev-best value of every key in ``keys`` (chosen jointly: the best combination),
    with :data:`SELECTED` in place of those values, and the choices made. Trials that lack a dev score, or whose
    method the keys do not apply to, are kept as they are (their values are repeats)."""
    keys = [k for k in keys if any(k in r.cell for r in records)]
    if not keys:
        return list(records), []
    groups: dict[tuple[Any, ...], dict[tuple[Any, ...], list[RunRecord]]] = {}
    kept: list[RunRecord] = []
    for whole in records:
        applied = [k for k in keys if k in whole.cell and _applies(whole, k)]
        if not applied:
            kept.append(_marked(whole, [k for k in keys if k in whole.cell]))
            continue
        for target, record in _targets(whole, per_target):
            if _dev(record, target) is None:
                kept.append(record)  # nothing to choose by: its row keeps its value, not marked as selected
                continue
            others = tuple(sorted((k, repr(v)) for k, v in record.cell.items() if k not in (*keys, *_SHOWN)))
            where = record.aux if record.algorithm not in TRANSFER else ",".join(record.support)
            group = (record.algorithm, where, target, others)
            value = tuple(repr(record.cell[k]) for k in applied)
            groups.setdefault(group, {}).setdefault(value, []).append(record)
    selections: list[Selection] = []
    for (algorithm, where, target, others), by_value in groups.items():
        scores = {value: mean([_dev(r, target) or 0.0 for r in members]) for value, members in by_value.items()}
        best = max(scores, key=lambda v: scores[v])  # max keeps the first of equal scores: grid order
        members = by_value[best]
        applied = [k for k in keys if k in members[0].cell and _applies(members[0], k)]
        shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in others) if others else ""
        aux = where if algorithm not in TRANSFER else ""
        selections += [Selection(algorithm, target, k, members[0].cell[k], scores[best], shown, aux) for k in applied]
        kept += [_marked(r, keys) for r in members]
    return kept, selections


def _targets(record: RunRecord, per_target: bool) -> list[tuple[str, RunRecord]]:
    """The (target, trial) pairs a choice is made for: a MetaXL-family trial on its own target; per target, a
    meta-learning trial once per target it scored, as a trial scored on that target alone; else the whole trial."""
    if not per_target:
        return [("", record)]
    if record.algorithm in TRANSFER:
        return [(record.query[0] if record.query else "", record)]
    langs = dict.fromkeys(lang for per in record.scores.values() for lang in per)
    return [(lang, dataclasses.replace(record, scores=_only(record.scores, lang),
                                       baseline=_only(record.baseline, lang))) for lang in langs] or [("", record)]


def _only(by_metric: Mapping[str, Mapping[str, float]], lang: str) -> dict[str, dict[str, float]]:
    return {metric: {lang: per[lang]} for metric, per in by_metric.items() if lang in per}


def _marked(record: RunRecord, keys: Sequence[str]) -> RunRecord:
    cell = {k: (SELECTED if k in keys else v) for k, v in record.cell.items()}
    return dataclasses.replace(record, cell=cell)


def _choice(s: Selection) -> str:
    row = f"{s.algorithm}{' (' + s.aux + ')' if s.aux else ''}"
    where = f"{row}{' ' + s.target if s.target else ''}{' (' + s.settings + ')' if s.settings else ''}"
    value = f"{s.value:g}" if isinstance(s.value, float) else str(s.value)
    return f"{where}: {s.key.rsplit('.', 1)[-1]}={value}"


def selection_note(selections: Sequence[Selection], keys: Sequence[str], per_target: bool) -> str:
    """The footnote of a table of selected trials: what was selected, how, and each choice."""
    names = ", ".join(keys)
    how = "per method and target" if per_target else "per method"
    choices = "; ".join(_choice(s) for s in selections)
    return (f"{names} selected on dev ({how}: the value of highest mean dev score over seeds; its test scores "
            f"shown){': ' + choices if choices else ''}")
