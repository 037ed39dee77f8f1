"""A sweep's results read back from MLflow: its parent run and its finished trial (child) runs.

Reports are made from the tracking store, not from Ray Tune's local files, so they can be
made anywhere the store is reachable::

    results = load_sweep_results(tracking_uri, parent_run_id="…")   # one sweep
    results = load_sweep_results(tracking_uri, experiment="demo")    # the experiment's latest sweep

The experiment's latest sweep is the latest parent run with a finished trial: a newer sweep that
did not finish a trial (it failed, or was interrupted) is skipped, and ``results.notes`` says so.
The store is read through :class:`~xlsweep.tracking.reader.StoreReader`, which checks it first.

Only FINISHED child runs become :class:`RunRecord`\\ s; the others (FAILED, RUNNING,
KILLED, or finished without test metrics) are listed as :class:`Excluded` with a reason.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from xlsweep.report.sweep_results import Excluded, ReportError, RunRecord, SweepResults
from xlsweep.tasks.outcomes import OUTCOMES_FILE, read_outcomes
from xlsweep.tracking.reader import StoreReader, StoreReadError
from xlsweep.tracking.store import TrackingError
from xlsweep.tracking.tags import (
    ALGORITHM_TAG,
    AUX_TAG,
    CELL_TAG,
    DEGENERATE_TAG,
    FAILURE_TAG,
    PARENT_TAG,
    PRIMARY_TAG,
    QUERY_TAG,
    SEED_PARAM,
    SEED_TAG,
    SELECT_ON_DEV_TAG,
    SOURCE_PARAM,
    STOPPED_TAG,
    SUPPORT_TAG,
    SWEEP_ID_TAG,
    SWEEP_TAG,
    TASK_TAG,
    TRIAL_TAG,
    XLSWEEP,
)

__all__ = ["load_sweep_results"]

_NOT_SCORES = ("delta", "fs_delta", "dev")  # per-language metrics that are not test scores
_LISTED = 10  # how many existing experiments / parent runs an error message names


def load_sweep_results(tracking_uri: str, *, experiment: str | None = None,
                       parent_run_id: str | None = None) -> SweepResults:
    """Load one sweep: the given parent run, or else the latest parent run (by start time) of ``experiment``.

    Raises:
        ReportError: If neither selector is given, the experiment or run does not exist, the
            run is not a sweep's parent run or not in ``experiment``, or no child run finished.
    """
    try:
        store = StoreReader(tracking_uri)
    except TrackingError as err:
        raise ReportError(str(err)) from None
    notes: list[str] = []
    try:
        parent = _parent_run(store, tracking_uri, experiment, parent_run_id, notes)
        experiment_name = store.experiment_name(parent.info.experiment_id)
        children = store.runs([parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'")
    except StoreReadError as err:
        raise ReportError(f"cannot read the MLflow store at {tracking_uri!r}: {err}") from None
    # Tune numbers trials in grid order (``<experiment>_00000``, ...), also across a resume
    children.sort(key=lambda run: (run.data.tags.get(TRIAL_TAG, ""), run.info.start_time or 0))
    baseline = _split(parent.data.metrics, "baseline/")
    records, excluded = _read_children(children, baseline, parent.data.params.get(SOURCE_PARAM, ""))
    records = _with_outcomes(store, records, {run.info.run_id: run for run in children})
    tags = parent.data.tags
    if not records:
        statuses = ", ".join(f"{e.status}: {e.reason}" for e in excluded[:_LISTED]) or "none"
        raise ReportError(
            f"parent run {parent.info.run_id!r} (sweep {tags.get(SWEEP_TAG, '?')!r}, experiment {experiment_name!r}) "
            f"has no FINISHED child run with test metrics: expected at least one, got {len(children)} child "
            f"run(s) ({statuses})")
    notes += _degenerate_notes(tags, children, {r.run_id for r in records})
    primary = tags.get(PRIMARY_TAG) or next((r for r in (c.data.tags.get(PRIMARY_TAG) for c in children) if r), None)
    return SweepResults(
        tracking_uri=tracking_uri, experiment=experiment_name, parent_run_id=parent.info.run_id,
        sweep_id=tags.get(SWEEP_ID_TAG, ""), sweep=tags.get(SWEEP_TAG, experiment_name),
        task=tags.get(TASK_TAG) or children[0].data.tags.get(TASK_TAG, ""), primary=primary,
        status=parent.info.status, records=tuple(records), excluded=tuple(excluded), notes=tuple(notes),
        experiment_id=str(parent.info.experiment_id), **_select_on_dev(tags.get(SELECT_ON_DEV_TAG, "")))


def _select_on_dev(tag: str) -> dict[str, Any]:
    """The parent's ``xlsweep.select_on_dev`` tag (``key,key+target``) as :class:`SweepResults` fields."""
    keys, plus, _ = tag.partition("+target")
    return {"select_on_dev": tuple(k for k in keys.split(",") if k), "select_per_target": bool(plus)}


