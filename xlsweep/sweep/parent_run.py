"""A sweep's parent run in MLflow: opened before any work, told the outcome after, and asked what its trials came to.

The parent run carries the experiment's note, the sweep's fixed params, the grid, a shared view of
its trials, the reports (files and tables) and a description with the best choice per target; its
child runs say which trials ended, which a scheduler stopped and which learnt nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlsweep.config import SweepConfig
from xlsweep.plan import Cells, expand_grid
from xlsweep.report import TrialRecord
from xlsweep.sweep.errors import SweepError
from xlsweep.sweep.mlflow_fields import grid_json, parent_params, report_tables, shared_view, sweep_description
from xlsweep.sweep.outcome import SweepOutcome, os_error
from xlsweep.sweep.pair_evidence import Recalled
from xlsweep.tasks import get_task
from xlsweep.tracking import SweepRun, TrackingError, check_store, view_key
from xlsweep.tracking.source import source_tags
from xlsweep.tracking.tags import (
    AUX_TAG,
    CELL_TAG,
    DEGENERATE_TAG,
    GRID_TAG,
    PRIMARY_TAG,
    SEARCH_METRIC,
    SEED_TAG,
    SELECT_ON_DEV_TAG,
    STOPPED_TAG,
    TASK_TAG,
    TRIAL_TAG,
)
from xlsweep.tracking.urls import REPORT_FILE, artifact_url, report_page_url, view_url

__all__ = ["EXPERIMENT_NOTE", "account", "check_tracking", "degenerate_trials", "open_tracking", "report_to_parent",
           "search_finished"]

Log = Callable[[str], None]


def check_tracking(uri: str) -> None:
    """The store answers within seconds and can be written (MLflow's own client would retry for minutes)."""
    try:
        check_store(uri, create=True, write=True)
    except TrackingError as err:
        raise SweepError(f"tracking: {err}") from None


EXPERIMENT_NOTE = (
    "Sweeps run by **xlsweep**: each top-level run is one sweep (its description names the best choice per "
    "target; `report.html` in its artifacts is the heatmap and tables), its child runs are the sweep's trials "
    "(named by their grid values; final scores as metrics and `scores.json`, in points: ×100, as the papers "
    "print them). `tags.xlsweep.parent_sweep_id = "
    "'<sweep id>'` selects one sweep's trials, `params.aux.query = 'cor'` the auxiliary choices whose query "
    "language is cor; the links in a sweep's description open its trials grouped by grid values with a Δ column "
    "(and chart) per target.")


def select_on_dev_tag(sweep: SweepConfig) -> str:
    """The parent run's record of the keys the reports choose on dev (read back by the report's loader)."""
    return ",".join(sweep.select_on_dev.keys) + ("+target" if sweep.select_on_dev.per_target else "")


def open_tracking(sweep: SweepConfig, uri: str, sweep_id: str, cells: Cells | None = None) -> SweepRun:
    """The sweep's parent run (``cells``: the checked cells, else the sweep's, expanded)."""
    cells = expand_grid(sweep) if cells is None else cells
    try:
        tracker = SweepRun(uri, sweep.tracking.experiment or sweep.name)
        tracker.describe_experiment(EXPERIMENT_NOTE)
        tracker.start(sweep_id, name=sweep.name, params=parent_params(cells, tuple(sweep.search.space)),
                      tags={GRID_TAG: grid_json(sweep), TASK_TAG: sweep.trial.data.task,
                            PRIMARY_TAG: get_task(sweep.trial.data.task).primary, **source_tags(),
                            **({SELECT_ON_DEV_TAG: select_on_dev_tag(sweep)} if sweep.select_on_dev.keys else {})})
        tracker.share_view(view_key(sweep_id), shared_view(sweep, sweep_id))  # its trials, grouped, Δ per target
    except Exception as err:  # any store error: unreachable server, bad URI, locked file
        raise SweepError(f"tracking: cannot use the MLflow store at {uri!r} ({type(err).__name__}: {err}); "
                         "pass a reachable --tracking-uri") from None
    return tracker


def report_to_parent(outcome: SweepOutcome, tracker: SweepRun, primary: str, log: Log) -> None:
    """The sweep's tables, heatmap and best pairs, built from MLflow as `xlsweep report` builds them."""
    from xlsweep.report.sweep_report import report_from_mlflow
    from xlsweep.report.sweep_results import ReportError

    try:
        report = report_from_mlflow(outcome.tracking_uri, parent_run_id=outcome.parent_run_id, out_dir=outcome.out_dir)
    except ReportError as err:
        log(f"\nno report: {err}")
        _describe_parent_run(tracker, outcome, None, problem=str(err))
        return
    log("")
    for line in report.lines:
        log(line)
    outcome.records = [TrialRecord(aux=r.aux, seed=r.seed, scores=dict(r.scores.get(primary, {})),
                                   baseline=dict(r.baseline.get(primary, {}))) for r in report.results.records]
    out = outcome.out_dir
    outcome.heatmap = out / "aux_target_delta.png" if (out / "aux_target_delta.png").exists() else None
    outcome.table_csv = next((p for p in (out / "aux_target_delta.csv", out / "method_table.csv") if p.exists()),
                             None)
    try:
        tracker.log_artifacts([*report.paths, *([outcome.trials_csv] if outcome.trials_csv else [])])
    except OSError as err:  # e.g. the artifact store's disk is full: the reports are on disk all the same
        log(f"\nthe reports were not copied to the MLflow parent run: {os_error(err)}")
        return
    for name, columns, rows in report_tables(report):  # in MLflow's table viewer
        tracker.log_table(columns, rows, name)
    _describe_parent_run(tracker, outcome, report)


def _describe_parent_run(tracker: SweepRun, outcome: SweepOutcome, report: Any, problem: str | None = None) -> None:
    """The parent run's description: best choice per target, trial counts, links (UI routes) and outputs."""
    names = {Path(p).name for p in (report.paths if report is not None else ())}
    page = next((f for f in (REPORT_FILE, "aux_target_delta.png") if f in names), None)
    eid, rid = tracker.experiment_id, tracker.run_id
    tracker.describe(sweep_description(
        sweep=tracker.name, sweep_id=tracker.sweep_id, report=report, finished=len(outcome.records),
        failed=len(outcome.failures), stopped=len(outcome.stopped), out_dir=str(outcome.out_dir), problem=problem,
        page=(report_page_url("", rid) if page == REPORT_FILE else artifact_url("", eid, rid, page)) if page else None,
        viewer=artifact_url("", eid, rid, page) if page == REPORT_FILE else None,
        runs=view_url("", eid, view_key(tracker.sweep_id)),
        charts=view_url("", eid, view_key(tracker.sweep_id), charts=True)))


def account(tracker: SweepRun, results: Any, expected: int) -> tuple[int, list[str]]:
    """(trials that reached an end — finished, failed, or stopped by the scheduler —, reasons of stopped ones).

    From MLflow, which also knows the trials of earlier sessions of a resumed sweep, and
    from Tune's errors (a trial whose node died after its last retry never closed its run).
    """
    ended: set[str] = {Path(result.path).name.removeprefix("trial_") for result in results
                       if result.error is not None}
    stopped = []
    for run in tracker.children():
        tags, status = run.data.tags, run.info.status
        if STOPPED_TAG in tags and status != "FINISHED":
            stopped.append(f"{tags.get(CELL_TAG, tags.get(AUX_TAG))}: {tags[STOPPED_TAG]}")
            ended.add(tags.get(TRIAL_TAG, run.info.run_id))
        elif status in ("FINISHED", "FAILED"):
            ended.add(tags.get(TRIAL_TAG, run.info.run_id))
    return min(len(ended), expected), stopped


def search_finished(tracker: SweepRun, sweep: SweepConfig, recalled: Recalled | None) -> bool:
    """Whether the sweep's pair search closed its last rung (its scheduler logs the parent's compute after every
    rung, :data:`~xlsweep.tracking.tags.SEARCH_METRIC`), of this session or an earlier one of a resumed sweep."""
    from xlsweep.plan.pair_search import new_search, search_setup

    rungs = new_search(sweep, None, recalled.evidence(search_setup(sweep)) if recalled else None).schedule.rungs
    closed = [step for step, _ in tracker.history(f"{SEARCH_METRIC}spent_steps")]
    return not rungs or (bool(closed) and max(closed) >= len(rungs) - 1)


def degenerate_trials(tracker: SweepRun) -> list[str]:
    """The trials (of every session) whose model learnt nothing, from their runs' ``xlsweep.degenerate`` tag."""
    return [f"trial {tags.get(AUX_TAG, '?')} seed {tags.get(SEED_TAG, '?')}: {tags[DEGENERATE_TAG]}"
            for tags in (run.data.tags for run in tracker.children()) if DEGENERATE_TAG in tags]
