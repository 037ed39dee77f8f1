"""Record the worlds of the pair-search replay benchmark: full pair grids run by real sweeps, exported from MLflow.

    nice -n 10 .venv/bin/python scripts/record_grids.py                     # family seeds 1 2 3 → benchmarks/
    .venv/bin/python scripts/record_grids.py --family-seeds 4 --out /tmp/w   # one more world
    .venv/bin/python scripts/record_grids.py --export-only --family-seeds 1  # re-export a finished sweep

For each family seed, ``tune_configs/record-grid.yaml`` (or ``--config``) runs as an ordinary
``xlsweep`` sweep (Ray Tune + MLflow, the embedded default) with ``data.synthetic.family_seed``
set: every cell of its pair grid and every seed, each trial reporting its dev scores on every
language at every checkpoint (``search.metric: dev_avg``) and its test deltas at the end. Then the
sweep is read back from MLflow — each child run's ``dev/<lang>`` history and final ``delta/<lang>``,
the parent's ``baseline/`` — with the family's planted relatedness, and written as
``<out>/world-<seed>.json`` (:mod:`xlsweep.pairsearch.world`), with the wall time it took.
Sweeps and the MLflow store go to ``<work>`` (default ``runs/record-grids``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import sys
import time
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from xlsweep.config import load_sweep
from xlsweep.config.load import grid_cells, to_dict
from xlsweep.data.benchmark import benchmark_languages, synthetic_benchmark
from xlsweep.pairsearch.world import Pair, World, save_world
from xlsweep.tracking import PARENT_TAG

ROOT = Path(__file__).resolve().parents[1]


def _sweep_for(config: Path, family_seed: int):  # type: ignore[no-untyped-def]
    sweep = load_sweep(config)
    data = sweep.trial.data
    synthetic = dataclasses.replace(data.synthetic, family_seed=family_seed)
    trial = dataclasses.replace(sweep.trial, data=dataclasses.replace(data, synthetic=synthetic))
    return dataclasses.replace(sweep, name=f"{sweep.name}-w{family_seed}", trial=trial)


def export(sweep, tracking_uri: str, parent_run_id: str, wall_s: float, out: Path) -> Path:  # type: ignore[no-untyped-def]
    """Read the sweep's child runs from MLflow and write its world file."""
    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                                  max_results=5000)
    cfg, data = sweep.trial, sweep.trial.data
    languages = cfg.eval.targets or benchmark_languages(data)
    pairs = tuple(Pair(c.support, c.query) for c in sweep.grid.aux)
    seeds = tuple(sorted({int(cell.get("seed", cfg.seed)) for cell in grid_cells(sweep)}))
    every, steps = cfg.meta.checkpoint_every, cfg.meta.steps
    checkpoints = tuple(sorted({*range(every, steps + 1, every), steps}))
    dev = np.full((len(pairs), len(seeds), len(checkpoints), len(languages)), np.nan)
    delta = np.full((len(pairs), len(seeds), len(languages)), np.nan)
    index = {p.label: i for i, p in enumerate(pairs)}
    for run in children:
        if run.info.status != "FINISHED":
            continue
        i, j = index[run.data.tags["xlsweep.aux"]], seeds.index(int(run.data.tags["xlsweep.seed"]))
        for k, lang in enumerate(languages):
            delta[i, j, k] = run.data.metrics[f"delta/{lang}"]
            for m in client.get_metric_history(run.info.run_id, f"dev/{lang}"):
                if m.step in checkpoints:
                    dev[i, j, checkpoints.index(m.step), k] = m.value
    missing = int(np.isnan(delta).any(axis=-1).sum())
    if missing or np.isnan(dev).any():
        raise SystemExit(f"{sweep.name}: {missing} cell(s) without test deltas or dev scores missing; resume the "
                         "sweep (xlsweep resume) and export again with --export-only")
    bench = synthetic_benchmark(data.synthetic)
    primary = parent.data.tags.get("xlsweep.primary", "acc")
    world = World(
        name=f"world-{data.synthetic.family_seed}", languages=tuple(languages), pairs=pairs, seeds=seeds,
        steps=steps, checkpoints=checkpoints, dev=dev, test_delta=delta, metric=primary,
        relatedness={a: {b: bench.relatedness(a, b) for b in languages} for a in languages},
        baseline={lang: parent.data.metrics[f"baseline/{primary}/{lang}"] for lang in languages},
        recording={"command": "scripts/record_grids.py", "sweep": sweep.name, "wall_s": round(wall_s, 1),
                   "trials": len(children), "date": dt.date.today().isoformat(), "machine":
                   f"{platform.machine()}, 2 shared cores", "family": [dataclasses.asdict(x) for x in bench.family],
                   "config": {k: v for k, v in to_dict(cfg).items() if k in ("data", "stage1", "meta", "model")}})
    return save_world(world, out / f"{world.name}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "tune_configs" / "record-grid.yaml")
    parser.add_argument("--family-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "record-grids")
    parser.add_argument("--export-only", action="store_true", help="export the latest sweep of each seed")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(args.work / 'mlflow.db').resolve()}"
    for seed in args.family_seeds:
        sweep = _sweep_for(args.config, seed)
        start = time.monotonic()
        if args.export_only:
            client = MlflowClient(uri)
            exp = client.get_experiment_by_name(sweep.name)
            parent = client.search_runs([exp.experiment_id], "tags.`xlsweep.sweep_id` LIKE '%'",
                                        order_by=["attributes.start_time DESC"], max_results=1)[0]
            parent_id, wall = parent.info.run_id, (parent.info.end_time - parent.info.start_time) / 1000
        else:
            from xlsweep.sweep.runner import run_sweep

            outcome = run_sweep(sweep, tracking_uri=uri, output_dir=str(args.work / "runs"), log=print)
            if outcome.failures or outcome.interrupted:
                sys.exit(f"{sweep.name}: the sweep did not complete ({outcome.failures or 'interrupted'}); "
                         f"resume it with `xlsweep resume {outcome.out_dir}`, then --export-only")
            parent_id, wall = outcome.parent_run_id, time.monotonic() - start
        path = export(sweep, uri, parent_id, wall, args.out)
        print(f"{sweep.name}: {wall / 60:.1f} min → {path} ({path.stat().st_size // 1024} KB)", flush=True)


if __name__ == "__main__":
    main()
