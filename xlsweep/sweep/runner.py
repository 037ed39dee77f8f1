"""The sweep driver: config → shared preparation → Ray Tune trials → MLflow runs → table and heatmap.

Order matters: everything that can fail fast (config, data files, the tracking
store, Ray resources) is checked before stage 1 is trained or any trial starts.

A sweep writes ``<output_dir>/<name>/<stamp>/``: ``sweep.yaml`` (the resolved config),
``state.json`` (its MLflow parent run and status), ``ray/`` (Tune's experiment and
checkpoints, and a backup of Tune's state for a driver killed mid-write) and the reports.
:func:`resume_sweep` continues an interrupted sweep from that directory: Tune re-runs
nothing that finished, running trials continue from their last checkpoint, and their
MLflow runs continue (found by trial id).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xlsweep.config.load import (
    ConfigError,
    expand_grid,
    grid_cells,
    load_sweep,
    needed_splits,
    objective_languages,
    to_dict,
)
from xlsweep.config.schema import SweepConfig, TrialConfig
from xlsweep.data.benchmark import benchmark_sources
from xlsweep.data.schema import DataError
from xlsweep.data.sources import missing_files
from xlsweep.prepare import Prepared, prepare, stage1_fingerprint
from xlsweep.report import TrialRecord
from xlsweep.sweep.errors import SweepError
from xlsweep.sweep.state import CONFIG_FILE, SweepState, find_sweep_dir, sweep_yaml
from xlsweep.sweep.tune_setup import checkpoint_pruner, expected_trials, param_space, tune_config
from xlsweep.sweep.tune_state import repair_tune_state, state_backup
from xlsweep.tasks import get_task
from xlsweep.tracking import TRIAL_TAG, SweepRun, default_tracking_uri, flatten_params, server_healthy

__all__ = ["SweepError", "SweepOutcome", "check_data_files", "find_sweep_dir", "resume_sweep", "run_sweep",
           "sweep_yaml"]

Log = Callable[[str], None]


def _absolute(sources: Any) -> Any:
    """A ``data.sources`` mapping with its local paths made absolute (hub sources unchanged)."""
    if not isinstance(sources, dict):
        return sources
    return {key: spec if not isinstance(spec, str) or spec.startswith("hub:")
            else os.path.abspath(os.path.expanduser(spec)) for key, spec in sources.items()}


def _absolute_sources(sweep: SweepConfig) -> SweepConfig:
    """Local data paths made absolute against the launching directory (in the base config and in a grid axis
    that sweeps ``data.sources``): trials read them from other working directories and nodes."""
    data = sweep.trial.data
    trial = dataclasses.replace(sweep.trial, data=dataclasses.replace(data, sources=_absolute(data.sources)))
    axes = tuple((name, tuple(_absolute(v) for v in values) if name == "data.sources" else values)
                 for name, values in sweep.grid.axes)
    return dataclasses.replace(sweep, trial=trial, grid=dataclasses.replace(sweep.grid, axes=axes))


def check_data_files(cells: list[tuple[dict[str, Any], TrialConfig]], sweep: SweepConfig) -> None:
    """Every local file any trial reads exists (its search objective's dev splits included), checked before Ray
    starts or anything is trained."""
    problems: list[str] = []
    for _, cfg in cells:
        if cfg.data.benchmark != "synthetic":
            problems += missing_files(benchmark_sources(cfg.data), needed_splits(cfg, objective_languages(sweep, cfg)))
    if problems:
        listed = "\n  ".join(dict.fromkeys(problems))
        raise SweepError(f"data.sources: {len(set(problems))} data file(s) the sweep needs do not exist:\n  {listed}\n"
                         "fix the paths in data.sources (relative paths are read from the directory you launch in)")
    if sweep.pair_search.enabled:  # the search's prior (URIEL+ distances) knows every language, before Ray starts
        from xlsweep.sweep.pair_search import check_prior

        check_prior(sweep)


@dataclass
class SweepOutcome:
    out_dir: Path
    parent_run_id: str
    tracking_uri: str
    records: list[TrialRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # trials the scheduler (ASHA) stopped early
    interrupted: bool = False  # the sweep did not finish: `xlsweep resume <out_dir>` continues it
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


def _check_tracking_server(uri: str) -> None:
    """An HTTP tracking server answers /health within seconds (MLflow's own client would retry for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        ok = server_healthy(uri, timeout=10)
    except OSError as err:  # URLError included
        raise SweepError(f"tracking: the MLflow server at {uri!r} cannot be reached ({err}); start it "
                         "(`mlflow server ...` or `xlsweep ui`) or pass a reachable --tracking-uri") from None
    if not ok:
        raise SweepError(f"tracking: the MLflow server at {uri!r} is not healthy (/health did not answer 200)")


def _open_tracking(sweep: SweepConfig, uri: str, sweep_id: str) -> SweepRun:
    _check_tracking_server(uri)
    try:
        tracker = SweepRun(uri, sweep.tracking.experiment or sweep.name)
        tracker.start(sweep_id, name=sweep.name, params=flatten_params(to_dict(sweep.trial)),
                      tags={"xlsweep.grid": str([list(c.values()) for c in grid_cells(sweep)])[:5000],
                            "xlsweep.task": sweep.trial.data.task,
                            "xlsweep.primary": get_task(sweep.trial.data.task).primary})
    except Exception as err:  # any store error: unreachable server, bad URI, locked file
        raise SweepError(f"tracking: cannot use the MLflow store at {uri!r} ({type(err).__name__}: {err}); "
                         "pass a reachable --tracking-uri") from None
    return tracker


def _failures_and_rows(results: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Failure reasons (errors after the last retry, diverged losses) and one trials.csv row per finished trial."""
    failures, rows = [], []
    for result in results:
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
    tracker.log_artifacts([*report.paths, *([outcome.trials_csv] if outcome.trials_csv else [])])


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
        if "xlsweep.stopped" in tags and status != "FINISHED":
            stopped.append(f"{tags.get('xlsweep.cell', tags.get('xlsweep.aux'))}: {tags['xlsweep.stopped']}")
            ended.add(tags.get(TRIAL_TAG, run.info.run_id))
        elif status in ("FINISHED", "FAILED"):
            ended.add(tags.get(TRIAL_TAG, run.info.run_id))
    return min(len(ended), expected), stopped


# --------------------------------------------------------------------- entry points
def run_sweep(
    sweep: SweepConfig,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    output_dir: str | None = None,
    log: Log = print,
) -> SweepOutcome:
    """Run ``sweep``: check everything, stage 1 once, one Tune trial per cell, reports at the end."""
    sweep = _absolute_sources(sweep)  # trials run in other working directories (and on other nodes)
    cells = expand_grid(sweep)  # validates every cell again; cheap
    check_data_files(cells, sweep)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = (Path(output_dir or sweep.output_dir) / sweep.name / stamp).resolve()
    uri = tracking_uri or sweep.tracking.uri or default_tracking_uri()
    state = SweepState(sweep_id=f"{sweep.name}-{stamp}-{uuid.uuid4().hex[:6]}", tracking_uri=uri, parent_run_id="",
                       cache_dir=str(Path(sweep.cache_dir).resolve()))
    return _launch(sweep, cells, state, out_dir, address=address, resume=False, log=log)


def resume_sweep(target: str | Path, *, address: str | None = None, output_dir: str = "runs",
                 log: Log = print) -> SweepOutcome:
    """Continue the sweep in ``target`` (its directory, or its name under ``output_dir``: the latest run)."""
    out_dir = find_sweep_dir(target, output_dir)
    try:
        sweep = load_sweep(out_dir / CONFIG_FILE)
    except ConfigError as err:
        raise SweepError(f"resume: the saved config no longer loads ({err})") from None
    state = SweepState.load(out_dir)
    if state.status == "finished":
        raise SweepError(f"resume: the sweep in {out_dir} has already finished; its reports are there "
                         "(`xlsweep report` rebuilds them from MLflow)")
    if not (out_dir / "ray" / sweep.name).is_dir():
        raise SweepError(f"resume: {out_dir} has no Tune experiment (ray/{sweep.name}); the sweep stopped before "
                         "its first trial started: run it again with `xlsweep sweep`")
    cells = expand_grid(sweep)
    check_data_files(cells, sweep)
    log(f"resuming sweep {sweep.name!r} from {out_dir}")
    repair_tune_state(out_dir / "ray" / sweep.name, log)
    return _launch(sweep, cells, state, out_dir, address=address, resume=True, log=log)


def _launch(sweep: SweepConfig, cells: list[tuple[dict[str, Any], TrialConfig]], state: SweepState, out_dir: Path,
            *, address: str | None, resume: bool, log: Log) -> SweepOutcome:
    from ray import tune

    from xlsweep.sweep.progress import ProgressCallback
    from xlsweep.sweep.trainable import TrialContext, trainable

    expected = expected_trials(sweep, cells)
    log(f"sweep {sweep.name!r}: {expected} trial{'' if expected == 1 else 's'} → {out_dir}")
    tracker = _open_tracking(sweep, state.tracking_uri, state.sweep_id)
    state.parent_run_id = tracker.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (out_dir / CONFIG_FILE).write_text(yaml.safe_dump(sweep_yaml(sweep), sort_keys=False, allow_unicode=True))
    state.status = "running"
    state.save(out_dir)
    outcome = SweepOutcome(out_dir=out_dir, parent_run_id=tracker.run_id, tracking_uri=state.tracking_uri)
    status = "FAILED"
    try:
        _init_ray(address, sweep, log)
        Path(state.cache_dir).mkdir(parents=True, exist_ok=True)
        _check_shared_storage([state.cache_dir, str(out_dir)], log)
        prepared: dict[str, Prepared] = {}
        for _, cfg in cells:  # one stage 1 per distinct (model, data, stage1) — usually one for the sweep;
            try:  # each cell's auxiliary data (cheap once cached)
                ready = prepare(cfg, state.cache_dir, log=log, dev_languages=objective_languages(sweep, cfg))
            except DataError as err:
                raise SweepError(f"data: {err}") from None
            prepared.setdefault(stage1_fingerprint(cfg), ready)
        if len(prepared) == 1:
            tracker.log_metrics({f"baseline/{k}": v for k, v in next(iter(prepared.values())).baseline.items()})
        task = get_task(sweep.trial.data.task)

        ctx = TrialContext(sweep, state.cache_dir, state.tracking_uri, tracker.experiment_id, tracker.run_id)
        resources = {"cpu": sweep.resources.cpu, "gpu": sweep.resources.gpu}
        runnable = tune.with_resources(tune.with_parameters(trainable, ctx=ctx), resources)
        space = param_space(sweep, cells)
        if resume:
            tuner = tune.Tuner.restore(str(out_dir / "ray" / sweep.name), runnable, resume_errored=True,
                                       param_space=space)
        else:
            tuner = tune.Tuner(
                runnable,
                param_space=space,
                tune_config=tune_config(sweep, state, tracker.experiment_id, cells),
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
        results = tuner.fit()
        ended, outcome.stopped = _account(tracker, results, expected)
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
        tracker.client.set_tag(tracker.run_id, "xlsweep.failed_trials", str(len(outcome.failures)))
        status = "FINISHED" if rows else "FAILED"
    except KeyboardInterrupt:
        status = "KILLED"
        outcome.interrupted = True
        raise
    finally:
        tracker.finish(status)  # before the reports, which show the parent run's status
        state.status = {"FINISHED": "finished", "KILLED": "interrupted"}.get(status, "failed")
        state.save(out_dir)
        import ray

        ray.shutdown()
    _report(outcome, tracker, task.primary, log)  # from MLflow only: Ray is down by now
    if sweep.pair_search.enabled:  # the chosen pairs, tied sets and completed heatmap, from MLflow
        from xlsweep.sweep.pair_search import report_pair_search

        paths = report_pair_search(sweep, tracking_uri=outcome.tracking_uri,
                                    parent_run_id=outcome.parent_run_id, out_dir=out_dir, log=log)
        outcome.heatmap = next((p for p in paths if p.suffix == ".png"), outcome.heatmap)
    return outcome
