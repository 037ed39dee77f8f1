"""A method against the one it is compared with (:attr:`~xlsweep.methods.base.Method.compared_with`: XLA-MAML
against X-MAML) with the same auxiliary languages, paired by seed (the XLA-MAML paper's claim).

Table 3 of the XLA-MAML paper (§4.3) sets "X-MAML hi → X" next to "XLA-MAML hi → X" — X-MAML
meta-learns on hi alone, XLA-MAML with the inner step on the source (en) and the meta step on
hi — and claims XLA-MAML improves on X-MAML. A sweep with both methods (``meta.algorithm`` as
a grid axis) gets one comparison row per XLA-MAML row and X-MAML row that share their
auxiliary languages and settings (:func:`xlsweep.report.row_groups.pair_key`): per column, the
per-seed difference XLA-MAML − X-MAML (mean ± std over seeds) and the report's test
(:func:`xlsweep.report.verdict.compare`: the paired bootstrap over seeds and test examples on the
two rows' per-example outcomes, else the t-test over seeds), pairs matched by seed. These tests
are their own family: the correction runs over every tested comparison cell of one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xlsweep.methods import all_methods
from xlsweep.report.row_groups import RowGroup, SeedGrid, over, pair_key
from xlsweep.report.table_cells import Cell, Row, holm_rows
from xlsweep.report.verdict import Evidence, TestOptions, compare, record_evidence

__all__ = ["COMPARED", "method_comparisons"]

COMPARED = {m.name: m.compared_with for m in all_methods() if m.compared_with}
"""Method -> the method its rows are set against (``xla-maml`` -> ``x-maml``)."""


def method_comparisons(groups: Sequence[RowGroup], grids: Mapping[str, SeedGrid],
                       spans: Mapping[str, Mapping[str, list[str]]], *, metric: str, options: TestOptions
                       ) -> tuple[list[Row], int]:
    """One row per matching pair of rows (XLA-MAML and X-MAML), adjusted as one family; and the family size.

    Args:
        groups: The table's meta-learning rows.
        grids: Row label -> its seed grid.
        spans: Row label -> column -> the target languages the column averages.
        metric: The score compared (its per-example outcomes feed the bootstrap).
        options: The test and correction.

    Returns:
        Rows labelled ``XLA-MAML (…) − X-MAML (…)`` (algorithm ``xla-maml − x-maml``) whose cells
        hold the difference and its test, and the number of tested cells.
    """
    rows = []
    for ours in (g for g in groups if g.algorithm in COMPARED):
        other = COMPARED[ours.algorithm]
        for theirs in (g for g in groups if g.algorithm == other and pair_key(g) == pair_key(ours)):
            cells = {}
            task, mine, _ = record_evidence(ours.records, metric)
            other_task, yours, _ = record_evidence(theirs.records, metric)
            evidence = Evidence(task or other_task, metric, mine, yours)
            for column, langs in spans[ours.label].items():
                test = compare(over(grids[ours.label], langs)[0], over(grids[theirs.label], langs)[0],
                               evidence=evidence, languages=langs, options=options)
                cells[column] = Cell(test.mean_diff, test.std_diff, test.n, test)
            seeds = sorted(set(grids[ours.label]) & set(grids[theirs.label]))
            runs = tuple(sorted((r.seed, r.run_id) for r in (*ours.records, *theirs.records) if r.seed in seeds))
            rows.append(Row(f"{ours.label} − {theirs.label}", f"{ours.algorithm} − {other}", ours.aux_languages,
                            len(seeds), cells, runs=runs))
    return holm_rows(rows, options.correction)
