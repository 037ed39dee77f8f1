"""The sweep driver: config → shared preparation → Ray Tune trials → MLflow runs → table and heatmap.

Order matters: everything that can fail fast (config, data files, the tracking
store, Ray resources) is checked before stage 1 is trained or any trial starts.

A sweep writes ``<output_dir>/<name>/<stamp>/`` (private: 0700): ``sweep.yaml`` (the resolved
config, every local path absolute), ``sweep.as-written.yaml`` (the user's file, as written),
``state.json`` (its MLflow parent run and status), ``ray/``
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

import datetime as dt
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from xlsweep.config import ConfigError, SweepConfig
from xlsweep.data.schema import DataError
from xlsweep.methods import RowCount, prepared_rows
from xlsweep.plan import Cells, cell_key, expand_grid, load_sweep, objective_languages, repeated_trials
from xlsweep.plan.encoder_settings import tiny_default_warnings
from xlsweep.plan.preflight import preflight
from xlsweep.prepare import Prepared, SplitRecord, prepare, split_records, stage1_fingerprint
from xlsweep.sweep.cluster import check_shared_storage, start_ray
from xlsweep.sweep.errors import SweepError
from xlsweep.sweep.inputs import absolute_cells, absolute_paths, check_data_files
from xlsweep.sweep.outcome import SweepOutcome, failures_and_rows, os_error, write_rows
from xlsweep.sweep.pair_evidence import Recalled, evidence_keys, load_evidence, recall_evidence
from xlsweep.sweep.parent_run import (
    account,
    check_tracking,
    degenerate_trials,
    open_tracking,
    report_to_parent,
    search_finished,
)
from xlsweep.sweep.ray_session import end_leftovers, forget_session, record_session
from xlsweep.sweep.signals import StopSignals, held_for_children, signals_ignored
from xlsweep.sweep.sweep_dir import (
    CONFIG_FILE,
    DIR_MODE,
    WRITTEN_CONFIG_FILE,
    SweepState,
    find_sweep_dir,
    make_sweep_dir,
    sweep_yaml,
)
from xlsweep.sweep.tune_backup import repair_tune_state, state_backup
from xlsweep.sweep.tune_setup import checkpoint_pruner, expected_trials, param_space, trial_lengths, tune_config
from xlsweep.tasks import get_task
from xlsweep.tracking import SweepRun, absolute_tracking_uri, default_tracking_uri
from xlsweep.tracking.tags import DEGENERATE_TAG, FAILED_TRIALS_TAG

__all__ = ["SweepError", "SweepOutcome", "check_data_files", "find_sweep_dir", "resume_sweep", "run_sweep",
           "sweep_yaml"]

Log = Callable[[str], None]


def run_sweep(
    sweep: SweepConfig,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    output_dir: str | None = None,
    log: Log = print,
    dir_mode: int = DIR_MODE,
    config_file: Path | None = None,
) -> SweepOutcome:
    """Run ``sweep``: check everything, stage 1 once, one Tune trial per cell, reports at the end.

    The sweep directory is created with ``dir_mode`` (default 0700: private). ``config_file``: the file the
    user wrote ``sweep`` in, copied as it is beside the resolved ``sweep.yaml`` (both logged to the parent run).
    """
    cells = absolute_cells(expand_grid(sweep))  # checked when the sweep was loaded
    sweep = absolute_paths(sweep, output_dir)  # trials run in other working directories (and on other nodes)
    check_data_files(cells, sweep)
    preflight(cells, sweep, output_dir=output_dir,  # directories, the model's config, local data contents
              note=lambda line: log(f"skipped rows: {line}"))
    for line in tiny_default_warnings(cfg for _, cfg in cells) + repeated_trials(cells):
        log(f"warning: {line}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(sweep.output_dir) / sweep.name / stamp
    uri = absolute_tracking_uri(tracking_uri or sweep.tracking.uri or default_tracking_uri())
    check_tracking(uri)  # before anything is written
    end_leftovers(_runs(out_dir.parent), log)  # what a killed driver of this sweep left of its Ray instance
    make_sweep_dir(out_dir, dir_mode)  # a read-only output directory fails here, before a parent run exists
    if config_file is not None:
        shutil.copyfile(config_file, out_dir / WRITTEN_CONFIG_FILE)
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
    check_tracking(state.tracking_uri)
    end_leftovers(_runs(out_dir.parent), log)  # the killed driver's Ray processes (this run's, and its siblings')
    experiment = out_dir / "ray" / sweep.name
    restore = experiment.is_dir() and _tune_started(experiment)
    log(f"resuming sweep {sweep.name!r} from {out_dir}" + ("" if restore else " (its trials had not started)"))
    if restore:
        repair_tune_state(experiment, log)
    return _launch(sweep, cells, state, out_dir, address=address, restore=restore, log=log)


def _runs(sweep_root: Path) -> list[Path]:
    """The run directories of one sweep's name (``<output_dir>/<name>/<stamp>``)."""
    return sorted(p for p in sweep_root.iterdir() if p.is_dir()) if sweep_root.is_dir() else []


