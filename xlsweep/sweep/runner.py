"""The sweep driver: config → shared preparation → Ray Tune trials → MLflow runs → table and heatmap.

Order matters: everything that can fail fast (config, data files, the tracking
store, Ray resources) is checked before stage 1 is trained or any trial starts.

A sweep writes ``<output_dir>/<name>/<stamp>/`` (private: 0700): ``sweep.yaml`` (the resolved
config, every local path absolute), ``state.json`` (its MLflow parent run and status), ``ray/``
(Tune's experiment and checkpoints, and a verified backup of Tune's state for a driver killed
mid-write) and the reports. :func:`resume_sweep` continues an interrupted sweep from that
directory: Tune re-runs nothing that finished, running trials continue from their last
checkpoint, and their MLflow runs continue (found by trial id).

Once the parent run exists, every way out closes it and ``state.json``: FINISHED/"finished",
KILLED/"interrupted" (Ctrl-C, SIGTERM, SIGHUP: the resume command is printed) or
FAILED/"failed" (any error, e.g. a full disk), and a state file that cannot be written is
said on stderr.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xlsweep.config import ConfigError, SweepConfig, TrialConfig
from xlsweep.data.schema import DataError
from xlsweep.methods import RowCount, prepared_rows
from xlsweep.plan import Cells, expand_grid, load_sweep, objective_languages, repeated_trials
from xlsweep.plan.encoder_settings import tiny_default_warnings
from xlsweep.plan.preflight import preflight
from xlsweep.prepare import Prepared, prepare, stage1_fingerprint
from xlsweep.report import TrialRecord
from xlsweep.sweep.errors import SweepError
from xlsweep.sweep.inputs import absolute_cells, absolute_paths, check_data_files
from xlsweep.sweep.mlflow_fields import grid_json, parent_params, report_tables, shared_view, sweep_description
from xlsweep.sweep.signals import StopSignals, held_for_children, signals_ignored
from xlsweep.sweep.state import CONFIG_FILE, DIR_MODE, SweepState, find_sweep_dir, make_sweep_dir, sweep_yaml
from xlsweep.sweep.tune_setup import checkpoint_pruner, expected_trials, param_space, trial_lengths, tune_config
from xlsweep.sweep.tune_state import repair_tune_state, state_backup
from xlsweep.tasks import get_task
from xlsweep.tracking import (
    SweepRun,
    TrackingError,
    absolute_tracking_uri,
    check_store,
    default_tracking_uri,
    view_key,
)
from xlsweep.tracking.tags import (
    AUX_TAG,
    CELL_TAG,
    DEGENERATE_TAG,
    FAILED_TRIALS_TAG,
    GRID_TAG,
    PRIMARY_TAG,
    SEED_TAG,
    STOPPED_TAG,
    TASK_TAG,
    TRIAL_TAG,
)
from xlsweep.tracking.urls import REPORT_FILE, artifact_url, view_url

__all__ = ["SweepError", "SweepOutcome", "check_data_files", "find_sweep_dir", "resume_sweep", "run_sweep",
           "sweep_yaml"]

Log = Callable[[str], None]


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


# --------------------------------------------------------------------- fail-fast checks
def _init_ray(address: str | None, sweep: SweepConfig, log: Log) -> None:
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune warns on every frequent checkpoint of short trials; the snapshots are cheap here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # A diverged trial's last report has its reason, not the objective; that must not fail the sweep.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if address:
        log(f"connecting to the Ray cluster at {address} ...")
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise SweepError(f"--address: cannot connect to a Ray cluster at {address!r} ({err}); start one with "
                             "`ray start --head` or pass its HOST:PORT") from None
    else:
        cpus = os.cpu_count() or 1
        log(f"starting a local Ray instance with {cpus} CPUs ...")
        ray.init(address="local", num_cpus=cpus, **kwargs)
    have = ray.cluster_resources()
    cpu, gpu = sweep.resources.cpu, sweep.resources.gpu
    biggest = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
    if cpu > biggest:
        ray.shutdown()
        raise SweepError(f"resources.cpu: each trial asks for {cpu} CPUs but the largest node has {biggest} "
                         f"(the cluster: {have.get('CPU', 0)}); a trial runs on one node: lower resources.cpu "
                         "or add bigger nodes")
    if gpu > have.get("GPU", 0):
        ray.shutdown()
        raise SweepError(f"resources.gpu: each trial asks for {gpu} GPUs but the cluster has {have.get('GPU', 0)}; "
                         "set resources.gpu: 0 to run on CPUs, or connect to a cluster with GPUs (--address)")


def _check_shared_storage(paths: list[str], log: Log) -> None:
    """On a multi-node cluster, every node sees the sweep's cache (stage 1, features) and output directories."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    log(f"checking that the {len(nodes)} nodes share {', '.join(paths)} ...")

    @ray.remote(num_cpus=0)
    def missing(paths: list[str]) -> list[str]:
        return [p for p in paths if not os.path.isdir(p)]

    checks = {n["NodeManagerAddress"]: missing.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(paths) for n in nodes}
    problems = {node: gone for node, ref in checks.items() if (gone := ray.get(ref, timeout=120))}
    if problems:
        ray.shutdown()
        listed = "; ".join(f"node {node} lacks {', '.join(gone)}" for node, gone in problems.items())
        raise SweepError(f"storage: {listed}. Trials run on every node and read the stage-1 model and write "
                         "checkpoints there: put cache_dir and output_dir on storage all nodes share (e.g. NFS)")


