"""Direct links into the MLflow UI (3.x) for a sweep, and the checks ``xlsweep ui`` makes of a store.

The UI routes, checked against MLflow 3.17's UI (headless chromium)::

    <ui>/#/experiments/<id>/runs?workflowType=machine_learning
        the experiment's runs table; without ``workflowType`` MLflow 3 opens an experiment on
        its GenAI overview (traces), and no experiment tag changes that
    <ui>/#/experiments/<id>/runs/<run>/artifacts/<path>?workflowType=machine_learning
        a run's artifact, open in the artifact viewer: an ``.html`` artifact is rendered (in a
        sandboxed iframe, scripts allowed), an image shown, a logged table shown as a table
    <ui>/#/experiments/<id>/runs?workflowType=machine_learning&viewStateShareKey=<key>[&compareRunsMode=CHART]
        the experiment page in the state stored in the experiment tag ``mlflow.sharedViewState.<key>``
        (a "shared view"; a sweep stores one: its trials grouped, see
        :func:`xlsweep.sweep.mlflow_fields.shared_view`); ``CHART``: its chart view

The server's own ``/get-artifact?run_id=…&path=…`` sends every file as an attachment
(``Content-Disposition: attachment``), so a browser downloads ``report.html`` rather than
showing it; the artifact route above is the zero-click link.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from xlsweep.tracking import VIEW_TAG, artifact_paths, local_artifact_dir, sqlite_path, view_key

__all__ = ["DEFAULT_UI_PORT", "REPORT_FILE", "SweepLinks", "artifact_url", "latest_sweep", "moved_store_warnings",
           "run_url", "runs_table_url", "sweep_links", "ui_base", "view_url"]

DEFAULT_UI_PORT = 5000
REPORT_FILE = "report.html"
_ML = "workflowType=machine_learning"
_SWEEP_ID_TAG = "xlsweep.sweep_id"  # only parent runs carry it
_FALLBACKS = (REPORT_FILE, "aux_target_delta.png", "method_table.md")  # what a sweep's page opens on, in order


def ui_base(tracking_uri: str, port: int = DEFAULT_UI_PORT) -> str:
    """The UI of ``tracking_uri``: the server itself for ``http(s)://``, else where ``xlsweep ui`` serves it."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return f"http://127.0.0.1:{port}"


def runs_table_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table (model-training mode)."""
    return f"{base}/#/experiments/{experiment_id}/runs?{_ML}"


def view_url(base: str, experiment_id: str, key: str, *, charts: bool = False) -> str:
    """The experiment page in a stored (shared) view; ``charts``: its chart view."""
    mode = "&compareRunsMode=CHART" if charts else ""
    return f"{base}/#/experiments/{experiment_id}/runs?{_ML}&viewStateShareKey={urllib.parse.quote(key)}{mode}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """A run's page (its description, params and metrics)."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{_ML}"


def artifact_url(base: str, experiment_id: str, run_id: str, path: str) -> str:
    """A run's artifact, open in the UI's viewer (an HTML page rendered, an image shown): no clicks."""
    quoted = urllib.parse.quote(path, safe="/")
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/{quoted}?{_ML}"


@dataclass(frozen=True)
class SweepLinks:
    """A sweep's parent run and the UI pages that answer it."""

    sweep: str
    parent_run_id: str
    experiment_id: str
    page: str  # report.html in the artifact viewer (else the heatmap, else the run's page)
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
    client = MlflowClient(tracking_uri)
    return _links(client, tracking_uri, client.get_run(parent_run_id), base)


def _links(client: MlflowClient, tracking_uri: str, run: Any, base: str) -> SweepLinks:
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    key = view_key(run.data.tags.get(_SWEEP_ID_TAG, ""))
    shared = VIEW_TAG + key in client.get_experiment(experiment_id).tags
    try:
        files = artifact_paths(tracking_uri, run_id)
    except Exception:  # noqa: BLE001 - links still help when the artifacts cannot be listed
        files = set()
    shown = next((f for f in _FALLBACKS if f in files), None)
    page = artifact_url(base, experiment_id, run_id, shown) if shown else run_url(base, experiment_id, run_id)
    return SweepLinks(sweep=run.data.tags.get("xlsweep.sweep", run.info.run_name or run_id), parent_run_id=run_id,
                      experiment_id=experiment_id, page=page, page_is_report=shown == REPORT_FILE,
                      run=run_url(base, experiment_id, run_id),
                      runs=view_url(base, experiment_id, key) if shared else runs_table_url(base, experiment_id),
                      charts=view_url(base, experiment_id, key, charts=True) if shared else None)


def latest_sweep(tracking_uri: str, base: str, *, experiment: str | None = None) -> SweepLinks | None:
    """The links of the sweep that started last (in ``experiment``, or in any experiment); None if none."""
    client = MlflowClient(tracking_uri)
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in client.search_experiments(max_results=20)]
            raise ValueError(f"--experiment: unknown experiment {experiment!r}; expected one of {names}")
        ids = [found.experiment_id]
    else:
        ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, filter_string=f"tags.`{_SWEEP_ID_TAG}` LIKE '%'",
                              order_by=["attributes.start_time DESC"], max_results=1) if ids else []
    return _links(client, tracking_uri, runs[0], base) if runs else None


def moved_store_warnings(tracking_uri: str) -> list[str]:
    """Why some artifacts of an sqlite store will not show: experiments created before artifacts were addressed
    relative to the store record absolute paths, which point elsewhere once the store is copied or moved."""
    db = sqlite_path(tracking_uri)
    if db is None:
        return []
    here = db.parent / "mlartifacts"
    warnings = []
    for exp in MlflowClient(tracking_uri).search_experiments():
        location = exp.artifact_location or ""
        path = local_artifact_dir(tracking_uri, location)
        if path is None or location.startswith("mlflow-artifacts:") or exp.name == "Default":
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