def _tune_started(experiment: Path) -> bool:
    """Whether Tune saved any state (a sweep stopped in stage 1, or before Tune's first step, has none: a resume
    starts its trials afresh)."""
    backup = experiment.with_name(f"{experiment.name}.state-backup")
    return any(experiment.glob("experiment_state-*")) or (backup.is_dir() and any(backup.iterdir()))


def _write_config(sweep: SweepConfig, out_dir: Path) -> None:
    tmp = out_dir / f".{CONFIG_FILE}.tmp"
    tmp.write_text(yaml.safe_dump(sweep_yaml(sweep), sort_keys=False, allow_unicode=True))
    os.replace(tmp, out_dir / CONFIG_FILE)


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
            print(f"error: could not write {out_dir / 'state.json'} (status {state.status!r}): {os_error(err)}",
                  file=sys.stderr)


def _prepare_all(sweep: SweepConfig, cells: Cells, state: SweepState,
                 tracker: SweepRun, log: Log) -> tuple[list[str], int]:
    """Stage 1 once per distinct (model, data, stage1) — usually one for the sweep — and each cell's auxiliary
    data (cheap once cached); the baseline logged to the parent run when the sweep has one stage 1. A stage 1
    that learnt nothing is said at once, and tagged on the parent run (``xlsweep.degenerate``); returns why, and
    the longest trial's length in steps (ASHA's ``max_t``: MetaXL's depends on the prepared data's sizes)."""
    prepared: dict[str, Prepared] = {}
    rows: dict[int, RowCount] = {}  # id(cfg) -> the rows of its prepared data
    splits: dict[tuple[str, str], SplitRecord] = {}
    for _, cfg in cells:
        try:
            ready = prepare(cfg, state.cache_dir, log=log, dev_languages=objective_languages(sweep, cfg))
        except DataError as err:
            raise SweepError(f"data: {err}") from None
        prepared.setdefault(stage1_fingerprint(cfg, state.cache_dir), ready)
        rows[id(cfg)] = prepared_rows(ready)
        splits |= {(r.name, r.digest): r for r in split_records(ready, cfg, objective_languages(sweep, cfg))}
    tracker.log_datasets(splits.values())  # every split the sweep reads, on the parent run
    longest = max(trial_lengths(cells, lambda cfg: rows[id(cfg)]), default=0)
    if len(prepared) == 1:
        tracker.log_metrics({f"baseline/{k}": v for k, v in next(iter(prepared.values())).baseline.items()})
    degenerate = list(dict.fromkeys(reason for ready in prepared.values() for reason in ready.degenerate))
    for reason in degenerate:
        log(f"WARNING: degenerate {reason}")
    if degenerate:
        tracker.set_tags({DEGENERATE_TAG: "; ".join(degenerate)[:5000]})
    return degenerate, longest


def _recall(sweep: SweepConfig, state: SweepState, evidence: dict[str, str], out_dir: Path, *, restore: bool,
            log: Log) -> Recalled | None:
    """What earlier sweeps ran on a pair search's cells: read from the store when the search starts, from the
    sweep directory when it resumes (the evidence it started from)."""
    if not sweep.pair_search.enabled or not evidence:
        return None
    if restore:
        return load_evidence(out_dir)
    return recall_evidence(sweep, next(iter(evidence.values())), tracking_uri=state.tracking_uri,
                           sweep_id=state.sweep_id, out_dir=out_dir, log=log)


