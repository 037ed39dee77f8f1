"""A tracking store read back, for reports: experiments and runs (MLflow's run objects: ``run.info``,
``run.data.tags``, ``run.data.metrics``, ``run.data.params``), with MLflow's errors as :class:`StoreReadError`.
Scores come back as fractions, whatever unit a run was logged in (:func:`~xlsweep.tracking.runs.in_fractions`).

The store is checked first (an HTTP server's ``/health``, an sqlite file's existence), so a wrong
URI fails in seconds instead of after MLflow's minutes of retries.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mlflow.exceptions import MlflowException

from xlsweep.tracking.runs import UNIT, fraction, in_fractions, is_score
from xlsweep.tracking.store import TrackingError, check_store, local_artifact_dir, open_client
from xlsweep.tracking.tags import UNIT_TAG

__all__ = ["StoreReadError", "StoreReader"]

_PAGE = 1000
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
T = TypeVar("T")


class StoreReadError(TrackingError):
    """The store answered, but not with what was asked (an unknown run id, a malformed query, ...)."""


def _read(call: Callable[[], T]) -> T:
    try:
        return call()
    except MlflowException as err:
        raise StoreReadError(str(err)) from None


class StoreReader:
    """Read access to the store at ``tracking_uri``, checked and opened here (else :class:`TrackingError`)."""

    def __init__(self, tracking_uri: str) -> None:
        check_store(tracking_uri, create=False, write=False)
        self.tracking_uri = tracking_uri
        self._client = open_client(tracking_uri)
        self._in_points: dict[str, bool] = {}  # run id -> whether its scores were logged in points

    def _seen(self, run: Any) -> Any:
        self._in_points[run.info.run_id] = run.data.tags.get(UNIT_TAG) == UNIT
        return in_fractions(run)

    def experiment_id(self, name: str) -> str | None:
        """The id of the experiment called ``name``, or None if there is none."""
        found = _read(lambda: self._client.get_experiment_by_name(name))
        return None if found is None else str(found.experiment_id)

    def experiment_name(self, experiment_id: str) -> str:
        return str(_read(lambda: self._client.get_experiment(experiment_id)).name)

    def experiment_names(self, limit: int | None = None) -> list[str]:
        found = _read(lambda: self._client.search_experiments(max_results=limit) if limit else
                      self._client.search_experiments())
        return [e.name for e in found]

    def experiment_ids(self) -> list[str]:
        return [e.experiment_id for e in _read(self._client.search_experiments)]

    def tagged(self, tag: str, value: str) -> list[Any]:
        """Every run of every experiment whose ``tag`` is ``value``."""
        return self.runs(self.experiment_ids(), f"tags.`{tag}` = '{value}'")

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value) of metric ``key`` of run ``run_id``, in step order."""
        found = _read(lambda: self._client.get_metric_history(run_id, key))
        if run_id not in self._in_points:
            self.run(run_id)
        scale = fraction if is_score(key) and self._in_points[run_id] else float
        return sorted((int(m.step), scale(m.value)) for m in found)

    def run(self, run_id: str) -> Any:
        """The run ``run_id``; :class:`StoreReadError` if the store has none."""
        return self._seen(_read(lambda: self._client.get_run(run_id)))

    def artifact(self, run: Any, path: str, dst: str | Path) -> Path | None:
        """The file of ``run``'s (a run object's) artifact ``path``: read in place beside an sqlite store (MLflow's
        client refuses ``mlflow-artifacts:`` URIs without a server), else downloaded into the directory ``dst``;
        None when the run has none such (or it cannot be read: an artifact store moved away)."""
        root = local_artifact_dir(self.tracking_uri, run.info.artifact_uri or "")
        if root is not None:
            return root / path if (root / path).is_file() else None
        run_id = run.info.run_id
        quiet = os.environ.get(_PROGRESS_BAR)
        os.environ[_PROGRESS_BAR] = "false"  # no "Downloading artifacts" bar per run on the terminal
        try:
            if path not in {f.path for f in self._client.list_artifacts(run_id)}:
                return None
            Path(dst).mkdir(parents=True, exist_ok=True)
            return Path(self._client.download_artifacts(run_id, path, str(dst)))
        except (MlflowException, OSError):
            return None
        finally:
            if quiet is None:
                os.environ.pop(_PROGRESS_BAR, None)
            else:
                os.environ[_PROGRESS_BAR] = quiet

    def runs(self, experiment_ids: list[str], filter_string: str, *, order_by: list[str] | None = None,
             limit: int | None = None) -> list[Any]:
        """The runs matching ``filter_string``, every one (page by page) or the first ``limit``."""
        if not experiment_ids:
            return []
        if limit is not None:
            return [self._seen(run) for run in _read(lambda: self._client.search_runs(
                experiment_ids, filter_string=filter_string, max_results=limit, order_by=order_by))]
        runs: list[Any] = []
        token = None
        while True:
            page = self._page(experiment_ids, filter_string, order_by, token)
            runs.extend(self._seen(run) for run in page)
            token = page.token
            if not token:
                return runs

    def _page(self, experiment_ids: list[str], filter_string: str, order_by: list[str] | None,
              token: str | None) -> Any:
        return _read(lambda: self._client.search_runs(experiment_ids, filter_string=filter_string, max_results=_PAGE,
                                                      page_token=token, order_by=order_by))
