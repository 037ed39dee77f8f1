"""Reports built from a finished sweep's trial records."""

from __future__ import annotations

from xlsweep.report.aux_table import (
    AVG_COLUMN,
    TrialRecord,
    baseline_row,
    delta_table,
    summary_lines,
    write_csv,
    write_heatmap,
)

__all__ = [
    "AVG_COLUMN",
    "TrialRecord",
    "baseline_row",
    "delta_table",
    "summary_lines",
    "write_csv",
    "write_heatmap",
]
