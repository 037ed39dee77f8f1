"""Table cells and rows, and the multiple-comparison correction of a table's tests.

A :class:`Cell` is the mean ± std over seeds of one row and column, with the test against the
row's reference (if it has one, :func:`xlsweep.report.verdict.compare`) and that test's adjusted
p-value over its family (:func:`holm_rows`: Holm by default, Benjamini–Hochberg on request); a
cell is significant when its adjusted p-value is below α, and says the size of its family. The
raw p-value stays in ``cell.test.p``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from xlsweep.report.stats import PairedTest, adjust, pool_tests

__all__ = ["EMPTY", "Cell", "Row", "holm_rows"]


@dataclass(frozen=True)
class Cell:
    """Mean ± std over seeds of one row and column.

    Attributes:
        mean: Mean over seeds (a fraction; for between-method rows, the mean difference).
        std: Sample std over seeds (NaN for one seed).
        n: Number of seeds.
        test: The paired test against the row's reference, if it has one.
        p_adjusted: The test's p-value after its family's correction (NaN when untested or not adjusted yet).
        family: The number of tests in that family.
    """

    mean: float
    std: float
    n: int
    test: PairedTest | None = None
    p_adjusted: float = math.nan
    family: int = 0

    @property
    def significant(self) -> bool:
        """Tested, and the adjusted p-value is below the test's α."""
        return self.test is not None and self.test.tested and self.p_adjusted < self.test.alpha

    @property
    def untested(self) -> bool:
        """A test was due but could not run (< 2 seed pairs, zero-variance differences); the reason is in the test."""
        return self.test is not None and not self.test.tested


EMPTY = Cell(math.nan, math.nan, 0)


@dataclass(frozen=True)
class Row:
    """One table row.

    Attributes:
        label: Row label, e.g. ``XLA-MAML (ana→bel)``.
        algorithm: The method (``""`` for the stage-1 row).
        aux_languages: The row's auxiliary languages (:class:`xlsweep.report.row_groups.RowGroup`).
        n: Number of seeds.
        cells: Column -> cell.
        reference: Whether the other rows are tested against this one.
        runs: ``(seed, MLflow run id)`` of the row's trials, by seed.
    """

    label: str
    algorithm: str
    aux_languages: tuple[str, ...]
    n: int
    cells: Mapping[str, Cell]
    reference: bool = False
    runs: tuple[tuple[int, str], ...] = field(default=())


def holm_rows(rows: Sequence[Row], correction: str = "holm", *, skip: Collection[str] = ()
              ) -> tuple[list[Row], int]:
    """``rows`` with every tested cell's adjusted p-value (``correction``: ``holm`` or ``bh``), over all of them
    as one family, the columns in ``skip`` left as they are (another family's); and the family size."""
    tested = [(i, column) for i, row in enumerate(rows) for column, cell in row.cells.items()
              if cell.test is not None and cell.test.tested and column not in skip]
    cells = [dict(row.cells) for row in rows]
    pooled = pool_tests([_test(rows[i].cells[column]) for i, column in tested])  # the family's seed variance
    adjusted = adjust([test.p for test in pooled], correction)
    for (i, column), test, p in zip(tested, pooled, adjusted, strict=True):
        cells[i][column] = replace(cells[i][column], test=test, p_adjusted=p, family=len(tested))
    return [replace(row, cells=cells[i]) for i, row in enumerate(rows)], len(tested)


def _test(cell: Cell) -> PairedTest:
    assert cell.test is not None
    return cell.test