def _tuner(sweep: SweepConfig, cells: Cells, state: SweepState, tracker: SweepRun, out_dir: Path, *,
           restore: bool, expected: int, total_steps: int, evidence: dict[str, str], recalled: Recalled | None,
           log: Log) -> Any:
    """Tune's tuner for the sweep: restored from ``out_dir`` (a resume), or new; ``evidence``: each cell's
    evidence key (tagged on its trials: a later pair search may recall them)."""
    from ray import tune

    from xlsweep.sweep.progress import ProgressCallback
    from xlsweep.sweep.trainable import TrialContext, trainable

    ctx = TrialContext(sweep, state.cache_dir, state.tracking_uri, tracker.experiment_id, tracker.run_id,
                       state.sweep_id, cells={cell_key(cell): cfg for cell, cfg in cells}, evidence=evidence)
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
            tune_config=tune_config(sweep, state, tracker.experiment_id, cells, total_steps=total_steps,
                                    recalled=recalled),
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


def _launch(sweep: SweepConfig, cells: Cells, state: SweepState, out_dir: Path,
            *, address: str | None, restore: bool, log: Log) -> SweepOutcome:
    expected = expected_trials(sweep, cells)
    log(f"sweep {sweep.name!r}: {expected} trial{'' if expected == 1 else 's'} → {out_dir}")
    tracker = open_tracking(sweep, state.tracking_uri, state.sweep_id, cells)
    state.parent_run_id = tracker.run_id
    outcome = SweepOutcome(out_dir=out_dir, parent_run_id=tracker.run_id, tracking_uri=state.tracking_uri)
    task = get_task(sweep.trial.data.task)
    status = "FAILED"
    signals = StopSignals()
    try:
        signals.install()  # SIGTERM and SIGHUP stop the sweep as Ctrl-C does, from here on
        if not (out_dir / CONFIG_FILE).is_file():
            _write_config(sweep, out_dir)
            written = out_dir / WRITTEN_CONFIG_FILE
            tracker.log_artifacts([out_dir / CONFIG_FILE, *([written] if written.is_file() else [])])
        state.status = "running"
        state.save(out_dir)
        with held_for_children():  # Ray's local processes ignore SIGTERM/SIGHUP sent to the driver's process group
            start_ray(address, sweep, log)
            if address is None:  # a local instance: recorded, so a killed driver's processes can be ended later
                record_session(out_dir)
            signals.install()  # again: ray.init sets its own SIGTERM handler (exit mid-write)
        Path(state.cache_dir).mkdir(parents=True, exist_ok=True)
        check_shared_storage([state.cache_dir, str(out_dir)], log)
        outcome.degenerate, total_steps = _prepare_all(sweep, cells, state, tracker, log)
        evidence = evidence_keys(cells, state.cache_dir)
        recalled = _recall(sweep, state, evidence, out_dir, restore=restore, log=log)
        if recalled is not None:
            expected = expected_trials(sweep, cells, recalled)
            log(f"pair search: at most {expected} trial(s) to run")
        tuner = _tuner(sweep, cells, state, tracker, out_dir, restore=restore, expected=expected,
                       total_steps=total_steps, evidence=evidence, recalled=recalled, log=log)
        results = tuner.fit()
        ended, outcome.stopped = account(tracker, results, expected)
        outcome.degenerate += degenerate_trials(tracker)
        outcome.interrupted = not search_finished(tracker, sweep, recalled) if sweep.pair_search.enabled \
            else ended < expected

        outcome.failures, rows = failures_and_rows(results)
        if outcome.interrupted:
            log(f"\nthe sweep was interrupted ({ended}/{expected} trials ended); continue it with:\n"
                f"  xlsweep resume {out_dir}")
            status = "KILLED"
            return outcome
        if rows:
            outcome.trials_csv = write_rows(rows, out_dir / "trials.csv")
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
        raise SweepError(f"the sweep failed: {os_error(err)}") from None
    finally:
        _close(tracker, status, state, out_dir)  # before the reports, which show the parent run's status
        import ray

        ray.shutdown()
        forget_session(out_dir)
        signals.restore()
    report_to_parent(outcome, tracker, task.primary, log)  # from MLflow only: Ray is down by now
    if sweep.pair_search.enabled:  # the chosen pairs, tied sets and completed heatmap, from MLflow
        from xlsweep.sweep.pair_report import report_pair_search

        paths = report_pair_search(sweep, tracking_uri=outcome.tracking_uri,
                                    parent_run_id=outcome.parent_run_id, out_dir=out_dir, log=log)
        outcome.heatmap = next((p for p in paths if p.suffix == ".png"), outcome.heatmap)
    return outcome
