"""The "auxiliary × target" table of metric deltas against a baseline.

After a sweep every trial yields one :class:`TrialRecord`: the auxiliary-language
choice it meta-learned with (the row label, e.g. ``"ana→bel"`` for support→query),
its seed, its per-target metric after meta-learning and the baseline's metric on
the same targets (the stage-1 model, zero-shot). :func:`delta_table` averages
``score - baseline`` over the seeds of each auxiliary choice, giving the shape of
Figure 2 of the XLA-MAML paper: one row per auxiliary choice, one column per target
language, and a final ``avg`` column. :func:`write_csv` and :func:`write_heatmap`
(:mod:`xlsweep.report.heatmap`) render that table for files and figures (the sweep's own
tables come from :mod:`xlsweep.report.paper_tables`, which hands its deltas to the same writers).

Values in the table are fractions (the metric's own scale); the heatmap shows them
in percentage points (×100).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from xlsweep.report.heatmap import AVG_COLUMN, write_csv, write_heatmap
from xlsweep.report.stats import mean

__all__ = [
    "AVG_COLUMN",
    "TrialRecord",
    "delta_table",
    "write_csv",
    "write_heatmap",
]

BASELINE_TOLERANCE = 1e-9
"""Largest difference allowed between two records' baselines for the same target."""



@dataclass(frozen=True)
class TrialRecord:
    """The outcome of one sweep trial.

    Attributes:
        aux: Row label: the auxiliary-language choice, e.g. ``"ana→bel"``
            (support→query) or ``"bel"``.
        seed: The trial's random seed.
        scores: Target language -> metric after meta-learning (e.g. accuracy in [0, 1]).
            A target absent here is left out of that target's cell.
        baseline: Target language -> the baseline's metric (stage-1 model, zero-shot).
            Must cover every target in ``scores``.
    """

    aux: str
    seed: int
    scores: Mapping[str, float]
    baseline: Mapping[str, float]


# ---------------------------------------------------------------------------
# Building the table
# ---------------------------------------------------------------------------


def delta_table(records: Sequence[TrialRecord], targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Average ``score - baseline`` per auxiliary choice and target language.

    Args:
        records: One record per trial; at least one.
        targets: Target columns in display order. ``None`` takes every target that
            occurs in the records' scores, in order of first appearance. Targets not
            listed here are ignored.

    Returns:
        A float DataFrame indexed by aux label (order of first appearance, index name
        ``"aux"``) with one column per target and a final ``"avg"`` column (columns
        name ``"target"``). A cell is the mean over that aux's records that scored the
        target; a cell no record scored is NaN, and ``avg`` is the mean of the row's
        non-NaN target cells (NaN if there are none). ``df.attrs["n"]`` maps each aux
        label to its number of records.

    Raises:
        ValueError: If there are no records, ``targets`` is empty, repeats a name,
            uses the reserved name ``"avg"`` or names a target no record scored, or a
            record has a non-finite value or a score without a baseline.
    """
    _require_records(records)
    for record in records:
        _check_record(record)
    columns = _resolve_targets(records, targets)
    deltas = _collect_deltas(records, columns)
    table = pd.DataFrame(
        [[mean(deltas[aux][target]) for target in columns] for aux in deltas],
        index=pd.Index(list(deltas), name="aux"),
        columns=pd.Index(list(columns), name="target"),
        dtype=float,
    )
    table[AVG_COLUMN] = table[list(columns)].mean(axis=1, skipna=True)
    table.columns.name = "target"
    table.attrs["n"] = _count_per_aux(records)
    return table


def _require_records(records: Sequence[TrialRecord]) -> None:
    """Raise if ``records`` is empty."""
    if len(records) == 0:
        raise ValueError("no trial records: expected at least one TrialRecord, got an empty sequence")


def _check_record(record: TrialRecord) -> None:
    """Raise if a record has a non-finite value or a score without a baseline."""
    if AVG_COLUMN in record.scores:
        raise ValueError(
            f"target name {AVG_COLUMN!r} is reserved for the average column: "
            f"got it in the scores of aux {record.aux!r}, seed {record.seed}"
        )
    for target, score in record.scores.items():
        if target not in record.baseline:
            raise ValueError(
                f"missing baseline for target {target!r} in aux {record.aux!r}, seed {record.seed}: "
                f"expected one of the scored targets to have a baseline, got baselines for "
                f"{sorted(record.baseline)}"
            )
        for kind, value in (("score", score), ("baseline", record.baseline[target])):
            if not math.isfinite(float(value)):
                raise ValueError(
                    f"non-finite {kind} for target {target!r} in aux {record.aux!r}, seed {record.seed}: "
                    f"expected a finite number, got {value!r}"
                )


def _resolve_targets(records: Sequence[TrialRecord], targets: Sequence[str] | None) -> list[str]:
    """The table's target columns: ``targets`` validated, or those seen in the records."""
    seen = list(dict.fromkeys(target for record in records for target in record.scores))
    if targets is None:
        if not seen:
            raise ValueError("no targets: expected at least one record with a score, got only empty scores")
        return seen
    columns = list(targets)
    if not columns:
        raise ValueError("no targets: expected at least one target name (or None for all), got an empty list")
    duplicates = sorted({target for target in columns if columns.count(target) > 1})
    if duplicates:
        raise ValueError(f"repeated targets: expected each target once, got {duplicates} more than once")
    if AVG_COLUMN in columns:
        raise ValueError(f"target name {AVG_COLUMN!r} is reserved for the average column: got it in targets")
    unknown = [target for target in columns if target not in seen]
    if unknown:
        raise ValueError(
            f"unknown target(s) {unknown}: expected targets that some record scored, "
            f"got records scoring {seen}"
        )
    return columns


def _collect_deltas(
    records: Sequence[TrialRecord], columns: Sequence[str]
) -> dict[str, dict[str, list[float]]]:
    """Aux -> target -> the records' deltas, aux labels in order of first appearance."""
    deltas: dict[str, dict[str, list[float]]] = {}
    for record in records:
        row = deltas.setdefault(record.aux, {target: [] for target in columns})
        for target in columns:
            if target in record.scores:
                row[target].append(float(record.scores[target]) - float(record.baseline[target]))
    return deltas


def _count_per_aux(records: Sequence[TrialRecord]) -> dict[str, int]:
    """Aux label -> number of records, in order of first appearance."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.aux] = counts.get(record.aux, 0) + 1
    return counts
