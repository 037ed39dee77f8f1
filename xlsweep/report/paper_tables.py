"""Result tables in the shape of the papers, with seeds as repeats and significance marks.

* :func:`aux_paper_table` — the XLA-MAML paper's Table 3: a stage-1 baseline row, then one
  row per method and auxiliary choice (``X-MAML (bel)``, ``XLA-MAML (ana→bel)``); columns are
  the target languages, ``avg`` and ``avg†`` (the average without the row's auxiliary
  languages, support ∪ query).
* :func:`method_paper_table` — MetaXL's Tables 2/4: a source-only (stage-1) row, then one row
  per method (target-only, JT, JT w/ RTN, MetaXL and their varying settings); each trial
  counts on its own target; columns are the targets and ``avg``.

A cell is the mean ± std over seeds with its n; it is marked significant only when the report's
test (:func:`xlsweep.report.verdict.compare`; by default the two-sided hierarchical paired
bootstrap over seeds and test examples) says the row differs from its reference — the stage-1
baseline in Table 3, a baseline method in MetaXL's tables — after the correction of its family
(Holm by default). Against stage 1 the per-target cells take their verdict from
:func:`xlsweep.report.best_pairs.best_pairs` (one family: every choice × target of the sweep), so
the tables, the heatmap and ``best_pairs.csv`` agree cell for cell; the average columns are a
family of their own, as are the cells against a baseline method
(:func:`xlsweep.report.table_cells.holm_rows`). Table 3 with X-MAML and XLA-MAML rows also carries
their paired comparison (:mod:`xlsweep.report.comparisons`), a family of its own.
An average cell takes, per seed, the mean over its languages, counting only seeds that
scored all of them. Values are fractions; renderers show them ×100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from xlsweep.methods import all_methods
from xlsweep.report.aux_table import BASELINE_TOLERANCE
from xlsweep.report.best_pairs import RankedPair, best_pairs
from xlsweep.report.comparisons import method_comparisons
from xlsweep.report.heatmap import AVG_COLUMN, UNTESTED_MARK
from xlsweep.report.method_table import BASELINE_ROW
from xlsweep.report.row_groups import RTN_KEYS, RowGroup, SeedGrid, languages, over, row_groups, seed_grid, stage1_grid
from xlsweep.report.stats import DEFAULT_ALPHA, mean, std
from xlsweep.report.sweep_results import ReportError, RunRecord
from xlsweep.report.table_cells import EMPTY, Cell, Row, holm_rows
from xlsweep.report.verdict import Evidence, TestOptions, compare, record_evidence

__all__ = ["AVG_EXCL_COLUMN", "CORRECTION", "STAGE1", "UNTESTED_MARK", "Cell", "PaperTable", "Row", "aux_paper_table",
           "delta_frames", "heatmap_labels", "method_paper_table", "untested_frame"]

AVG_EXCL_COLUMN = "avg†"
"""Table 3's average over the targets that are not among the row's auxiliary languages."""

STAGE1 = "stage1"
"""The ``baseline`` value that names the stage-1 model (zero-shot) as the reference."""

CORRECTION = "Holm"
"""The multiple-comparison correction, named in footnotes and legends."""

DEFAULT_REFERENCES = tuple(m.name for m in sorted(all_methods(), key=lambda m: m.reference) if m.reference)
"""MetaXL tables: the first of these methods present is the default reference (``jt``, else ``target-only``)."""


@dataclass(frozen=True)
class PaperTable:
    """A rendered-agnostic table: columns (targets, then averages), rows, and footnotes.

    ``tested`` is the number of the rows' tested cells (each cell names its own family, ``cell.family``);
    ``comparisons`` are XLA-MAML − X-MAML rows (:mod:`xlsweep.report.comparisons`), ``compared`` the size of
    theirs; ``options`` the test and correction.
    """

    title: str
    metric: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]
    tested: int = 0
    comparisons: tuple[Row, ...] = ()
    compared: int = 0
    options: TestOptions = TestOptions()

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in (AVG_COLUMN, AVG_EXCL_COLUMN))

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"no row {label!r}: expected one of {[r.label for r in self.rows]}")


def aux_paper_table(records: Sequence[RunRecord], metric: str, *, alpha: float = DEFAULT_ALPHA,
                    title: str | None = None, options: TestOptions | None = None,
                    ranked: Mapping[str, Sequence[RankedPair]] | None = None) -> PaperTable:
    """The XLA-MAML paper's Table 3 from the meta-learning (X-MAML, XLA-MAML) trials.

    ``options`` (default: pooled, Holm at ``alpha``) say how to test; ``ranked`` is the sweep's
    :func:`~xlsweep.report.best_pairs.best_pairs` for ``metric`` with the same options (computed when not given),
    whose verdicts the per-target cells take.

    Raises:
        ReportError: If there are no meta-learning trials, none scored ``metric``, or a
            trial lacks its stage-1 baseline.
    """
    groups = [g for g in row_groups(records) if not g.transfer]
    if not groups:
        raise ReportError(f"no meta-learning trials: expected x-maml or xla-maml runs, got algorithms "
                          f"{sorted({r.algorithm for r in records})}")
    options = options or TestOptions(alpha=alpha)
    grids = {g.label: seed_grid(g.records, metric) for g in groups}
    targets = _targets(grids, metric, records)
    verdicts = _stage1_verdicts(ranked if ranked is not None else best_pairs(records, metric, options=options))
    stage1 = stage1_grid([r for g in groups for r in g.records], metric)
    rows = [_stage1_row(stage1, targets, reference=True, blank=(AVG_EXCL_COLUMN,))]
    spans: dict[str, dict[str, list[str]]] = {}
    for group in groups:
        grid, evidence = grids[group.label], _evidence(group, metric)
        kept = [t for t in targets if t not in group.aux_languages]
        spans[group.label] = {**{t: [t] for t in targets}, AVG_COLUMN: targets, AVG_EXCL_COLUMN: kept}
        cells = {column: _cell(*over(grid, langs), options, evidence, langs, verdicts.get((group.label, column)))
                 for column, langs in spans[group.label].items()}
        rows.append(Row(group.label, group.algorithm, group.aux_languages, len(grid), cells, runs=_runs(group)))
    rows, averaged = holm_rows(rows, options.correction, skip=targets)
    tested = sum(1 for row in rows for cell in row.cells.values() if cell.test is not None and cell.test.tested)
    comparisons, compared = method_comparisons(groups, grids, spans, metric=metric, options=options)
    shared = next((cell.family for row in rows for t in targets if (cell := row.cells[t]).family), 0)
    notes = [_values_note(metric),
             f"{AVG_EXCL_COLUMN}: average that excludes the row's auxiliary languages — its meta-step (query) "
             "languages and its inner-step (support) languages other than the stage-1 source (XLA-MAML paper, "
             "Table 3)",
             _test_note("the stage-1 baseline", options, shared, averaged)]
    if comparisons:
        notes.append(_comparison_note(options, compared))
    return PaperTable(title or f"{metric} by auxiliary languages", metric,
                      (*targets, AVG_COLUMN, AVG_EXCL_COLUMN), tuple(rows), tuple(notes), tested,
                      tuple(comparisons), compared, options)


def method_paper_table(records: Sequence[RunRecord], metric: str, *, baseline: str | None = None,
                       alpha: float = DEFAULT_ALPHA, title: str | None = None, options: TestOptions | None = None,
                       ranked: Mapping[str, Sequence[RankedPair]] | None = None) -> PaperTable:
    """MetaXL's Tables 2/4 from the MetaXL-family trials (metaxl, jt, jt-rtn, target-only).

    Args:
        records: The sweep's trials; meta-learning ones are ignored.
        metric: The score to tabulate, e.g. ``f1``.
        baseline: The reference method rows are tested against: a method of the sweep
            (``jt``, ``target-only``, …) or ``"stage1"``; ``None`` takes ``jt`` if present,
            else ``target-only``, else no test. Rows of the reference method are not tested;
            with several reference rows, a row is paired with the one of the same settings.
        alpha: Significance level.
        title: Table title.
        options: The test and correction (default: pooled, Holm at ``alpha``).
        ranked: With the stage-1 reference, the sweep's best pairs whose verdicts the per-target cells take.

    Raises:
        ReportError: If there are no MetaXL-family trials, none scored ``metric``, or
            ``baseline`` names no method of the sweep.
    """
    groups = [g for g in row_groups(records) if g.transfer]
    if not groups:
        raise ReportError(f"no MetaXL-family trials: expected metaxl, jt, jt-rtn or target-only runs, got "
                          f"algorithms {sorted({r.algorithm for r in records})}")
    options = options or TestOptions(alpha=alpha)
    grids = {g.label: seed_grid(g.records, metric) for g in groups}
    targets = _targets(grids, metric, records)
    reference = _reference(baseline, groups)
    verdicts: dict[tuple[str, str], RankedPair] = {}
    if reference == STAGE1:
        verdicts = _stage1_verdicts(ranked if ranked is not None else best_pairs(records, metric, options=options))
    stage1 = stage1_grid([r for g in groups for r in g.records], metric)
    rows = [_stage1_row(stage1, targets, reference=reference == STAGE1)]
    untested: list[str] = []
    evidence = {g.label: _evidence(g, metric) for g in groups}
    for group in groups:
        against = None if reference in (None, group.algorithm) else _match(group, groups, reference)
        if against is None and reference not in (None, group.algorithm):
            untested.append(group.label)
        versus = _versus(evidence[group.label], against, evidence)
        cells = {}
        for column, langs in {**{t: [t] for t in targets}, AVG_COLUMN: targets}.items():
            values, bases = over(grids[group.label], langs)
            cells[column] = _cell(values, _compared(against, bases, grids, langs), options, versus, langs,
                                  verdicts.get((group.label, column)))
        rows.append(Row(group.label, group.algorithm, group.aux_languages, len(grids[group.label]), cells,
                        reference=group.algorithm == reference, runs=_runs(group)))
    rows, own = holm_rows(rows, options.correction, skip=targets if verdicts else ())
    tested = sum(1 for row in rows for cell in row.cells.values() if cell.test is not None and cell.test.tested)
    notes = [_values_note(metric) + "; each trial is scored on its own target"]
    if reference is not None:
        several = sum(g.algorithm == reference for g in groups) > 1
        name = "the stage-1 baseline" if reference == STAGE1 else reference
        name += " (the row of the same settings)" if several else ""
        shared = next((c.family for row in rows for t in targets if (c := row.cells[t]).family), 0) if verdicts else 0
        notes.append(_test_note(name, options, shared, own))
    if untested:
        notes.append(f"not tested (no single matching {reference} row): {', '.join(untested)}")
    return PaperTable(title or f"{metric} by method", metric, (*targets, AVG_COLUMN), tuple(rows), tuple(notes),
                      tested, options=options)


def delta_frames(table: PaperTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3's rows × (targets, avg): mean improvement over the stage-1 baseline, and the significance mask.

    The first frame has the shape of :func:`xlsweep.report.delta_table` (fractions, index
    ``aux``, ``attrs["n"]`` = seeds per row), ready for ``write_csv`` and ``write_heatmap``;
    the second is True where the paired test is significant after Holm's adjustment.
    :func:`untested_frame` gives the cells whose test could not run.
    """
    rows, index, columns = _heatmap_rows(table)
    deltas = pd.DataFrame([[_diff(row.cells.get(c, EMPTY)) for c in columns] for row in rows],
                          index=index, columns=columns, dtype=float)
    mask = pd.DataFrame([[row.cells.get(c, EMPTY).significant for c in columns] for row in rows],
                        index=index, columns=columns, dtype=bool)
    deltas.attrs["n"] = {label: row.n for label, row in zip(index, rows, strict=True)}
    return deltas, mask