# ---------------------------------------------------------------------------
# Finding the parent run
# ---------------------------------------------------------------------------


def _parent_run(store: StoreReader, uri: str, experiment: str | None, run_id: str | None,
                notes: list[str]) -> Any:
    """The sweep's parent run, from a run id or an experiment's latest sweep (with a finished trial; the newer
    ones skipped are described in ``notes``)."""
    if experiment is None and run_id is None:
        raise ReportError(f"no sweep selected: expected an experiment name or a parent run id; the store at {uri!r} "
                          f"has experiments {store.experiment_names(_LISTED)}")
    exp = None
    if experiment is not None:
        exp = store.experiment_id(experiment)
        if exp is None:
            raise ReportError(f"unknown experiment {experiment!r}: expected one of {store.experiment_names(_LISTED)} "
                              f"(the store at {uri!r})")
    if run_id is None:
        assert exp is not None
        return _latest_with_results(store, exp, experiment or "", notes)
    run = _get_run(store, uri, run_id)
    if exp is not None and run.info.experiment_id != exp:
        raise ReportError(f"parent run {run_id!r} is not in experiment {experiment!r}: it is in experiment "
                          f"{store.experiment_name(run.info.experiment_id)!r}")
    return run


def _latest_with_results(store: StoreReader, experiment_id: str, experiment: str, notes: list[str]) -> Any:
    """The latest parent run (by start time) with a FINISHED trial; newer ones without are noted as skipped (if no
    parent run has one, the latest)."""
    skipped: list[Any] = []
    for parent in store.runs([experiment_id], f"tags.`{SWEEP_ID_TAG}` LIKE '%'",
                             order_by=["attributes.start_time DESC"]):
        finished = store.runs([experiment_id], limit=1, filter_string=(
            f"tags.`{PARENT_TAG}` = '{parent.info.run_id}' and attributes.status = 'FINISHED'"))
        if finished:
            notes += [f"note: skipped the newer sweep {run.data.tags.get(SWEEP_ID_TAG, '?')} (parent run "
                      f"{run.info.run_id}, {run.info.status}): no finished trial" for run in skipped]
            return parent
        skipped.append(parent)
    if not skipped:
        raise ReportError(f"experiment {experiment!r} has no sweep parent run (a run tagged {SWEEP_ID_TAG}): "
                          "expected an experiment written by `xlsweep sweep`")
    return skipped[0]  # none has a finished trial: the latest, whose children the caller's error lists


def _get_run(store: StoreReader, uri: str, run_id: str) -> Any:
    try:
        run = store.run(run_id)
    except StoreReadError:
        raise ReportError(f"unknown run id {run_id!r} in the store at {uri!r}: expected a sweep's parent run, "
                          f"e.g. {_parent_runs(store)}") from None
    tags = run.data.tags
    if SWEEP_ID_TAG not in tags:
        hint = f"; it is a trial of parent run {tags[PARENT_TAG]!r}" if PARENT_TAG in tags else ""
        raise ReportError(f"run {run_id!r} is not a sweep's parent run (no {SWEEP_ID_TAG} tag){hint}: expected one "
                          f"of {_parent_runs(store)}")
    return run


def _parent_runs(store: StoreReader) -> list[str]:
    """A few parent runs of the store, newest first, as ``id (sweep name)``."""
    runs = store.runs(store.experiment_ids(), f"tags.`{SWEEP_ID_TAG}` LIKE '%'",
                      order_by=["attributes.start_time DESC"], limit=_LISTED)
    return [f"{r.info.run_id} ({r.data.tags.get(SWEEP_TAG, '?')})" for r in runs]


# ---------------------------------------------------------------------------
# Reading the trials
# ---------------------------------------------------------------------------


def _read_children(children: list[Any], parent_baseline: dict[str, dict[str, float]], parent_source: str = ""
                   ) -> tuple[list[RunRecord], list[Excluded]]:
    """Records of the finished children with scores (the latest run per trial id), the rest excluded."""
    records: dict[str, RunRecord] = {}
    excluded: list[Excluded] = []
    for run in children:
        tags, status = run.data.tags, run.info.status
        aux, seed = tags.get(AUX_TAG, "?"), tags.get(SEED_TAG, run.data.params.get(SEED_PARAM, "?"))
        if status != "FINISHED":  # failed, interrupted, or stopped early by the scheduler (ASHA)
            stopped = tags.get(STOPPED_TAG)
            reason = tags.get(FAILURE_TAG) or (f"stopped early: {stopped}" if stopped else "no failure recorded")
            excluded.append(Excluded(run.info.run_id, aux, seed, status, reason))
            continue
        record = _record(run, parent_baseline, parent_source)
        if not any(record.scores.values()):
            excluded.append(Excluded(run.info.run_id, aux, seed, status, "finished without test metrics"))
            continue
        earlier = records.get(record.trial_id)
        if earlier is not None:  # a trial logged twice: the later run supersedes the earlier one
            excluded.append(Excluded(earlier.run_id, earlier.aux, str(earlier.seed), status,
                                     f"superseded by run {record.run_id} of the same trial"))
        records[record.trial_id] = record
    return list(records.values()), excluded


