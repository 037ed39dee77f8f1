"""The sweep driver: config → shared preparation → Ray Tune trials → MLflow runs → table and heatmap.

Order matters: everything that can fail fast (config, Ray resources, the tracking
store) is checked before stage 1 is trained or any trial starts.
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

from xlsweep.config.load import expand_grid, grid_cells, needed_splits, to_dict
from xlsweep.config.schema import TRANSFER_ALGORITHMS, SweepConfig, TrialConfig
from xlsweep.data.benchmark import benchmark_sources
from xlsweep.data.schema import DataError
from xlsweep.data.sources import missing_files
from xlsweep.prepare import Prepared, prepare, stage1_fingerprint
from xlsweep.report import TrialRecord, delta_table, summary_lines, write_csv, write_heatmap
from xlsweep.report.method_table import markdown_table, method_label, method_table, write_markdown
from xlsweep.tasks import get_task
from xlsweep.tracking import SweepRun, default_tracking_uri, flatten_params

__all__ = ["SweepError", "SweepOutcome", "check_data_files", "run_sweep"]

Log = Callable[[str], None]


class SweepError(RuntimeError):
    """The sweep cannot run as configured (data files, resources, tracking store); the message says what to change."""


def _absolute_sources(sweep: SweepConfig) -> SweepConfig:
    """Local data paths made absolute against the launching directory; hub sources unchanged."""
    data = sweep.trial.data
    sources = {key: spec if spec.startswith("hub:") else os.path.abspath(os.path.expanduser(spec))
               for key, spec in data.sources.items()}
    if sources == data.sources:
        return sweep
    trial = dataclasses.replace(sweep.trial, data=dataclasses.replace(data, sources=sources))
    return dataclasses.replace(sweep, trial=trial)


def check_data_files(cells: list[tuple[dict[str, Any], TrialConfig]]) -> None:
    """Every local file any trial reads exists, checked before Ray starts or anything is trained."""
    problems: list[str] = []
    for _, cfg in cells:
        if cfg.data.benchmark != "synthetic":
            problems += missing_files(benchmark_sources(cfg.data), needed_splits(cfg))
    if problems:
        listed = "\n  ".join(dict.fromkeys(problems))
        raise SweepError(f"data.sources: {len(set(problems))} data file(s) the sweep needs do not exist:\n  {listed}\n"
                         "fix the paths in data.sources (relative paths are read from the directory you launch in)")


@dataclass
class SweepOutcome:
    out_dir: Path
    parent_run_id: str
    tracking_uri: str
    records: list[TrialRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    heatmap: Path | None = None
    table_csv: Path | None = None
    trials_csv: Path | None = None


def _init_ray(address: str | None, sweep: SweepConfig, log: Log) -> None:
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune warns on every frequent checkpoint of short trials; the snapshots are cheap here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if address:
        log(f"connecting to the Ray cluster at {address} ...")
        ray.init(address=address, **kwargs)
    else:
        cpus = os.cpu_count() or 1
        log(f"starting a local Ray instance with {cpus} CPUs ...")
        ray.init(address="local", num_cpus=cpus, **kwargs)
    have = ray.cluster_resources()
    cpu, gpu = sweep.resources.cpu, sweep.resources.gpu
    if cpu > have.get("CPU", 0):
        raise SweepError(f"resources.cpu: each trial asks for {cpu} CPUs but the cluster has {have.get('CPU', 0)}; "
                         "lower resources.cpu or add nodes")
    if gpu > have.get("GPU", 0):
        raise SweepError(f"resources.gpu: each trial asks for {gpu} GPUs but the cluster has {have.get('GPU', 0)}; "
                         "set resources.gpu: 0 to run on CPUs, or connect to a cluster with GPUs (--address)")


def _open_tracking(sweep: SweepConfig, uri: str, sweep_id: str) -> SweepRun:
    try:
        tracker = SweepRun(uri, sweep.tracking.experiment or sweep.name)
        tracker.start(sweep_id, name=sweep.name, params=flatten_params(to_dict(sweep.trial)),
                      tags={"xlsweep.grid": str([list(c.values()) for c in grid_cells(sweep)])[:5000]})
    except Exception as err:  # any store error: unreachable server, bad URI, locked file
        raise SweepError(f"tracking: cannot use the MLflow store at {uri!r} ({type(err).__name__}: {err}); "
                         "pass a reachable --tracking-uri") from None
    return tracker


_METRIC_NAMES = {"acc": "accuracy", "f1": "F1", "em": "exact match"}


def _records(results: Any, primary: str, baseline_of: Callable[[dict[str, Any]], dict[str, float]],
             *, prefix: str = "") -> tuple[list[TrialRecord], list[dict[str, Any]], list[str]]:
    """Per-trial records of ``prefix + primary`` (``fs_`` for few-shot), csv rows and failure reasons."""
    records, rows, failures = [], [], []
    metric = f"{prefix}{primary}"
    for result in results:
        cell = dict(result.config)
        label = str(cell.get("aux", "base"))
        metrics = result.metrics or {}
        if result.error is not None or "failure" in metrics or "delta_avg" not in metrics:
            reason = result.error or metrics.get("failure", "no final metrics")
            failures.append(f"{cell}: {str(reason).strip().splitlines()[-1] if str(reason).strip() else reason}")
            continue
        scores = {k.split("/", 1)[1]: float(v) for k, v in metrics.items() if k.startswith(f"{metric}/")}
        baseline = baseline_of(cell)
        records.append(TrialRecord(aux=label, seed=int(cell.get("seed", 0)), scores=scores,
                                   baseline={t: baseline[f"{metric}/{t}"] for t in scores}))
        rows.append({**cell, **{k: v for k, v in metrics.items() if "/" in k or k.endswith("_avg") or k in _EXTRA}})
    return records, rows, failures


_RTN_KEYS = {f"metaxl.{k}" for k in ("rtn_layers", "bottleneck", "residual", "gate", "rtn_lr")}  # no effect on
# the methods without an RTN: their trials of different RTN settings are repeats, averaged in one row


_EXTRA = ("hausdorff", "dev_best")  # MetaXL-family trials' representation distance and best dev score


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in order; lists (e.g. ``metaxl.rtn_layers: [[0], [1, 2]]``) allowed."""
    return list({repr(v): v for v in values}.values())


