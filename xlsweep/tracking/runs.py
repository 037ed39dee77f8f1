"""MLflow at the edge: one parent run per sweep, one child run per trial, all idempotent.

A retried or resumed trial finds its child run by its trial-id tag and continues it; metric
steps it already logged are not logged again. The sweep's experiment (and an sqlite database)
is created by the driver before any trial starts, since several processes creating a fresh
sqlite store at once fail. Metrics are logged at their wall-clock time, rounded to float32
precision (scores are computed in float32: ``0.9959999918937683`` is ``0.996``), scores in points
(:func:`points`: ``99.6``, as the papers and the reports print them; losses as they are); runs say
so in their tag ``xlsweep.unit``, and every read back (:func:`in_fractions`, :class:`SweepRun`,
:class:`~xlsweep.tracking.reader.StoreReader`) gives fractions again, as xlsweep computes with them.
The Tune schedulers tag the runs of the trials they stop through :func:`tag_trial_run`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from xlsweep.tracking.store import artifact_root, log_artifact, log_table, mlflow_client, open_client, store_lock
from xlsweep.tracking.tags import (
    DATASET_CONTEXT_TAG,
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    NOTE_TAG,
    PARENT_TAG,
    SEARCH_METRIC,
    SWEEP_ID_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
    UNIT_TAG,
    VIEW_TAG,
)

__all__ = ["UNIT", "SweepRun", "TrialRun", "dataset_inputs", "find_trial_run", "flatten_params", "fraction",
           "in_fractions", "is_score", "log_parent_metric", "points", "points_written", "readable", "statistic_written",
           "tag_trial_run"]

_PAGE = 1000  # runs per search request


def readable(value: float) -> float:
    """``value`` at float32 precision, as the float32's shortest decimal: ``0.9959999918937683`` -> ``0.996``.

    Scores and losses are computed in float32 from values of order 1, whose resolution is
    ~6e-8: a score, or a difference of scores (``0.97599995 - 0.96 = 0.015999973``), carries
    that much absolute noise. So: 7 decimals, then the float32's shortest decimal (``0.016``).
    Values beyond float32's range are kept as they are.
    """
    value = float(value)
    if not math.isfinite(value) or abs(value) > float(np.finfo(np.float32).max):
        return value
    return float(str(np.float32(round(value, 7))))


UNIT = "points"  # the unit of every score a sweep logs: ×100, as the papers print them (0.113 -> 11.3)


_NOT_SCORES = ("hausdorff",)  # a trial's metrics that are neither scores nor losses: a distance


def is_score(key: str) -> bool:
    """Whether metric ``key`` is a score or a difference of scores (logged in points): not a loss, a distance or the
    pair search's compute."""
    return not key.endswith("loss") and not key.startswith(SEARCH_METRIC) and key not in _NOT_SCORES


def points(fraction: float) -> float:
    """A score (a fraction) in points, to its precision: ``0.9959999918937683`` -> ``99.6``, ``0.113`` -> ``11.3``
    (not ``11.299999999999999``): :func:`readable`, ×100, rounded to the 5 decimals that leaves."""
    value = readable(fraction)
    return round(value * 100, 5) if math.isfinite(value) else value


WRITTEN_DECIMALS = 2  # points in files: 0.01 points (1e-4 as a fraction), one decimal finer than the tables print


def points_written(fraction: float) -> float:
    """A score, a Δ or a mean or std of them (a fraction) as every file xlsweep writes gives it: in points, to
    :data:`WRITTEN_DECIMALS` decimals (``0.7896666`` -> ``78.97``, ``0.9959999918937683`` -> ``99.6``); a mean over
    seeds or languages has no more precision than that (a score on 500 examples steps by 0.2 points)."""
    value = points(fraction)
    return round(value, WRITTEN_DECIMALS) + 0.0 if math.isfinite(value) else value  # + 0.0: no -0.0