def _with_outcomes(store: StoreReader, records: list[RunRecord], runs: Mapping[str, Any]) -> list[RunRecord]:
    """The records with their per-example test outcomes (artifact :data:`OUTCOMES_FILE`) where the run has them;
    runs without (an older xlsweep) keep None, and the reports fall back to the t-test over seeds for them."""
    out = []
    with tempfile.TemporaryDirectory(prefix="xlsweep-outcomes-") as tmp:
        for i, record in enumerate(records):
            path = store.artifact(runs[record.run_id], OUTCOMES_FILE, Path(tmp) / str(i))
            try:
                outcomes = read_outcomes(path) if path is not None else None
            except ValueError:
                outcomes = None
            out.append(replace(record, outcomes=outcomes))
    return out


def _record(run: Any, parent_baseline: dict[str, dict[str, float]], parent_source: str = "") -> RunRecord:
    tags, run_id = run.data.tags, run.info.run_id
    metrics = {k: float(v) for k, v in run.data.metrics.items()}
    own = _split(metrics, "baseline/")
    baseline = {m: {**parent_baseline.get(m, {}), **own.get(m, {})} for m in {*parent_baseline, *own}}
    scores = _split({k: v for k, v in metrics.items() if not k.startswith("baseline/")}, "")
    for name in _NOT_SCORES:
        scores.pop(name, None)
    return RunRecord(
        run_id=run_id, trial_id=tags.get(TRIAL_TAG, run_id), algorithm=_required(tags, ALGORITHM_TAG, run_id),
        aux=_required(tags, AUX_TAG, run_id), support=_languages(tags.get(SUPPORT_TAG, "")),
        query=_languages(tags.get(QUERY_TAG, "")), seed=_seed(tags, run.data.params, run_id),
        cell=_cell(tags.get(CELL_TAG, "{}"), run_id), scores=scores, baseline=baseline, metrics=metrics,
        source=run.data.params.get(SOURCE_PARAM) or parent_source)


def _degenerate_notes(parent_tags: Mapping[str, str], children: list[Any], reported: set[str]) -> list[str]:
    """Warnings for a stage 1 (the parent run's tag) and reported trials whose model learnt nothing: their scores
    are in the tables, but are no result."""
    notes = [f"WARNING: degenerate {parent_tags[DEGENERATE_TAG]}"] if DEGENERATE_TAG in parent_tags else []
    for run in children:
        tags = run.data.tags
        if run.info.run_id in reported and DEGENERATE_TAG in tags:
            notes.append(f"WARNING: degenerate trial {tags.get(AUX_TAG, '?')} seed {tags.get(SEED_TAG, '?')} "
                         f"(run {run.info.run_id}): {tags[DEGENERATE_TAG]}")
    return notes


def _split(metrics: Mapping[str, float], prefix: str) -> dict[str, dict[str, float]]:
    """``{prefix}<metric>/<lang>`` keys -> ``{metric: {lang: value}}``; keys without a language are skipped."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith(prefix) and "/" in key[len(prefix):]:
            metric, lang = key[len(prefix):].rsplit("/", 1)
            out.setdefault(metric, {})[lang] = float(value)
    return out


def _required(tags: Mapping[str, str], tag: str, run_id: str) -> str:
    value = tags.get(tag)
    if not value:
        raise ReportError(f"child run {run_id!r} has no tag {tag}: expected the tags xlsweep sweeps write "
                          f"(got {sorted(k for k in tags if k.startswith(XLSWEEP))})")
    return value


def _seed(tags: Mapping[str, str], params: Mapping[str, str], run_id: str) -> int:
    raw = tags.get(SEED_TAG, params.get(SEED_PARAM))
    try:
        return int(str(raw))
    except ValueError:
        raise ReportError(f"child run {run_id!r}: expected an integer seed in tag {SEED_TAG} or param {SEED_PARAM}, "
                          f"got {raw!r}") from None


def _cell(raw: str, run_id: str) -> dict[str, Any]:
    try:
        cell = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ReportError(f"child run {run_id!r}: tag {CELL_TAG} is not JSON ({err}): got {raw[:200]!r}") from None
    if not isinstance(cell, dict):
        raise ReportError(f"child run {run_id!r}: expected tag {CELL_TAG} to be a JSON object, got {raw[:200]!r}")
    return cell


def _languages(raw: str) -> tuple[str, ...]:
    return tuple(lang.strip() for lang in raw.split(",") if lang.strip())
