"""A sweep's pages in the MLflow UI, as ``xlsweep sweep``, ``report`` and ``ui`` print them, and what a moved store
cannot show (the routes: :mod:`xlsweep.tracking.urls`).

A local store's sweep links its ``report.html`` as the page ``xlsweep ui`` serves (:mod:`xlsweep.tracking.app`); a
sweep on a tracking server (``http(s)://``, perhaps a plain ``mlflow server``) links it in the artifact viewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from xlsweep.tracking.store import ARTIFACTS_SCHEME, artifact_paths, local_artifact_dir, mlflow_client, sqlite_path
from xlsweep.tracking.tags import SWEEP_ID_TAG, SWEEP_TAG, VIEW_TAG
from xlsweep.tracking.urls import REPORT_FILE, artifact_url, report_page_url, run_url, runs_table_url, view_url

__all__ = ["SweepLinks", "latest_sweep", "moved_store_warnings", "sweep_links", "view_key"]

_FALLBACKS = (REPORT_FILE, "aux_target_delta.png", "method_table.md")  # what a sweep's page opens on, in order


def view_key(sweep_id: str) -> str:
    """The shared-view key of a sweep (what an experiment tag key allows)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", sweep_id)


@dataclass(frozen=True)
class SweepLinks:
    """A sweep's parent run and the UI pages that answer it."""

    sweep: str
    parent_run_id: str
    experiment_id: str
    page: str  # report.html as a page (`xlsweep ui`; in the artifact viewer on another server), else the heatmap
    page_is_report: bool
    run: str
    runs: str  # its trials grouped by grid values, Δ per target (else the experiment's runs table)
    charts: str | None  # the same in the chart view: a Δ chart per target, a bar per group

    def lines(self) -> list[str]:
        """``report:`` / ``runs:`` / ``charts:`` lines as the CLI prints them."""
        label = "report:" if self.page_is_report else "sweep:"
        lines = [f"{label:<10} {self.page}", f"{'runs:':<10} {self.runs}"]
        return lines + ([f"{'charts:':<10} {self.charts}"] if self.charts else [])


def sweep_links(tracking_uri: str, parent_run_id: str, base: str) -> SweepLinks:
    """The links of the sweep whose parent run is ``parent_run_id``, on the UI at ``base``."""
    store = mlflow_client(tracking_uri)
    return _links(store, tracking_uri, store.get_run(parent_run_id), base)


def _links(store: MlflowClient, tracking_uri: str, run: Any, base: str) -> SweepLinks:
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    key = view_key(run.data.tags.get(SWEEP_ID_TAG, ""))
    shared = VIEW_TAG + key in store.get_experiment(experiment_id).tags
    try:
        files = artifact_paths(tracking_uri, run_id)
    except Exception:  # noqa: BLE001 - links still help when the artifacts cannot be listed
        files = set()
    shown = next((f for f in _FALLBACKS if f in files), None)
    page = artifact_url(base, experiment_id, run_id, shown) if shown else run_url(base, experiment_id, run_id)
    if shown == REPORT_FILE and not tracking_uri.startswith(("http://", "https://")):  # served by `xlsweep ui`
        page = report_page_url(base, run_id)
    return SweepLinks(sweep=run.data.tags.get(SWEEP_TAG, run.info.run_name or run_id), parent_run_id=run_id,
                      experiment_id=experiment_id, page=page, page_is_report=shown == REPORT_FILE,
                      run=run_url(base, experiment_id, run_id),
                      runs=view_url(base, experiment_id, key) if shared else runs_table_url(base, experiment_id),
                      charts=view_url(base, experiment_id, key, charts=True) if shared else None)


def latest_sweep(tracking_uri: str, base: str, *, experiment: str | None = None) -> SweepLinks | None:
    """The links of the sweep that started last (in ``experiment``, or in any experiment); None if none."""
    store = mlflow_client(tracking_uri)
    if experiment is not None:
        found = store.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in store.search_experiments(max_results=20)]
            raise ValueError(f"--experiment: unknown experiment {experiment!r}; expected one of {names}")
        ids = [found.experiment_id]
    else:
        ids = [e.experiment_id for e in store.search_experiments()]
    runs = store.search_runs(ids, filter_string=f"tags.`{SWEEP_ID_TAG}` LIKE '%'",
                             order_by=["attributes.start_time DESC"], max_results=1) if ids else []
    return _links(store, tracking_uri, runs[0], base) if runs else None


def moved_store_warnings(tracking_uri: str) -> list[str]:
    """Why some artifacts of an sqlite store will not show: an experiment whose artifact location is an absolute
    path (not ``mlflow-artifacts:``, relative to the store) points elsewhere once the store is copied or moved."""
    db = sqlite_path(tracking_uri)
    if db is None:
        return []
    here = db.parent / "mlartifacts"
    warnings = []
    for exp in mlflow_client(tracking_uri).search_experiments():
        location = exp.artifact_location or ""
        path = local_artifact_dir(tracking_uri, location)
        if path is None or location.startswith(ARTIFACTS_SCHEME) or exp.name == "Default":
            continue
        copy = here / path.name
        if not path.exists():
            hint = f"; a copy is in {copy}" if copy.is_dir() else ""
            warnings.append(f"experiment {exp.name!r}: its artifacts were recorded at {path}, which does not exist "
                            f"(the store was moved or copied?){hint}. Its runs' artifacts cannot be shown; sweeps "
                            "logged by this version address artifacts relative to the store.")
        elif not _within(path, db.parent) and copy.is_dir():
            warnings.append(f"experiment {exp.name!r}: its artifacts are read from {path}, outside this store's "
                            f"directory {db.parent} (this store is a copy?), not from {copy}.")
    return warnings


def _within(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True
