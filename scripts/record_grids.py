"""Record the worlds of the pair-search replay benchmark: full pair grids run by real sweeps, exported from MLflow.

    nice -n 10 .venv/bin/python scripts/record_grids.py                     # family seeds 1 2 3 → benchmarks/
    .venv/bin/python scripts/record_grids.py --family-seeds 4 --out /tmp/w   # one more world
    .venv/bin/python scripts/record_grids.py --export-only --family-seeds 1  # re-export a finished sweep
    .venv/bin/python scripts/record_grids.py --seeds 2 --merge                # one more seed into each world

For each family seed, ``tune_configs/record-grid.yaml`` (or ``--config``) runs as an ordinary
``xlsweep`` sweep (Ray Tune + MLflow, the embedded default) with ``data.synthetic.family_seed``
set: every cell of its pair grid and every seed, each trial reporting its dev scores on every
language at every checkpoint (``search.metric: dev_avg``) and its test deltas at the end. Then the
sweep is read back from MLflow — each child run's ``dev/<lang>`` history and final ``delta/<lang>``,
the parent's ``baseline/`` — with the family's planted relatedness, and written as
``<out>/world-<seed>.json`` (``benchmarks/worlds.py``), with the wall time it took.
Sweeps and the MLflow store go to ``<work>`` (default ``runs/record-grids``).

``--seeds`` replaces the config's seed axis; with ``--merge`` the new seeds are added to the
existing ``<out>/world-<seed>.json`` (:func:`merge_worlds`), which must be the same grid — same
languages, pairs, checkpoints and, to the recorded precision, the same stage-1 baseline (the new
sweep's stage 1 must be the model the old seeds started from).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the world files' format: benchmarks/worlds.py

from benchmarks.worlds import Pair, World, load_world, save_world  # noqa: E402
from xlsweep.config import to_dict
from xlsweep.config.schema import AuxChoice
from xlsweep.data.benchmark import benchmark_languages, synthetic_benchmark
from xlsweep.data.families import resolve_family
from xlsweep.data.synthetic import Language, expected_relatedness
from xlsweep.plan import grid_cells, load_sweep
from xlsweep.tracking import PARENT_TAG
from xlsweep.tracking.reader import StoreReader

ROOT = Path(__file__).resolve().parents[1]


def _branch(nodes: dict[str, Language], code: str) -> str:
    """The top-level branch of ``code``: its ancestor just below the root (an isolate is a branch of its own)."""
    while (parent := nodes[code].parent) is not None and nodes[parent].parent is not None:
        code = parent
    return code


def aux_languages(family: Sequence[Language], source: str, *, near: int, far: int, with_source: bool = True,
                  seed: int = 0) -> tuple[str, ...]:
    """The auxiliary languages of a world's shape: the source (``with_source``), its ``near`` closest relatives
    (planted relatedness) and ``far`` languages of *other* top-level branches than the source's, drawn in turn
    from each such branch (seeded), so the far set spreads over the family. The spoken languages left out are
    the world's targets that are never auxiliary.

    Raises:
        SystemExit: If the family has too few languages for the shape.
    """
    nodes = {lang.code: lang for lang in family}
    spoken = [lang.code for lang in family if lang.spoken and lang.code != source]
    by_closeness = sorted(spoken, key=lambda c: -expected_relatedness(source, c, tuple(family)))
    chosen = [source] * with_source + by_closeness[:near]
    home = _branch(nodes, source)
    rng = random.Random(f"aux-{seed}")
    branches: dict[str, list[str]] = {}
    for code in spoken:
        if code not in chosen and _branch(nodes, code) != home:
            branches.setdefault(_branch(nodes, code), []).append(code)
    pools = [rng.sample(members, len(members)) for _, members in sorted(branches.items())]
    rng.shuffle(pools)
    spread = [pool[i] for i in range(max(map(len, pools), default=0)) for pool in pools if i < len(pool)]
    if len(spread) < far:
        raise SystemExit(f"family seed {seed}: {len(spread)} language(s) outside {source}'s branch; the shape asks "
                         f"for {far} distant auxiliary languages")
    return tuple(chosen + spread[:far])


def _sweep_for(config: Path, family_seed: int, seeds: Sequence[int] = (),  # type: ignore[no-untyped-def]
               shape: tuple[int, int, bool] | None = None, languages: int = 0):
    sweep = load_sweep(config)
    data = sweep.trial.data
    synthetic = dataclasses.replace(data.synthetic, family_seed=family_seed)
    if languages:
        synthetic = dataclasses.replace(synthetic, languages=languages)
    trial = dataclasses.replace(sweep.trial, data=dataclasses.replace(data, synthetic=synthetic))
    name = f"{sweep.name}-w{family_seed}"
    grid = sweep.grid
    if shape is not None:
        near, far, with_source = shape
        langs = aux_languages(resolve_family(synthetic), data.source, near=near, far=far, with_source=with_source,
                              seed=family_seed)
        grid = dataclasses.replace(grid, aux=tuple(AuxChoice((a,), (b,)) for a in langs for b in langs if a != b))
    if seeds:
        axes = tuple((k, v) for k, v in grid.axes if k != "seed") + (("seed", tuple(seeds)),)
        grid = dataclasses.replace(grid, axes=axes)
        name += "-s" + "-".join(str(s) for s in seeds)
    return dataclasses.replace(sweep, name=name, trial=trial, grid=grid)


def merge_worlds(old: World, new: World) -> World:
    """``old`` with the seeds of ``new`` added: the same grid recorded again with other seeds.

    Raises:
        SystemExit: If the two are not the same grid (languages, pairs, steps, checkpoints), share a
            seed, or started from different stage-1 models (baselines differ beyond the recorded 4 decimals).
    """
    for attr in ("languages", "pairs", "steps", "checkpoints"):
        if getattr(old, attr) != getattr(new, attr):
            raise SystemExit(f"cannot merge into {old.name}: its {attr} differ from the new recording's")
    if set(old.seeds) & set(new.seeds):
        raise SystemExit(f"cannot merge into {old.name}: seed(s) {sorted(set(old.seeds) & set(new.seeds))} "
                         "are recorded already")
    drift = max(abs(old.baseline[k] - new.baseline[k]) for k in old.languages)
    if drift > 1e-4:
        raise SystemExit(f"cannot merge into {old.name}: the new sweep's stage-1 baseline differs by {drift:.4f} "
                         "(another stage-1 model: the new seeds would not be comparable)")
    recordings = [*old.recording.get("merged", [old.recording]), new.recording]
    return dataclasses.replace(
        old, seeds=old.seeds + new.seeds, dev=np.concatenate([old.dev, new.dev], axis=1),
        test_delta=np.concatenate([old.test_delta, new.test_delta], axis=1),
        recording={**old.recording, "merged": recordings,
                   "wall_s": round(sum(float(r["wall_s"]) for r in recordings), 1),
                   "trials": sum(int(r["trials"]) for r in recordings)})


def export(sweep, tracking_uri: str, parent_run_id: str, wall_s: float, out: Path,  # type: ignore[no-untyped-def]
           merge: bool = False, prefix: str = "world") -> Path:
    """Read the sweep's child runs from MLflow and write its world file (``merge``: add its seeds to the file's)."""
    store = StoreReader(tracking_uri)  # scores as fractions, whatever unit the runs were logged in
    parent = store.run(parent_run_id)
    children = store.runs([parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'")
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
            for step, value in store.history(run.info.run_id, f"dev/{lang}"):
                if step in checkpoints:
                    dev[i, j, checkpoints.index(step), k] = value
    missing = int(np.isnan(delta).any(axis=-1).sum())
    if missing or np.isnan(dev).any():
        raise SystemExit(f"{sweep.name}: {missing} cell(s) without test deltas or dev scores missing; resume the "
                         "sweep (xlsweep resume) and export again with --export-only")
    bench = synthetic_benchmark(data.synthetic)
    primary = parent.data.tags.get("xlsweep.primary", "acc")
    world = World(
        name=f"{prefix}-{data.synthetic.family_seed}", languages=tuple(languages), pairs=pairs, seeds=seeds,
        steps=steps, checkpoints=checkpoints, dev=dev, test_delta=delta, metric=primary,
        relatedness={a: {b: bench.relatedness(a, b) for b in languages} for a in languages},
        baseline={lang: parent.data.metrics[f"baseline/{primary}/{lang}"] for lang in languages},
        recording={"command": "scripts/record_grids.py", "sweep": sweep.name, "wall_s": round(wall_s, 1),
                   "trials": len(children), "date": dt.date.today().isoformat(), "machine":
                   f"{platform.machine()}, 2 shared cores", "family": [dataclasses.asdict(x) for x in bench.family],
                   "config": {k: v for k, v in to_dict(cfg).items() if k in ("data", "stage1", "meta", "model")}})
    path = out / f"{world.name}.json"
    if merge:
        if not path.exists():
            raise SystemExit(f"--merge: {path} does not exist; record the world first")
        world = merge_worlds(load_world(path), world)
    return save_world(world, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "tune_configs" / "record-grid.yaml")
    parser.add_argument("--family-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "dev",
                        help="where the world files go (development: benchmarks/dev; scoring: benchmarks/scoring)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "record-grids")
    parser.add_argument("--seeds", type=int, nargs="+", default=[], help="the grid's seeds (default: the config's)")
    parser.add_argument("--merge", action="store_true", help="add the new seeds to the existing world files")
    parser.add_argument("--export-only", action="store_true", help="export the latest sweep of each seed")
    parser.add_argument("--languages", type=int, default=0, help="languages of the random family (default: the "
                        "config's data.synthetic.languages)")
    parser.add_argument("--near", type=int, default=None, help="the world's shape: auxiliary languages are the "
                        "source, its NEAR closest relatives and --far languages of other branches (default: the "
                        "config's grid.aux)")
    parser.add_argument("--far", type=int, default=4, help="distant auxiliary languages, with --near")
    parser.add_argument("--no-source", action="store_true", help="with --near: the source is not auxiliary")
    parser.add_argument("--prefix", default="world", help="file and world name: <prefix>-<family seed>.json")
    args = parser.parse_args()
    uri = f"sqlite:///{(args.work / 'mlflow.db').resolve()}"
    shape = None if args.near is None else (args.near, args.far, not args.no_source)
    sweeps = {seed: _sweep_for(args.config, seed, args.seeds, shape, args.languages) for seed in args.family_seeds}
    if args.merge:  # refused before any sweep runs: a missing world, or seeds it has already
        for seed, sweep in sweeps.items():
            path = args.out / f"{args.prefix}-{seed}.json"
            if not path.exists():
                sys.exit(f"--merge: {path} does not exist; record the world first (without --merge)")
            new = {int(cell.get("seed", sweep.trial.seed)) for cell in grid_cells(sweep)}
            if twice := sorted(new & set(load_world(path).seeds)):
                sys.exit(f"--merge: {path} already has seed(s) {twice}; pick others with --seeds")
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for sweep in sweeps.values():
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
        path = export(sweep, uri, parent_id, wall, args.out, merge=args.merge, prefix=args.prefix)
        print(f"{sweep.name}: {wall / 60:.1f} min → {path} ({path.stat().st_size // 1024} KB)", flush=True)


if __name__ == "__main__":
    main()