def _check_tracking(uri: str) -> None:
    """The store answers within seconds and can be written (MLflow's own client would retry for minutes)."""
    try:
        check_store(uri, create=True, write=True)
    except TrackingError as err:
        raise SweepError(f"tracking: {err}") from None


EXPERIMENT_NOTE = (
    "Sweeps run by **xlsweep**: each top-level run is one sweep (its description names the best choice per "
    "target; `report.html` in its artifacts is the heatmap and tables), its child runs are the sweep's trials "
    "(named by their grid values; final scores as metrics and `scores.json`). `tags.xlsweep.parent_sweep_id = "
    "'<sweep id>'` selects one sweep's trials, `params.aux.ascii = 'ana->cor'` one auxiliary choice; the links in a "
    "sweep's description open its trials grouped by grid values with a Δ column (and chart) per target.")


def _open_tracking(sweep: SweepConfig, uri: str, sweep_id: str, cells: Cells | None = None) -> SweepRun:
    """The sweep's parent run (``cells``: the checked cells, else the sweep's, expanded)."""
    cells = expand_grid(sweep) if cells is None else cells
    try:
        tracker = SweepRun(uri, sweep.tracking.experiment or sweep.name)
        tracker.describe_experiment(EXPERIMENT_NOTE)
        tracker.start(sweep_id, name=sweep.name, params=parent_params(cells, tuple(sweep.search.space)),
                      tags={GRID_TAG: grid_json(sweep), TASK_TAG: sweep.trial.data.task,
                            PRIMARY_TAG: get_task(sweep.trial.data.task).primary})
        tracker.share_view(view_key(sweep_id), shared_view(sweep, sweep_id))  # its trials, grouped, Δ per target
    except Exception as err:  # any store error: unreachable server, bad URI, locked file
        raise SweepError(f"tracking: cannot use the MLflow store at {uri!r} ({type(err).__name__}: {err}); "
                         "pass a reachable --tracking-uri") from None
    return tracker


def _failures_and_rows(results: Any) -> tuple[list[str], list[dict[str, Any]]]:
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


def _write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _report(outcome: SweepOutcome, tracker: SweepRun, primary: str, log: Log) -> None:
    """The sweep's tables, heatmap and best pairs, built from MLflow as `xlsweep report` builds them."""
    from xlsweep.report.records import ReportError
    from xlsweep.report.sweep_report import report_from_mlflow

    try:
        report = report_from_mlflow(outcome.tracking_uri, parent_run_id=outcome.parent_run_id, out_dir=outcome.out_dir)
    except ReportError as err:
        log(f"\nno report: {err}")
        _describe(tracker, outcome, None, problem=str(err))
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
        log(f"\nthe reports were not copied to the MLflow parent run: {_os_error(err)}")
        return
    for name, columns, rows in report_tables(report):  # in MLflow's table viewer
        tracker.log_table(columns, rows, name)
    _describe(tracker, outcome, report)