def untested_frame(table: PaperTable) -> pd.DataFrame:
    """True where a cell of :func:`delta_frames`' shape has a test that could not run (marked ``○``)."""
    rows, index, columns = _heatmap_rows(table)
    return pd.DataFrame([[row.cells.get(c, EMPTY).untested for c in columns] for row in rows],
                        index=index, columns=columns, dtype=bool)


def heatmap_labels(table: PaperTable) -> list[str]:
    """The heatmap's row labels: the rows' labels, or only their aux choices when one method has them all."""
    labels = [row.label for row in table.rows if not row.reference]
    prefixes = {label.split(" (", 1)[0] for label in labels}
    if len(prefixes) == 1 and all(" (" in label for label in labels):  # one method: rows are its aux choices
        labels = [label.split(" (", 1)[1].replace(")", "", 1) for label in labels]
    return labels


def _heatmap_rows(table: PaperTable) -> tuple[list[Row], pd.Index, pd.Index]:
    rows = [row for row in table.rows if not row.reference]
    return (rows, pd.Index(heatmap_labels(table), name="aux"),
            pd.Index([*table.targets, AVG_COLUMN], name="target"))


def _diff(cell: Cell) -> float:
    return cell.test.mean_diff if cell.test is not None else math.nan


def _targets(grids: Mapping[str, SeedGrid], metric: str, records: Sequence[RunRecord]) -> list[str]:
    targets = languages(grids.values())
    if not targets:
        available = sorted({m for r in records for m, per in r.scores.items() if per})
        raise ReportError(f"no {metric!r} scores in the finished trials: expected one of {available}")
    return targets


