"""MLflow at the edge: the only package of xlsweep that imports mlflow.

* :mod:`~xlsweep.tracking.tags` — the tag, param and metric names runs carry, as constants;
* :mod:`~xlsweep.tracking.store` — opening a store fast and safely, its checks, its artifacts;
* :mod:`~xlsweep.tracking.runs` — a sweep's parent run and its trials' child runs, idempotent;
* :mod:`~xlsweep.tracking.reader` — a finished sweep's runs read back, for the reports;
* :mod:`~xlsweep.tracking.urls` and :mod:`~xlsweep.tracking.links` — links into the MLflow UI;
* :mod:`~xlsweep.tracking.server` — the ``mlflow server`` that ``xlsweep ui`` runs.
"""

from xlsweep.tracking.links import view_key
from xlsweep.tracking.runs import SweepRun, TrialRun, find_trial_run, flatten_params, readable
from xlsweep.tracking.server import serve_ui, server_command, stop_server
from xlsweep.tracking.store import (
    TrackingError,
    absolute_tracking_uri,
    artifact_paths,
    check_store,
    default_tracking_uri,
    local_artifact_dir,
    log_artifact,
    open_client,
    server_healthy,
    sqlite_path,
)
from xlsweep.tracking.tags import DEGENERATE_TAG, PARENT_TAG, SWEEP_TAG, TRIAL_TAG, VIEW_TAG

__all__ = [
    "DEGENERATE_TAG",
    "PARENT_TAG",
    "SWEEP_TAG",
    "TRIAL_TAG",
    "VIEW_TAG",
    "SweepRun",
    "TrackingError",
    "TrialRun",
    "absolute_tracking_uri",
    "artifact_paths",
    "check_store",
    "default_tracking_uri",
    "find_trial_run",
    "flatten_params",
    "local_artifact_dir",
    "log_artifact",
    "open_client",
    "readable",
    "serve_ui",
    "server_command",
    "server_healthy",
    "sqlite_path",
    "stop_server",
    "view_key",
]