def _describe(tracker: SweepRun, outcome: SweepOutcome, report: Any, problem: str | None = None) -> None:
    """The parent run's description: best choice per target, trial counts, links (UI routes) and outputs."""
    names = {Path(p).name for p in (report.paths if report is not None else ())}
    page = next((f for f in (REPORT_FILE, "aux_target_delta.png") if f in names), None)
    eid, rid = tracker.experiment_id, tracker.run_id
    tracker.describe(sweep_description(
        sweep=tracker.name, sweep_id=tracker.sweep_id, report=report, finished=len(outcome.records),
        failed=len(outcome.failures), stopped=len(outcome.stopped), out_dir=str(outcome.out_dir), problem=problem,
        page=artifact_url("", eid, rid, page) if page else None, runs=view_url("", eid, view_key(tracker.sweep_id)),
        charts=view_url("", eid, view_key(tracker.sweep_id), charts=True)))


def _account(tracker: SweepRun, results: Any, expected: int) -> tuple[int, list[str]]:
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


def _degenerate_trials(tracker: SweepRun) -> list[str]:
    """The trials (of every session) whose model learnt nothing, from their runs' ``xlsweep.degenerate`` tag."""
    return [f"trial {tags.get(AUX_TAG, '?')} seed {tags.get(SEED_TAG, '?')}: {tags[DEGENERATE_TAG]}"
            for tags in (run.data.tags for run in tracker.children()) if DEGENERATE_TAG in tags]


# --------------------------------------------------------------------- entry points
def run_sweep(
    sweep: SweepConfig,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    output_dir: str | None = None,
    log: Log = print,
    dir_mode: int = DIR_MODE,
) -> SweepOutcome:
    """Run ``sweep``: check everything, stage 1 once, one Tune trial per cell, reports at the end.

    The sweep directory is created with ``dir_mode`` (default 0700: private).
    """
    cells = absolute_cells(expand_grid(sweep))  # checked when the sweep was loaded
    sweep = absolute_paths(sweep, output_dir)  # trials run in other working directories (and on other nodes)
    check_data_files(cells, sweep)
    preflight(cells, sweep, output_dir=output_dir)  # directories, the model's config, local data contents
    for line in tiny_default_warnings(cfg for _, cfg in cells) + repeated_trials(cells):
        log(f"warning: {line}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(sweep.output_dir) / sweep.name / stamp
    uri = absolute_tracking_uri(tracking_uri or sweep.tracking.uri or default_tracking_uri())
    _check_tracking(uri)  # before anything is written
    make_sweep_dir(out_dir, dir_mode)  # a read-only output directory fails here, before a parent run exists
    state = SweepState(sweep_id=f"{sweep.name}-{stamp}-{uuid.uuid4().hex[:6]}", tracking_uri=uri, parent_run_id="",
                       cache_dir=sweep.cache_dir)
    return _launch(sweep, cells, state, out_dir, address=address, restore=False, log=log)


def resume_sweep(target: str | Path, *, address: str | None = None, output_dir: str = "runs",
                 log: Log = print) -> SweepOutcome:
    """Continue the sweep in ``target`` (its directory, or its name under ``output_dir``: the latest run)."""
    out_dir = find_sweep_dir(target, output_dir)
    state = SweepState.load(out_dir)  # a damaged state file: one line, before anything else
    try:
        sweep = load_sweep(out_dir / CONFIG_FILE)
    except ConfigError as err:
        raise SweepError(f"resume: the saved config no longer loads ({err})") from None
    if state.status == "finished":
        raise SweepError(f"resume: the sweep in {out_dir} has already finished; its reports are there "
                         "(`xlsweep report` rebuilds them from MLflow)")
    cells = expand_grid(sweep)
    check_data_files(cells, sweep)
    preflight(cells, sweep)
    _check_tracking(state.tracking_uri)
    experiment = out_dir / "ray" / sweep.name
    restore = experiment.is_dir() and _tune_started(experiment)
    log(f"resuming sweep {sweep.name!r} from {out_dir}" + ("" if restore else " (its trials had not started)"))
    if restore:
        repair_tune_state(experiment, log)
    return _launch(sweep, cells, state, out_dir, address=address, restore=restore, log=log)


def _tune_started(experiment: Path) -> bool:
    """Whether Tune saved any state (a sweep stopped in stage 1, or before Tune's first step, has none: a resume
    starts its trials afresh)."""
    backup = experiment.with_name(f"{experiment.name}.state-backup")
    return any(experiment.glob("experiment_state-*")) or (backup.is_dir() and any(backup.iterdir()))


def _write_config(sweep: SweepConfig, out_dir: Path) -> None:
    tmp = out_dir / f".{CONFIG_FILE}.tmp"
    tmp.write_text(yaml.safe_dump(sweep_yaml(sweep), sort_keys=False, allow_unicode=True))
    os.replace(tmp, out_dir / CONFIG_FILE)


def _os_error(err: OSError) -> str:
    """One line for an OSError (a full disk, a read-only directory, a missing file)."""
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or type(err).__name__}{where}" + (f" ({err})" if not err.strerror else "")