def statistic_written(value: float) -> float:
    """A test statistic or p-value as files give it: 4 significant digits (``2.3333333333333335`` -> ``2.333``)."""
    return float(f"{value:.4g}") if math.isfinite(value) else float(value)


def points_cell(fraction: float) -> str:
    """:func:`points_written` as a CSV cell: empty for NaN."""
    return "" if math.isnan(fraction) else repr(points_written(fraction))


def statistic_cell(value: float) -> str:
    """:func:`statistic_written` as a CSV cell: empty for NaN."""
    return "" if math.isnan(value) else repr(statistic_written(value))


def fraction(points_value: float) -> float:
    """:func:`points` back: ``99.6`` -> ``0.996``."""
    return readable(float(points_value) / 100)


def in_fractions(run: Any) -> Any:
    """``run`` (an MLflow run) with its scores as fractions, as xlsweep computes with them: a run logged in points
    (tag ``xlsweep.unit``) is converted in place; an older run (fractions) is as it was."""
    if run.data.tags.get(UNIT_TAG) == UNIT:
        metrics = run.data.metrics
        for key in [k for k in metrics if is_score(k)]:
            metrics[key] = fraction(metrics[key])
    return run


def _metrics(values: Mapping[str, float], step: int, in_points: bool = True) -> list[Metric]:
    now = int(time.time() * 1000)
    return [Metric(k, points(v) if in_points and is_score(k) else readable(v), now, step) for k, v in values.items()]


_PARAM_KEY = re.compile(r"[\w\-. :/]+")  # what MLflow allows in a param name


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"meta.inner_lr": "0.001", "meta.support": "ana,bel"}``, readable in the MLflow UI."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not all(_PARAM_KEY.fullmatch(str(k)) for k in value):
            # keys MLflow cannot name a param by (data.limits' "*.train"): one param for the mapping
            flat[name] = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, Mapping):
            flat |= flatten_params(value, f"{name}.")
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = str(value)
    return flat


def dataset_inputs(splits: Iterable[Any]) -> list[DatasetInput]:
    """The splits a run reads (:class:`xlsweep.prepare.SplitRecord`: name, split, digest, source_type, source, rows,
    file_sha256) as MLflow dataset inputs: the UI's Datasets column shows each with its digest, its context (the
    split) and its rows."""
    inputs = []
    for s in splits:
        profile = {"num_rows": s.rows, **({"file_sha256": s.file_sha256} if s.file_sha256 else {})}
        source = json.dumps({"uri": s.source} if s.source_type != "synthetic" else {"spec": json.loads(s.source)},
                            ensure_ascii=False)
        dataset = Dataset(name=s.name, digest=s.digest, source_type=s.source_type, source=source,
                          profile=json.dumps(profile))
        inputs.append(DatasetInput(dataset, tags=[InputTag(DATASET_CONTEXT_TAG, s.split)]))
    return inputs