def _method_records(results: Any, cells: list[tuple[dict[str, Any], TrialConfig]], primary: str,
                    baseline_of: Callable[[dict[str, Any]], dict[str, float]]) -> list[TrialRecord]:
    """One record per finished MetaXL-family trial: its method (and varying grid values) on its own target."""
    fixed = {"aux", "seed", "meta.algorithm"}
    varying = [k for k in cells[0][0] if k not in fixed and len({repr(o[k]) for o, _ in cells}) > 1]
    records = []
    for result in results:
        metrics, cell = result.metrics or {}, dict(result.config)
        if result.error is not None or "delta_avg" not in metrics:
            continue  # already listed among the failures
        cfg = next(c for o, c in cells if o == cell)  # validated once, by expand_grid
        if cfg.meta.algorithm not in TRANSFER_ALGORITHMS:
            continue
        (target,) = cfg.meta.query
        shown = {k: cell[k] for k in varying if cfg.meta.algorithm in ("metaxl", "jt-rtn") or k not in _RTN_KEYS}
        records.append(TrialRecord(aux=method_label(cfg.meta.algorithm, shown),
                                   seed=cfg.seed, scores={target: float(metrics[f"{primary}/{target}"])},
                                   baseline={target: baseline_of(cell)[f"{primary}/{target}"]}))
    return records


def _report_methods(records: list[TrialRecord], out_dir: Path, *, title: str, metric: str, log: Log) -> Path:
    """The method × target table as CSV and Markdown (points, mean over seeds), printed to the log."""
    table = method_table(records)
    path = write_csv(table, out_dir / "method_target.csv")
    write_markdown(table, path.with_suffix(".md"), title=f"{title}, {metric} ×100, mean over seeds")
    log(f"\n{title} ({metric} ×100, mean over seeds; n = trials):\n")
    for line in markdown_table(table).splitlines():
        log(line)
    return path


def _report(records: list[TrialRecord], out_dir: Path, name: str, *, title: str, metric: str,
            log: Log) -> list[Path]:
    """The aux × target delta table as CSV and heatmap, and its summary in the log."""
    table = delta_table(records)
    paths = [write_csv(table, out_dir / f"{name}.csv"),
             write_heatmap(table, out_dir / f"{name}.png", title=title, metric=metric)]
    log("")
    for line in summary_lines(table):
        log(line)
    return paths


