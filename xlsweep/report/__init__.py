"""Reports built from a finished sweep's trial records.

The tables, statistics and renderers import without MLflow; reading a sweep back from
MLflow lives in :mod:`xlsweep.report.from_mlflow`, and everything a sweep's reports need,
from tracking URI to files, in :func:`xlsweep.report.sweep_report.report_from_mlflow`.
"""

from __future__ import annotations

from xlsweep.report.aux_table import (
    AVG_COLUMN,
    TrialRecord,
    delta_table,
    write_csv,
    write_heatmap,
)
from xlsweep.report.best_pairs import RankedPair, best_pairs, best_pairs_lines, write_best_pairs_csv
from xlsweep.report.html_report import REPORT_HTML, write_html_report
from xlsweep.report.paper_tables import (
    AVG_EXCL_COLUMN,
    STAGE1,
    Cell,
    PaperTable,
    Row,
    aux_paper_table,
    delta_frames,
    method_paper_table,
    untested_frame,
)
from xlsweep.report.render import FORMATS, latex, markdown, parse_formats, write_table
from xlsweep.report.stats import DEFAULT_ALPHA, TEST_NAME, PairedTest, mean, paired_test, std
from xlsweep.report.sweep_results import Excluded, ReportError, RunRecord, SweepResults
from xlsweep.report.verdict import TestOptions, compare

__all__ = [
    "AVG_COLUMN",
    "AVG_EXCL_COLUMN",
    "DEFAULT_ALPHA",
    "FORMATS",
    "STAGE1",
    "TEST_NAME",
    "Cell",
    "Excluded",
    "PaperTable",
    "REPORT_HTML",
    "PairedTest",
    "RankedPair",
    "ReportError",
    "Row",
    "RunRecord",
    "SweepResults",
    "TestOptions",
    "TrialRecord",
    "aux_paper_table",
    "best_pairs",
    "best_pairs_lines",
    "compare",
    "delta_frames",
    "delta_table",
    "latex",
    "markdown",
    "mean",
    "method_paper_table",
    "paired_test",
    "parse_formats",
    "std",
    "write_best_pairs_csv",
    "write_csv",
    "untested_frame",
    "write_heatmap",
    "write_html_report",
    "write_table",
]
