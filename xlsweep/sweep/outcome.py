"""What a sweep comes to: its outcome, the failure reasons and one trials.csv row per finished trial."""

from __future__ import annotations

import csv
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsweep.report import TrialRecord
from xlsweep.tracking.runs import UNIT, is_score, points_written, readable

__all__ = ["SweepOutcome", "failures_and_rows", "os_error", "write_rows"]


@dataclass
class SweepOutcome:
    out_dir: Path
    parent_run_id: str
    tracking_uri: str
    records: list[TrialRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # trials the scheduler (ASHA) stopped early
    interrupted: bool = False  # the sweep did not finish: `xlsweep resume <out_dir>` continues it
    degenerate: list[str] = field(default_factory=list)  # stage 1 or trials whose model learnt nothing, and why
    heatmap: Path | None = None
    table_csv: Path | None = None
    trials_csv: Path | None = None


def failures_and_rows(results: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Failure reasons (errors after the last retry, diverged losses) and one trials.csv row per finished trial."""
    failures, rows = [], []
    for result in results:
        if result.config is None:  # never started (pending when the sweep was interrupted): no result yet
            continue
        cell, metrics = dict(result.config), result.metrics or {}
        if result.error is not None or "failure" in metrics:
            reason = str(result.error or metrics["failure"]).strip()
            failures.append(f"{cell}: {reason.splitlines()[-1] if reason else type(result.error).__name__}")
        elif "delta_avg" in metrics:  # else: stopped early by the scheduler, or unfinished (interrupted)
            rows.append({**cell, **{k: v for k, v in metrics.items() if _is_metric(k)}})
    return failures, rows


def _is_metric(key: str) -> bool:
    return "/" in key or key.endswith("_avg") or key in ("hausdorff", "dev_best")


def write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    """``trials.csv``: a row's grid values as they are, its scores in points to 2 decimals (the unit in the
    column's name: ``acc/bel (points)``), other metrics (a distance) at float32 precision."""
    def column(key: str) -> str:
        return f"{key} ({UNIT})" if _is_metric(key) and is_score(key) else key

    def value(key: str, v: Any) -> Any:
        if not _is_metric(key) or not isinstance(v, numbers.Real):  # numpy scalars too
            return v
        return points_written(float(v)) if is_score(key) else readable(float(v))

    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(column(k) for r in rows for k in r)))
        writer.writeheader()
        writer.writerows({column(k): value(k, v) for k, v in r.items()} for r in rows)
    return path


def os_error(err: OSError) -> str:
    """One line for an OSError (a full disk, a read-only directory, a missing file)."""
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or type(err).__name__}{where}" + (f" ({err})" if not err.strerror else "")
