"""What a sweep comes to: its outcome, the failure reasons and one trials.csv row per finished trial."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsweep.report import TrialRecord

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
            rows.append({**cell, **{k: v for k, v in metrics.items()
                                    if "/" in k or k.endswith("_avg") or k in ("hausdorff", "dev_best")}})
    return failures, rows


def write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def os_error(err: OSError) -> str:
    """One line for an OSError (a full disk, a read-only directory, a missing file)."""
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or type(err).__name__}{where}" + (f" ({err})" if not err.strerror else "")