def run_sweep(
    sweep: SweepConfig,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    output_dir: str | None = None,
    log: Log = print,
) -> SweepOutcome:
    from ray import tune

    from xlsweep.sweep.progress import ProgressCallback
    from xlsweep.sweep.trainable import TrialContext, trainable

    sweep = _absolute_sources(sweep)  # trials run in other working directories (and on other nodes)
    cells = expand_grid(sweep)  # validates every cell again; cheap
    check_data_files(cells)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = (Path(output_dir or sweep.output_dir) / sweep.name / stamp).resolve()
    cache_dir = str(Path(sweep.cache_dir).resolve())
    uri = tracking_uri or sweep.tracking.uri or default_tracking_uri()
    sweep_id = f"{sweep.name}-{stamp}-{uuid.uuid4().hex[:6]}"
    log(f"sweep {sweep.name!r}: {len(cells)} trial{'' if len(cells) == 1 else 's'} → {out_dir}")

    _init_ray(address, sweep, log)
    tracker = _open_tracking(sweep, uri, sweep_id)
    outcome = SweepOutcome(out_dir=out_dir, parent_run_id=tracker.run_id, tracking_uri=uri)
    ok = False
    try:
        prepared: dict[str, Prepared] = {}
        for _, cfg in cells:  # one stage 1 per distinct (model, data, stage1) — usually one for the sweep;
            try:  # each cell's auxiliary data (cheap once cached)
                ready = prepare(cfg, cache_dir, log=log)
            except DataError as err:
                raise SweepError(f"data: {err}") from None
            prepared.setdefault(stage1_fingerprint(cfg), ready)
        if len(prepared) == 1:
            tracker.log_metrics({f"baseline/{k}": v for k, v in next(iter(prepared.values())).baseline.items()})
        task = get_task(sweep.trial.data.task)

        ctx = TrialContext(sweep, cache_dir, uri, tracker.experiment_id, tracker.run_id)
        resources = {"cpu": sweep.resources.cpu, "gpu": sweep.resources.gpu}
        param_space = {name: tune.grid_search(_distinct([c[name] for c, _ in cells])) for name in cells[0][0]}
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trainable, ctx=ctx), resources),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                reuse_actors=True,
                max_concurrent_trials=sweep.max_concurrent or None,
                trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
            ),
            run_config=tune.RunConfig(
                name=sweep.name,
                storage_path=str(out_dir / "ray"),
                verbose=0,
                callbacks=[ProgressCallback(total=len(cells), print_fn=log)],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                failure_config=tune.FailureConfig(max_failures=1),
            ),
        )
        results = tuner.fit()

        def baseline_of(cell: dict[str, Any]) -> dict[str, float]:
            return next(prepared[stage1_fingerprint(c)].baseline for o, c in cells if o == cell)

        outcome.records, rows, outcome.failures = _records(results, task.primary, baseline_of)
        out_dir.mkdir(parents=True, exist_ok=True)
        if rows:
            outcome.trials_csv = out_dir / "trials.csv"
            with outcome.trials_csv.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
                writer.writeheader()
                writer.writerows(rows)
        metric = _METRIC_NAMES.get(task.primary, task.primary)
        if any(c.meta.algorithm in TRANSFER_ALGORITHMS for _, c in cells):
            # MetaXL-style: method rows × target columns, each trial scored on its own target
            methods = _method_records(results, cells, task.primary, baseline_of)
            outcome.records = methods
            if methods:
                outcome.table_csv = _report_methods(methods, out_dir, metric=metric, log=log,
                                                    title=f"{sweep.name}: {metric} on each target (test)")
                tracker.log_artifacts([outcome.table_csv, outcome.table_csv.with_suffix(".md"),
                                       *([outcome.trials_csv] if outcome.trials_csv else [])])
        elif outcome.records:
            paths = _report(outcome.records, out_dir, "aux_target_delta", metric=metric, log=log,
                            title=f"{sweep.name}: Δ {metric} vs stage-1 baseline (zero-shot)")
            outcome.table_csv, outcome.heatmap = paths
            few_shot, _, _ = _records(results, task.primary, baseline_of, prefix="fs_")
            if sweep.trial.eval.few_shot.enabled and few_shot:
                log("\nfew-shot (fine-tuned on each target's dev split):")
                paths += _report(few_shot, out_dir, "aux_target_delta_fewshot", metric=metric, log=log,
                                 title=f"{sweep.name}: Δ {metric} vs stage-1 baseline (few-shot)")
            tracker.log_artifacts([*paths, *([outcome.trials_csv] if outcome.trials_csv else [])])
        ok = not outcome.failures and bool(outcome.records)
    finally:
        tracker.finish(ok)
        import ray

        ray.shutdown()
    return outcome