def _log_params(store: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    items = [Param(k, v[:6000]) for k, v in params.items()]
    for i in range(0, len(items), 100):
        store.log_batch(run_id, params=items[i : i + 100])


class SweepRun:
    """The parent run of a sweep (driver side)."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.client = open_client(tracking_uri)
        self.tracking_uri = tracking_uri
        with store_lock(tracking_uri):  # two sweeps creating one experiment at once: one creates, one finds it
            exp = self.client.get_experiment_by_name(experiment)
            if exp is not None:
                self.experiment_id = exp.experiment_id
            else:
                try:
                    self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_root(
                        tracking_uri, experiment))
                except MlflowException as err:  # created meanwhile by another sweep on a tracking server
                    exp = self.client.get_experiment_by_name(experiment)
                    if exp is None:
                        raise err from None
                    self.experiment_id = exp.experiment_id
            # the UI opens it in model-training mode (runs, charts), not on MLflow 3's GenAI traces page
            self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
        self.run_id = self.sweep_id = self.name = ""
        self.in_points = True

    def start(self, sweep_id: str, *, name: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """Create the parent run, or continue the one of ``sweep_id`` (a resumed sweep)."""
        self.sweep_id, self.name = sweep_id, name
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}'", max_results=1
        )
        if found:
            self.run_id = found[0].info.run_id
            self.in_points = found[0].data.tags.get(UNIT_TAG) == UNIT  # a sweep resumed keeps its unit
            self.client.update_run(self.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            return self.run_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={SWEEP_ID_TAG: sweep_id, SWEEP_TAG: name, UNIT_TAG: UNIT, **tags})
        self.run_id = run.info.run_id
        _log_params(self.client, self.run_id, params)
        return self.run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log ``metrics`` at ``step``, scores (fractions) in points, skipping any (key, step) the run already has
        (a resumed sweep's baseline)."""
        have = self.client.get_run(self.run_id).data.metrics
        logged = {k for k in metrics if k in have and step in {m.step for m in self.client.get_metric_history(
            self.run_id, k)}}
        fresh = _metrics({k: v for k, v in metrics.items() if k not in logged}, step, self.in_points)
        if fresh:
            self.client.log_batch(self.run_id, metrics=fresh)

    def log_datasets(self, splits: Iterable[Any]) -> None:
        """The splits the sweep reads (:func:`dataset_inputs`); logging one again changes nothing."""
        self.client.log_inputs(self.run_id, datasets=dataset_inputs(splits))

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        for path in paths:
            log_artifact(self.client, self.tracking_uri, self.run_id, Path(path))

    def log_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
        """A table the UI shows in its table viewer (``artifact_file`` ends in ``.json``)."""
        log_table(self.client, self.tracking_uri, self.run_id, columns, rows, artifact_file)

    def describe(self, markdown: str) -> None:
        """The run's description (the UI's Overview shows it rendered)."""
        self.client.set_tag(self.run_id, NOTE_TAG, markdown[:7500])

    def describe_experiment(self, markdown: str) -> None:
        """The experiment's description (shown on its page)."""
        self.client.set_experiment_tag(self.experiment_id, NOTE_TAG, markdown[:19000])

    def share_view(self, key: str, state: Mapping[str, Any]) -> None:
        """A view of the experiment page (UI state as JSON), opened by ``?viewStateShareKey=<key>``."""
        self.client.set_experiment_tag(self.experiment_id, VIEW_TAG + key, json.dumps(state, ensure_ascii=False))

    def finish(self, status: str) -> None:
        """End the run as ``FINISHED``, ``FAILED`` or ``KILLED`` (interrupted; a resume continues it)."""
        self.client.set_terminated(self.run_id, status)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metric(self, key: str, value: float, step: int) -> None:
        """One metric at ``step`` (e.g. after each rung of a pair search)."""
        self.client.log_metric(self.run_id, key, float(value), step=step)

    def history(self, key: str, run_id: str | None = None) -> list[tuple[int, float]]:
        """(step, value) of every logged value of metric ``key`` of this run (or of its child ``run_id``); scores as
        fractions."""
        run = run_id or self.run_id
        found = [(m.step, m.value) for m in self.client.get_metric_history(run, key)]
        if found and is_score(key) and self.client.get_run(run).data.tags.get(UNIT_TAG) == UNIT:
            found = [(step, fraction(value)) for step, value in found]
        return found

    def children(self) -> list[Any]:
        """Every child (trial) run of this sweep, of every session of it."""
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{self.run_id}'",
                                           max_results=_PAGE, page_token=token)
            runs.extend(in_fractions(run) for run in page)
            token = page.token
            if not token:
                return runs

    @classmethod
    def attach(cls, tracking_uri: str, run_id: str) -> SweepRun:
        """The existing parent run ``run_id`` (after its sweep: to report on it)."""
        run = cls.__new__(cls)
        run.client, run.tracking_uri = open_client(tracking_uri), tracking_uri
        found = run.client.get_run(run_id)
        run.experiment_id, run.run_id = found.info.experiment_id, run_id
        run.sweep_id, run.name = found.data.tags.get(SWEEP_ID_TAG, ""), found.data.tags.get(SWEEP_TAG, "")
        run.in_points = found.data.tags.get(UNIT_TAG) == UNIT
        return run