def _runs(group: RowGroup) -> tuple[tuple[int, str], ...]:
    return tuple(sorted((r.seed, r.run_id) for r in group.records))


def _cell(values: Mapping[int, float], compared: Mapping[int, float] | None, options: TestOptions,
          evidence: Evidence | None = None, langs: Sequence[str] = (), shared: RankedPair | None = None) -> Cell:
    """Mean ± std of ``values``, tested against ``compared`` — or carrying ``shared``'s verdict (the sweep's family)."""
    sample = list(values.values())
    if shared is not None and compared is not None and sample:
        return Cell(mean(sample), std(sample), len(sample), shared.test, shared.p_adjusted, shared.family)
    test = None if compared is None or not sample else compare(values, compared, evidence=evidence, languages=langs,
                                                               options=options)
    return Cell(mean(sample), std(sample), len(sample), test)


def _stage1_verdicts(ranked: Mapping[str, Sequence[RankedPair]]) -> dict[tuple[str, str], RankedPair]:
    return {(pair.label, target): pair for target, pairs in ranked.items() for pair in pairs}


def _evidence(group: RowGroup, metric: str) -> Evidence:
    """The group's trials against their stage-1 baselines, per seed and language."""
    task, trial, base = record_evidence(group.records, metric)
    return Evidence(task, metric, trial, base)


