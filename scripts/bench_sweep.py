"""Benchmark: what Ray Tune + MLflow add to each trial of a sweep.

    .venv/bin/python scripts/bench_sweep.py                          # smoke config, 8 trials (~2 min)
    .venv/bin/python scripts/bench_sweep.py --trials 4 --steps 10 --json
    .venv/bin/python scripts/bench_sweep.py --config tune_configs/demo.yaml --trials 4

The same N trials (the config's first auxiliary choice and the first value of every other grid
axis, seeds 0..N-1) run twice, after one ``prepare`` has warmed the cache so neither side trains
stage 1:

1. first, a plain loop: ``prepare`` once, then ``run_trial(cfg, prepared)`` per cell; no Ray, no MLflow;
2. then the sweep: ``run_sweep`` with a fresh sqlite MLflow store and its output in a temporary directory.

``--steps`` sets ``meta.steps`` (default 60: ~5 s per smoke trial on 2 cores); MetaXL-family trials
run ``metaxl.epochs`` instead. ``meta.checkpoint_every`` stays the config's (smoke: 2, i.e. 30
checkpoints per trial) unless ``--checkpoint-every`` is given.

Both sides run trials one at a time on all cores: the sweep gets ``resources.cpu`` = the core count
and ``max_concurrent: 1``, and the loop the same number of torch threads, so wall times compare
directly with no correction for concurrent trials. ``resources.gpu`` is set to 0 (the loop runs on CPU).

Overhead per trial = (sweep wall - loop wall) / N, one-off costs (Ray start-up, the first worker,
the parent run, the report) amortised over N; it is also given without Ray's start-up (ray.init,
ray.shutdown, the first worker's start). With ``--json`` the last line is one JSON object:
``overhead_fraction`` = overhead per trial / 60 s (the project's target: at most 0.05 of a 60-s
trial), ``overhead_per_trial_s``, ``overhead_per_trial_excl_startup_s``, ``fraction_of_measured_trial``
(overhead / the loop's mean trial), ``loop_trial_s``, ``loop_wall_s``, ``sweep_wall_s``,
``ray_startup_s``, ``steady_extra_per_trial_s``, ``overhead_per_trial_direct_s``, ``trials``,
``steps``, ``cpus``. ``overhead_per_trial_direct_s`` is a cross-check that does not use the loop:
(sweep wall - the compute timed inside the trainables) / N. Trial times vary by some 10 % from
run to run on a shared machine, which moves (sweep - loop) / N by about as much as the steady
per-trial overhead.

The breakdown times the sweep's own calls (ray.init, Tuner.fit, ...) and, in the worker, the
trainable's parts (cached prepare, MLflow, tune.report, the checkpoint callback) with
``time.perf_counter`` around them; nothing else in the sweep path is changed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
TARGET_TRIAL_S = 60.0  # the project's reference trial length
TARGET_FRACTION = 0.05  # at most 5 % of it may be overhead


def bench_sweep_config(path: str | Path, *, trials: int, steps: int | None, checkpoint_every: int | None,
                       cpus: int) -> Any:
    """The config at ``path`` with a grid of ``trials`` seeds, run one trial at a time on ``cpus`` cores."""
    from xlsweep.config.schema import Grid, ResourcesConfig
    from xlsweep.plan import load_sweep

    if trials < 1:
        raise SystemExit(f"--trials: got {trials}; expected at least 1")
    sweep = load_sweep(path)
    meta = sweep.trial.meta
    meta = dataclasses.replace(meta, steps=steps if steps is not None else meta.steps,
                               checkpoint_every=checkpoint_every if checkpoint_every is not None
                               else meta.checkpoint_every)
    axes = tuple((k, v[:1]) for k, v in sweep.grid.axes if k != "seed") + (("seed", tuple(range(trials))),)
    return dataclasses.replace(sweep, name=f"{sweep.name}-bench", trial=dataclasses.replace(sweep.trial, meta=meta),
                               grid=Grid(aux=sweep.grid.aux[:1], axes=axes), max_concurrent=1,
                               resources=ResourcesConfig(cpu=float(cpus), gpu=0.0))


def run_loop(cells: list[tuple[dict[str, Any], Any]], prepared: Any, *, threads: int) -> tuple[list[float], list[Any]]:
    """Each cell's ``run_trial`` in this process: seconds per trial, and the metrics."""
    import torch

    from xlsweep.trial import run_trial

    torch.set_num_threads(threads)  # what the trainable sets from resources.cpu
    times, metrics = [], []
    for _, cfg in cells:
        start = time.perf_counter()
        metrics.append(run_trial(cfg, prepared))
        times.append(time.perf_counter() - start)
    return times, metrics