def find_trial_run(store: MlflowClient, experiment_id: str, parent_run_id: str, trial_id: str) -> Any | None:
    """The child run of Tune trial ``trial_id`` under ``parent_run_id``, or None if it has none yet."""
    query = f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'"
    found = store.search_runs([experiment_id], filter_string=query, max_results=1)
    return found[0] if found else None


def tag_trial_run(tracking_uri: str, experiment_id: str, parent_run_id: str, trial_id: str,
                  tags: Mapping[str, str]) -> None:
    """Tag the child run of Tune trial ``trial_id`` (a scheduler's decision about it); nothing if it has none yet."""
    store = mlflow_client(tracking_uri)
    run = find_trial_run(store, experiment_id, parent_run_id, trial_id)
    if run is not None:
        for key, value in tags.items():
            store.set_tag(run.info.run_id, key, value)


def log_parent_metric(tracking_uri: str, run_id: str, key: str, value: float, step: int) -> None:
    """One metric of a sweep's parent run, from a process that holds no :class:`SweepRun` (a Tune scheduler)."""
    mlflow_client(tracking_uri).log_metric(run_id, key, float(value), step=step)


class TrialRun:
    """A trial's child run (worker side): found by trial id, or created under the parent."""

    def __init__(self, store: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = store, run_id
        self.tracking_uri = store.tracking_uri
        self._logged: dict[str, set[int]] = {}
        self.finished: dict[str, float] | None = None  # a run that had FINISHED already: its last metrics
        self.in_points = True  # scores logged in points (a run an older version began: fractions)

    @classmethod
    def open(
        cls,
        tracking_uri: str,
        experiment_id: str,
        parent_run_id: str,
        trial_id: str,
        *,
        name: str,
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> TrialRun:
        store = mlflow_client(tracking_uri)
        found = find_trial_run(store, experiment_id, parent_run_id, trial_id)
        if found is not None:
            run = cls(store, found.info.run_id)
            run.in_points = found.data.tags.get(UNIT_TAG) == UNIT
            if found.info.status == "FINISHED":  # Tune's saved state predates the trial's end (driver killed)
                run.finished = dict(in_fractions(found).data.metrics)
                return run
            store.update_run(run.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            for key in found.data.metrics:
                run._logged[key] = {m.step for m in store.get_metric_history(run.run_id, key)}
            return run
        created = store.create_run(
            experiment_id, run_name=name, tags={PARENT_TAG: parent_run_id, TRIAL_TAG: trial_id, UNIT_TAG: UNIT, **tags}
        )
        run = cls(store, created.info.run_id)
        _log_params(store, run.run_id, params)
        return run

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log ``metrics`` at ``step``, skipping any (key, step) this run already has."""
        fresh = _metrics({k: v for k, v in metrics.items() if step not in self._logged.get(k, set())}, step,
                         self.in_points)
        if fresh:
            self.client.log_batch(self.run_id, metrics=fresh)
            for m in fresh:
                self._logged.setdefault(m.key, set()).add(step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_datasets(self, splits: Iterable[Any]) -> None:
        """The splits the trial reads (:func:`dataset_inputs`); logging one again changes nothing."""
        self.client.log_inputs(self.run_id, datasets=dataset_inputs(splits))

    def log_artifact(self, path: Path) -> None:
        log_artifact(self.client, self.tracking_uri, self.run_id, Path(path))

    def log_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
        """A table the UI shows in its table viewer (``artifact_file`` ends in ``.json``)."""
        log_table(self.client, self.tracking_uri, self.run_id, columns, rows, artifact_file)

    def finish(self, status: str) -> None:
        """End the run as ``FINISHED``, ``FAILED`` or ``KILLED`` (stopped by Tune: the scheduler, or an interrupted
        sweep; a resume continues it)."""
        self.client.set_terminated(self.run_id, status)