def _versus(ours: Evidence, against: RowGroup | str | None, evidence: Mapping[str, Evidence]) -> Evidence | None:
    """The outcomes behind a row's test: against stage 1, its own baselines'; against a row, that row's trials'."""
    if isinstance(against, RowGroup):
        theirs = evidence[against.label]
        return Evidence(ours.task or theirs.task, ours.metric, ours.row, theirs.row)
    return ours if against == STAGE1 else None


def _stage1_row(grid: SeedGrid, targets: list[str], *, reference: bool, blank: tuple[str, ...] = ()) -> Row:
    """The stage-1 baseline's row; ``blank`` columns (avg†: it has no auxiliary languages) stay empty.

    One stage-1 model shared by every seed is one value, not a repeat: a column whose baseline
    is the same for every seed shows that value with n = 1 (and no std).
    """
    spans = {**{t: [t] for t in targets}, AVG_COLUMN: targets}
    cells = {column: _stage1_cell(over(grid, langs)[0]) for column, langs in spans.items()}
    cells |= {column: EMPTY for column in blank}
    return Row(BASELINE_ROW, "", (), max(cell.n for cell in cells.values()), cells, reference=reference)


def _stage1_cell(values: Mapping[int, float]) -> Cell:
    sample = list(values.values())
    if sample and max(sample) - min(sample) <= BASELINE_TOLERANCE:
        return Cell(sample[0], math.nan, 1)
    return _cell(values, None, TestOptions())


def _reference(baseline: str | None, groups: Sequence[RowGroup]) -> str | None:
    present = list(dict.fromkeys(g.algorithm for g in groups))
    if baseline is None:
        return next((m for m in DEFAULT_REFERENCES if m in present), None)
    if baseline == STAGE1 or baseline in present:
        return baseline
    raise ReportError(f"unknown baseline {baseline!r}: expected {STAGE1!r} or a method of this sweep "
                      f"({', '.join(present)})")


def _match(group: RowGroup, groups: Sequence[RowGroup], reference: str) -> RowGroup | str | None:
    """The reference row ``group`` is tested against: the only one, or the one with the same non-RTN settings."""
    if reference == STAGE1:
        return STAGE1
    candidates = [g for g in groups if g.algorithm == reference]
    if len(candidates) == 1:
        return candidates[0]
    wanted = {k: v for k, v in group.settings.items() if k not in RTN_KEYS}
    same = [g for g in candidates if {k: v for k, v in g.settings.items() if k not in RTN_KEYS} == wanted]
    return same[0] if len(same) == 1 else None


def _compared(against: RowGroup | str | None, bases: dict[int, float], grids: Mapping[str, SeedGrid],
              langs: list[str]) -> dict[int, float] | None:
    """Per seed, the reference's values over ``langs``: the stage-1 baselines, a reference row's, or none."""
    if isinstance(against, RowGroup):
        return over(grids[against.label], langs)[0]
    return bases if against == STAGE1 else None


def _values_note(metric: str) -> str:
    return f"{metric} ×100 on the test split: mean ± std over seeds, n = seeds"


def _test_note(reference: str, options: TestOptions, shared: int, own: int) -> str:
    name = options.correction_name
    family = (f"the target columns {name}-adjusted over the sweep's {shared} (choice, target) tests against stage 1 "
              f"(the family of best_pairs.csv and the heatmap), the other tested cells over their own {own}"
              if shared else f"{name}-adjusted over the table's {own} tested cell{'' if own == 1 else 's'}")
    return (f"bold and *: significant {options.claim} {reference} by a {options.test_name}, pairs matched by seed; "
            f"{family}; α = {options.alpha:g}; {UNTESTED_MARK}: not tested (no per-example outcomes and < 2 seed "
            "pairs or zero variance of the differences)")


def _comparison_note(options: TestOptions, compared: int) -> str:
    return (f"XLA-MAML − X-MAML rows: per-seed difference of the rows with the same auxiliary languages, mean ± "
            f"std over seeds; * where the {options.test_name} is significant, {options.correction_name}-adjusted "
            f"over these {compared} tested cell{'' if compared == 1 else 's'} (their own family), "
            f"α = {options.alpha:g}")