def _close(tracker: SweepRun, status: str, state: SweepState, out_dir: Path) -> None:
    """End the parent run as ``status`` and write the state file; what fails here is said on stderr (a second
    signal meanwhile is ignored: these two writes take milliseconds)."""
    with signals_ignored():
        try:
            tracker.finish(status)
        except Exception as err:  # the store went away: the run stays as it was
            print(f"error: could not close MLflow parent run {tracker.run_id} as {status} "
                  f"({type(err).__name__}: {err})", file=sys.stderr)
        state.status = {"FINISHED": "finished", "KILLED": "interrupted"}.get(status, "failed")
        try:
            state.save(out_dir)
        except OSError as err:
            print(f"error: could not write {out_dir / 'state.json'} (status {state.status!r}): {_os_error(err)}",
                  file=sys.stderr)


def _prepare_all(sweep: SweepConfig, cells: list[tuple[dict[str, Any], TrialConfig]], state: SweepState,
                 tracker: SweepRun, log: Log) -> tuple[list[str], int]:
    """Stage 1 once per distinct (model, data, stage1) — usually one for the sweep — and each cell's auxiliary
    data (cheap once cached); the baseline logged to the parent run when the sweep has one stage 1. A stage 1
    that learnt nothing is said at once, and tagged on the parent run (``xlsweep.degenerate``); returns why, and
    the longest trial's length in steps (ASHA's ``max_t``: MetaXL's depends on the prepared data's sizes)."""
    prepared: dict[str, Prepared] = {}
    rows: dict[int, RowCount] = {}  # id(cfg) -> the rows of its prepared data
    for _, cfg in cells:
        try:
            ready = prepare(cfg, state.cache_dir, log=log, dev_languages=objective_languages(sweep, cfg))
        except DataError as err:
            raise SweepError(f"data: {err}") from None
        prepared.setdefault(stage1_fingerprint(cfg, state.cache_dir), ready)
        rows[id(cfg)] = prepared_rows(ready)
    longest = max(trial_lengths(cells, lambda cfg: rows[id(cfg)]), default=0)
    if len(prepared) == 1:
        tracker.log_metrics({f"baseline/{k}": v for k, v in next(iter(prepared.values())).baseline.items()})
    degenerate = list(dict.fromkeys(reason for ready in prepared.values() for reason in ready.degenerate))
    for reason in degenerate:
        log(f"WARNING: degenerate {reason}")
    if degenerate:
        tracker.set_tags({DEGENERATE_TAG: "; ".join(degenerate)[:5000]})
    return degenerate, longest


def _tuner(sweep: SweepConfig, cells: list[tuple[dict[str, Any], TrialConfig]], state: SweepState, tracker: SweepRun,
           out_dir: Path, *, restore: bool, expected: int, total_steps: int, log: Log) -> Any:
    """Tune's tuner for the sweep: restored from ``out_dir`` (a resume), or new."""
    from ray import tune

    from xlsweep.sweep.progress import ProgressCallback
    from xlsweep.sweep.trainable import TrialContext, trainable

    ctx = TrialContext(sweep, state.cache_dir, state.tracking_uri, tracker.experiment_id, tracker.run_id,
                       state.sweep_id)
    resources = {"cpu": sweep.resources.cpu, "gpu": sweep.resources.gpu}
    runnable = tune.with_resources(tune.with_parameters(trainable, ctx=ctx), resources)
    space = param_space(sweep, cells)
    if restore:
        tuner = tune.Tuner.restore(str(out_dir / "ray" / sweep.name), runnable, resume_errored=True,
                                   param_space=space)
    else:
        tuner = tune.Tuner(
            runnable,
            param_space=space,
            tune_config=tune_config(sweep, state, tracker.experiment_id, cells, total_steps=total_steps),
            run_config=tune.RunConfig(
                name=sweep.name,
                storage_path=str(out_dir / "ray"),
                verbose=0,
                callbacks=[ProgressCallback(total=expected, print_fn=log),
                           checkpoint_pruner(sweep.checkpoints.keep_finished), state_backup()],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=sweep.checkpoints.keep),
                failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
            ),
        )
    return tuner