def _timed_trainable(record_path: str) -> Callable[..., None]:
    """The sweep's trainable with its parts timed; appends one JSON line per trial to ``record_path``.

    Self-contained (imports inside, no module globals) so that it is pickled by value to the worker.
    """

    def trainable(config: dict[str, Any], ctx: Any) -> None:
        import contextlib
        import json
        import os
        import threading
        import time
        from unittest import mock

        import ray.tune

        from xlsweep.sweep import trainable as module
        from xlsweep.tracking import TrialRun

        spans: dict[str, float] = {}

        def timed(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    spans[key] = spans.get(key, 0.0) + time.perf_counter() - start
            return call

        original_run_trial = module.run_trial

        def run_trial(*args: Any, on_checkpoint: Any = None, **kwargs: Any) -> Any:
            callback = timed(on_checkpoint, "checkpoint_callback_s") if on_checkpoint is not None else None
            return timed(original_run_trial, "run_trial_s")(*args, on_checkpoint=callback, **kwargs)

        patches = [mock.patch.object(module, "prepare", timed(module.prepare, "prepare_s")),
                   mock.patch.object(module, "run_trial", run_trial),
                   mock.patch.object(ray.tune, "report", timed(ray.tune.report, "report_s")),
                   mock.patch.object(TrialRun, "open", timed(TrialRun.open, "mlflow_open_s"))]
        patches += [mock.patch.object(TrialRun, name, timed(getattr(TrialRun, name), "mlflow_log_s"))
                    for name in ("log_metrics", "log_artifact", "set_tags", "finish")]
        enter = time.time()
        try:
            with contextlib.ExitStack() as stack:
                for patch in patches:
                    stack.enter_context(patch)
                module.trainable(config, ctx)  # the worker's own, unpatched trainable
        finally:
            with open(record_path, "a") as f:
                f.write(json.dumps({"enter": enter, "exit": time.time(), "pid": os.getpid(),
                                    "main_thread": threading.current_thread() is threading.main_thread(),
                                    "seed": config.get("seed"), **spans}) + "\n")

    return trainable


@contextlib.contextmanager
def instrument(record_path: str, spans: dict[str, list[tuple[float, float]]]) -> Iterator[None]:
    """Time the sweep driver's one-off calls into ``spans`` and swap in the timed trainable."""
    import ray
    from ray import tune

    from xlsweep.sweep import runner
    from xlsweep.sweep import trainable as module

    def timed(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                spans.setdefault(key, []).append((start, time.time()))
        return call

    with contextlib.ExitStack() as stack:
        for target, name, key in [(ray, "init", "ray_init"), (ray, "shutdown", "ray_shutdown"),
                                  (runner, "open_tracking", "mlflow_parent"), (runner, "prepare", "driver_prepare"),
                                  (tune.Tuner, "fit", "fit")]:
            stack.enter_context(mock.patch.object(target, name, timed(getattr(target, name), key)))
        stack.enter_context(mock.patch.object(module, "trainable", _timed_trainable(record_path)))
        yield


def _total(spans: dict[str, list[tuple[float, float]]], key: str) -> float:
    return sum(end - start for start, end in spans.get(key, []))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", default=str(ROOT / "tune_configs" / "smoke.yaml"), help="sweep config (YAML)")
    parser.add_argument("--trials", type=int, default=8, help="trials per side (seeds 0..N-1)")
    parser.add_argument("--steps", type=int, default=60, help="meta.steps of each trial (MAML algorithms)")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="meta.checkpoint_every (default: the config's)")
    parser.add_argument("--cache-dir", default=None, help="the shared xlsweep cache (default: the config's)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    parser.add_argument("--verbose", action="store_true", help="print the sweep's own log lines")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from xlsweep.plan import expand_grid
    from xlsweep.prepare import prepare
    from xlsweep.sweep.runner import run_sweep
    from xlsweep.tasks import get_task

    cpus = os.cpu_count() or 1
    sweep = bench_sweep_config(args.config, trials=args.trials, steps=args.steps,
                               checkpoint_every=args.checkpoint_every, cpus=cpus)
    cache_dir = str(Path(args.cache_dir or sweep.cache_dir).resolve())
    sweep = dataclasses.replace(sweep, cache_dir=cache_dir)
    cells = expand_grid(sweep)
    n, cfg0 = len(cells), cells[0][1]
    m = cfg0.meta
    print("=" * 78)
    print("xlsweep sweep-overhead benchmark: Ray Tune + MLflow vs a plain loop of run_trial")
    print("=" * 78)
    print(f"config       {args.config} (grid replaced: seeds 0..{n - 1}, {dict(cells[0][0])} first cell)")
    print(f"trials       {n} per side, one at a time on {cpus} cores (resources.cpu={cpus}, max_concurrent=1,")
    print(f"             {cpus} torch threads in the loop): no concurrency to correct for")
    print(f"trial        {m.algorithm}, {m.steps} meta-steps, checkpoint every {m.checkpoint_every} steps, "
          f"task {cfg0.data.task}")
    print(f"cache        {cache_dir}")

    start = time.perf_counter()
    prepared = prepare(cfg0, cache_dir, log=lambda line: print(f"  [prepare] {line}"))
    for _, cfg in cells[1:]:
        prepare(cfg, cache_dir)
    print(f"warm-up      prepare (stage 1, features, baseline; not counted): {time.perf_counter() - start:.1f} s")

    print("\n[1/2] plain loop (no Ray, no MLflow) ...", flush=True)
    loop_times, loop_metrics = run_loop(cells, prepared, threads=cpus)
    loop_wall = sum(loop_times)
    print("      per trial: " + " ".join(f"{t:.2f}" for t in loop_times) + " s")

    print(f"[2/2] sweep via run_sweep (Ray Tune + MLflow sqlite, {n} trials) ...", flush=True)
    spans: dict[str, list[tuple[float, float]]] = {}
    log_lines: list[str] = []

    def log(line: str) -> None:
        log_lines.append(line)
        if args.verbose:
            print(f"      | {line}", flush=True)

    with tempfile.TemporaryDirectory(prefix="xlsweep-bench-") as tmp:
        record_path = str(Path(tmp) / "trials.jsonl")
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        with instrument(record_path, spans):
            start_wall = time.time()
            outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(Path(tmp) / "runs"), log=log)
            sweep_wall = time.time() - start_wall
        records = sorted((json.loads(line) for line in Path(record_path).read_text().splitlines()),
                         key=lambda r: r["enter"])
    if outcome.failures:
        print("sweep failures:\n  " + "\n  ".join(outcome.failures), file=sys.stderr)
        return 1

    # ---- the sweep's time, split into one-off and per-trial parts
    ray_init, ray_shutdown = _total(spans, "ray_init"), _total(spans, "ray_shutdown")
    (fit_start, fit_end), = spans["fit"]
    first_worker = records[0]["enter"] - fit_start  # Tune setup + worker process start + imports
    in_trial = [r["exit"] - r["enter"] for r in records]
    gaps = [b["enter"] - a["exit"] for a, b in zip(records, records[1:], strict=False)]
    after_last = fit_end - records[-1]["exit"]
    parent, driver_prepare = _total(spans, "mlflow_parent"), _total(spans, "driver_prepare")
    report_phase = spans["ray_shutdown"][0][0] - fit_end if "ray_shutdown" in spans else 0.0
    other_driver = sweep_wall - (ray_init + parent + driver_prepare + (fit_end - fit_start) + report_phase
                                 + ray_shutdown)

    def part(key: str) -> float:
        return _mean([r.get(key, 0.0) for r in records])

    compute = _mean([r.get("run_trial_s", 0.0) - r.get("checkpoint_callback_s", 0.0) for r in records])
    t_prep, t_open, t_log, t_report = part("prepare_s"), part("mlflow_open_s"), part("mlflow_log_s"), part("report_s")
    t_other = _mean(in_trial) - compute - t_prep - t_open - t_log - t_report
    loop_trial = loop_wall / n
    overhead = (sweep_wall - loop_wall) / n
    startup = ray_init + ray_shutdown + first_worker
    overhead_excl = (sweep_wall - startup - loop_wall) / n
    steady = (sum(in_trial) + sum(gaps) - loop_wall) / n  # overhead = one-off costs / n + steady
    sweep_scores = {r.seed: r.scores for r in outcome.records}
    primary = get_task(cfg0.data.task).primary
    diff = max(abs(sweep_scores[cfg.seed][t] - metrics[f"{primary}/{t}"])
               for (_, cfg), metrics in zip(cells, loop_metrics, strict=True) for t in sweep_scores[cfg.seed])

    w = 50
    print("\n" + "-" * 78)
    print(f"{'plain loop wall':<{w}}{loop_wall:8.2f} s   ({loop_trial:.2f} s per trial)")
    print(f"{'sweep wall (run_sweep)':<{w}}{sweep_wall:8.2f} s")
    print(f"  {'ray.init (one-off)':<{w - 2}}{ray_init:8.2f} s")
    print(f"  {'MLflow parent run + experiment (one-off)':<{w - 2}}{parent:8.2f} s")
    print(f"  {f'driver prepare x {n} cells (cache hits)':<{w - 2}}{driver_prepare:8.2f} s")
    print(f"  {'Tuner.fit':<{w - 2}}{fit_end - fit_start:8.2f} s")
    print(f"    {'until trial 1 starts (Tune + worker start)':<{w - 4}}{first_worker:8.2f} s   one-off")
    print(f"    {f'{n} trials inside the trainable':<{w - 4}}{sum(in_trial):8.2f} s   "
          f"({_mean(in_trial):.2f} s per trial)")
    print(f"    {f'between trials ({len(gaps)} gaps)':<{w - 4}}{sum(gaps):8.2f} s   ({_mean(gaps):.2f} s each)")
    print(f"    {'after the last trial':<{w - 4}}{after_last:8.2f} s")
    print(f"  {'reports, heatmap, parent-run artefacts':<{w - 2}}{report_phase:8.2f} s")
    print(f"  {'ray.shutdown (one-off)':<{w - 2}}{ray_shutdown:8.2f} s")
    print(f"  {'other driver work':<{w - 2}}{other_driver:8.2f} s")
    threads = "its main thread" if all(r["main_thread"] for r in records) else "a thread other than its main thread"
    print(f"one trial inside the trainable, mean of {n} ({len({r['pid'] for r in records})} worker process(es), "
          f"trainable run in {threads}):")
    print(f"  {'compute (run_trial minus checkpoint callbacks)':<{w - 2}}{compute:8.2f} s   "
          f"(loop: {loop_trial:.2f} s)")
    print(f"  {'prepare() again in the worker (cache loads)':<{w - 2}}{t_prep:8.2f} s")
    print(f"  {'MLflow: open the child run (search + params)':<{w - 2}}{t_open:8.2f} s")
    print(f"  {'MLflow: metrics, artefacts, finish':<{w - 2}}{t_log:8.2f} s")
    print(f"  {'tune.report (+ checkpoint persist)':<{w - 2}}{t_report:8.2f} s")
    print(f"  {'other (torch.save of checkpoints, config, ...)':<{w - 2}}{t_other:8.2f} s")
    print("per trial (s):  seed   loop   trainable   MLflow open   MLflow log   tune.report   gap before")
    loop_by_seed = {cfg.seed: t for (_, cfg), t in zip(cells, loop_times, strict=True)}
    for i, r in enumerate(records):  # in the order the sweep ran them
        gap = r["enter"] - (records[i - 1]["exit"] if i else fit_start)
        print(f"               {r['seed']!s:>4} {loop_by_seed.get(r['seed'], math.nan):6.2f} "
              f"{r['exit'] - r['enter']:11.2f} {r.get('mlflow_open_s', 0):13.2f} {r.get('mlflow_log_s', 0):12.2f} "
              f"{r.get('report_s', 0):13.2f} {gap:12.2f}")
    print(f"same results on both sides: {'yes' if diff < 1e-9 else 'no'} (max |Δ {primary}| = {diff:.2g})")
    print("-" * 78)
    one_off = sweep_wall - sum(in_trial) - sum(gaps)
    direct = sweep_wall / n - compute  # immune to the loop's timing noise; counts no compute slow-down in Ray
    v = 72

    def row(label: str, value: str) -> None:
        print(f"{label:<{v}}{value:>12}")

    print("both sides ran one trial at a time on all cores, so no correction for concurrent trials:")
    row("overhead per trial = (sweep wall - loop wall) / N", f"{overhead:.2f} s")
    row(f"  = one-off costs / N ({one_off:.1f} s / {n}; everything outside the trials)", f"{one_off / n:.2f} s")
    row("  + steady extra per trial (trainable + gaps - loop) / N", f"{steady:.2f} s")
    row("cross-check, loop-free: (sweep wall - compute inside the trainables) / N", f"{direct:.2f} s")
    row("Ray start-up: ray.init + ray.shutdown + first worker (one-off)", f"{startup:.2f} s")
    row("overhead per trial without Ray start-up: (sweep - start-up - loop) / N", f"{overhead_excl:.2f} s")
    row(f"overhead / measured trial ({loop_trial:.2f} s), fraction_of_measured_trial", _fmt_pct(overhead / loop_trial))
    row("  without Ray start-up", _fmt_pct(overhead_excl / loop_trial))
    row(f"overhead / a {TARGET_TRIAL_S:.0f}-s trial, overhead_fraction", _fmt_pct(overhead / TARGET_TRIAL_S))
    row("  without Ray start-up", _fmt_pct(overhead_excl / TARGET_TRIAL_S))
    verdict = "MET" if overhead / TARGET_TRIAL_S <= TARGET_FRACTION else "NOT MET"
    print(f"target: overhead <= {_fmt_pct(TARGET_FRACTION)} of a {TARGET_TRIAL_S:.0f}-s trial: {verdict} "
          f"(one-offs amortised over {n} trials; more trials amortise them further)")
    if args.json:
        result = {
            "overhead_fraction": overhead / TARGET_TRIAL_S,  # overhead per trial / 60 s
            "overhead_per_trial_s": overhead,
            "overhead_per_trial_excl_startup_s": overhead_excl,
            "fraction_of_measured_trial": overhead / loop_trial,
            "loop_trial_s": loop_trial,
            "loop_wall_s": loop_wall,
            "sweep_wall_s": sweep_wall,
            "ray_startup_s": startup,
            "steady_extra_per_trial_s": steady,
            "overhead_per_trial_direct_s": direct,
            "trials": n,
            "steps": m.steps,
            "cpus": cpus,
        }
        bad = [k for k, v in result.items() if not math.isfinite(v)]
        if bad:
            print(f"error: non-finite results: {bad}", file=sys.stderr)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