def _launch(sweep: SweepConfig, cells: list[tuple[dict[str, Any], TrialConfig]], state: SweepState, out_dir: Path,
            *, address: str | None, restore: bool, log: Log) -> SweepOutcome:
    expected = expected_trials(sweep, cells)
    log(f"sweep {sweep.name!r}: {expected} trial{'' if expected == 1 else 's'} → {out_dir}")
    tracker = _open_tracking(sweep, state.tracking_uri, state.sweep_id, cells)
    state.parent_run_id = tracker.run_id
    outcome = SweepOutcome(out_dir=out_dir, parent_run_id=tracker.run_id, tracking_uri=state.tracking_uri)
    task = get_task(sweep.trial.data.task)
    status = "FAILED"
    signals = StopSignals()
    try:
        signals.install()  # SIGTERM and SIGHUP stop the sweep as Ctrl-C does, from here on
        if not (out_dir / CONFIG_FILE).is_file():
            _write_config(sweep, out_dir)
            tracker.log_artifacts([out_dir / CONFIG_FILE])
        state.status = "running"
        state.save(out_dir)
        with held_for_children():  # Ray's local processes ignore SIGTERM/SIGHUP sent to the driver's process group
            _init_ray(address, sweep, log)
            signals.install()  # again: ray.init sets its own SIGTERM handler (exit mid-write)
        Path(state.cache_dir).mkdir(parents=True, exist_ok=True)
        _check_shared_storage([state.cache_dir, str(out_dir)], log)
        outcome.degenerate, total_steps = _prepare_all(sweep, cells, state, tracker, log)
        tuner = _tuner(sweep, cells, state, tracker, out_dir, restore=restore, expected=expected,
                       total_steps=total_steps, log=log)
        results = tuner.fit()
        ended, outcome.stopped = _account(tracker, results, expected)
        outcome.degenerate += _degenerate_trials(tracker)
        outcome.interrupted = ended < expected

        outcome.failures, rows = _failures_and_rows(results)
        if outcome.interrupted:
            log(f"\nthe sweep was interrupted ({ended}/{expected} trials ended); continue it with:\n"
                f"  xlsweep resume {out_dir}")
            status = "KILLED"
            return outcome
        if rows:
            outcome.trials_csv = _write_rows(rows, out_dir / "trials.csv")
        # the sweep ran to its end: FINISHED if a trial finished (every one has a row, this session's or an earlier
        # one's, as Tune restores it), the failed ones counted in a tag (the CLI exits 1 on them)
        tracker.set_tags({FAILED_TRIALS_TAG: str(len(outcome.failures))})
        status = "FINISHED" if rows else "FAILED"
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, SIGHUP) outside Tune's run: in stage 1, starting Ray, ...
        status = "KILLED"
        outcome.interrupted = True
        log(f"\nthe sweep was interrupted; continue it with:\n  xlsweep resume {out_dir}")
        return outcome
    except OSError as err:  # a full disk, a read-only directory: one line, the run closed FAILED
        raise SweepError(f"the sweep failed: {_os_error(err)}") from None
    finally:
        _close(tracker, status, state, out_dir)  # before the reports, which show the parent run's status
        import ray

        ray.shutdown()
        signals.restore()
    _report(outcome, tracker, task.primary, log)  # from MLflow only: Ray is down by now
    if sweep.pair_search.enabled:  # the chosen pairs, tied sets and completed heatmap, from MLflow
        from xlsweep.sweep.pair_report import report_pair_search

        paths = report_pair_search(sweep, tracking_uri=outcome.tracking_uri,
                                    parent_run_id=outcome.parent_run_id, out_dir=out_dir, log=log)
        outcome.heatmap = next((p for p in paths if p.suffix == ".png"), outcome.heatmap)
    return outcome
