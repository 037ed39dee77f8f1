"""Benchmark: budgeted auxiliary-pair search strategies replayed on recorded pair grids.

    .venv/bin/python scripts/bench_pair_search.py                 # the scoring worlds (benchmarks/scoring/)
    .venv/bin/python scripts/bench_pair_search.py --set dev       # the development worlds (benchmarks/dev/)
    .venv/bin/python scripts/bench_pair_search.py --json --png docs/results/pair_search_regret.png
    .venv/bin/python scripts/bench_pair_search.py --worlds my-world.json --reps 6

Each world is a full grid recorded by real sweeps (``scripts/record_grids.py``): every pair's dev
scores at every checkpoint and its final test deltas, for every seed. Strategies are replayed on it
(``benchmarks/replay.py``): they pay meta-steps for the dev scores they read, and never
read a test score. The worlds come in two sets (``benchmarks/README.md``): **development** worlds,
on which every rule, feature and default of the search was chosen, and **scoring** worlds of the
same variety, recorded separately and used only to report. The output says which set it read.

Over every world and ``--reps`` replications (seed orders — which seed screens, which follow — all of
them when ``--reps`` covers every permutation of a world's seeds, else random ones) the tables give:

* ``compute``: meta-steps spent / the full grid's;
* ``tied``: share of targets whose chosen pair is tied with the grid's best (test deltas, paired over
  seeds, Holm-corrected at α = 0.05);
* ``top3``: share of targets whose grid-best pair (mean test delta) is in the strategy's top 3;
* ``top3 ≤1pt``: share of targets whose top 3 holds a pair within 1 point of the grid's best;
* ``regret``: mean over targets of grid-best minus chosen mean test delta, in points —

first as means over the worlds, then per world for the default search and the grid run with one seed
(the cheap baseline: a third of a 3-seed grid's compute), with the check "regret ≤ the 1-seed grid's and
tied ≥ 0.90"; for a world of at least 100 pairs, the default search at ``--scale-budget`` (10 %) too, with
"regret ≤ 0.5 points". Then the **warm start**: the default search when an earlier sweep already ran a
random half of the pairs to full length with every seed (their dev scores recalled free of charge; the
budget is the same share of the meta-steps that evidence does not cover), against the cold search. Then
each (world, target) whose grid-best pair the default's top 3 missed, and the completed heatmap (as
before: 30 % of the pairs observed; and the heatmap the default search leaves), with its noise ceilings.

``--png`` draws regret vs compute (and prints the curve's points). With ``--json`` the last line is one JSON
object: the default search's ``compute_fraction``, ``tied_rate``, ``top3_rate``, ``regret_pts`` (and
``mean_regret_pts``, the same), the 1-seed grid's ``grid_1seed_compute``, ``grid_1seed_tied``,
``grid_1seed_top3``, ``grid_1seed_regret_pts`` from the same replications, ``completion_spearman``,
``interval_coverage``, ``warm_start_compute`` (the warm search's spent share of the full grid), the set and
each world's sizes (``worlds``) and per-world figures (``per_world``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only contend on shared cores
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the replay harness: benchmarks/

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.replay import (  # noqa: E402
    Score,
    complete,
    complete_after_search,
    noise_ceiling,
    replay,
    score,
    world_prior,
)
from benchmarks.worlds import World, load_world  # noqa: E402
from xlsweep.pairsearch.search import SearchOptions  # noqa: E402

SETS = {"scoring": ROOT / "benchmarks" / "scoring", "dev": ROOT / "benchmarks" / "dev"}
SET_ROLE = {"scoring": "scoring worlds: reported only; every default was chosen on the development worlds",
            "dev": "development worlds: where every rule, feature and default of the search was chosen",
            "files": "worlds named on the command line"}
CURVE_BUDGETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5)
SCALE_PAIRS = 100  # a world this large is also searched at --scale-budget


@dataclass(frozen=True)
class Row:
    """One strategy of the table: a replay strategy, its options and how many of each order's seeds it runs."""

    name: str
    strategy: str
    options: SearchOptions
    seeds: int | None = None  # run only the first N seeds of each order (None: all)


def _orders(world: World, reps: int, rng: np.random.Generator) -> list[list[int]]:
    """Every permutation of the world's seeds when ``reps`` covers them all (3 seeds: 6), else ``reps`` random ones."""
    n = len(world.seeds)
    if reps >= math.factorial(n):
        return [list(p) for p in itertools.permutations(range(n))][:reps]
    return [list(rng.permutation(n)) for _ in range(reps)]


def _targets(world: World, include_source: bool) -> tuple[str, ...]:
    """The languages scored: the transfer targets (every one but the source), or all with --include-source."""
    return world.languages if include_source else world.transfer_targets


def _mean(scores: Sequence[Score]) -> dict[str, float]:
    return {key: float(np.mean([getattr(s, attr) for s in scores])) for key, attr in
            (("compute", "compute_fraction"), ("tied", "tied"), ("top3", "top3"), ("top3_near", "top3_near"),
             ("regret", "regret_pts"))}


def evaluate(worlds: list[World], row: Row, reps: int, seed: int, include_source: bool = False,
             missed: Counter[tuple[str, str]] | None = None,
             play: Callable[[World, list[int], int], Any] | None = None) -> dict[str, dict[str, float]]:
    """Mean scores of ``row`` per world (by name) and over all worlds (key ``"all"``: the mean of the worlds' means).

    ``missed`` counts, per (world, target), the replications whose top 3 lacked the grid's best pair; ``play``
    replaces the replay (world, order, replication seed) -> Choice.
    """
    out: dict[str, dict[str, float]] = {}
    for w, world in enumerate(worlds):
        rows = []
        for r, order in enumerate(_orders(world, reps, np.random.default_rng([seed, w]))):
            if play is not None:
                choice = play(world, order, 1000 * w + r)
            else:
                choice = replay(world, row.strategy, order=order[: row.seeds], options=row.options,
                                rng_seed=1000 * w + r)
            rows.append(score(world, choice, targets=_targets(world, include_source)))
            if missed is not None:
                missed.update((world.name, t) for t in rows[-1].missed)
        out[world.name] = _mean(rows)
    out["all"] = {k: float(np.mean([out[w.name][k] for w in worlds])) for k in out[worlds[0].name]}
    return out


def _half(world: World, replication: int) -> list[int]:
    """A random half of the world's pairs: what an earlier sweep ran (seeded by the replication)."""
    rng = np.random.default_rng([len(world.pairs), replication])
    return sorted(rng.choice(len(world.pairs), len(world.pairs) // 2, replace=False).tolist())


def _target_spread(world: World, target: str) -> str:
    """The grid's best pair on ``target``, the runner-up and the range of its mean test deltas, in points."""
    means = 100 * world.test_delta[:, :, world.languages.index(target)].mean(axis=1)
    first, second = np.argsort(-means)[:2]
    return (f"grid best {world.pairs[first].label} {means[first]:+.1f}, next {world.pairs[second].label} "
            f"{means[second]:+.1f} (pairs span {means.min():+.1f} … {means.max():+.1f})")


def evaluate_completion(worlds: list[World], *, share: float, reps: int, seed: int,
                        use_prior: bool = True, in_sample: bool = False, include_source: bool = False,
                        use_source: bool = True) -> dict[str, float]:
    rows = []
    for w, world in enumerate(worlds):
        rng = np.random.default_rng([seed, w, 7])
        n = max(2, round(share * len(world.pairs)))
        prior = world_prior(world) if use_prior else None
        for _ in range(reps):
            rows.append(complete(world, rng.choice(len(world.pairs), n, replace=False).tolist(), prior=prior,
                                 in_sample=in_sample, targets=_targets(world, include_source),
                                 use_source=use_source))
    return {"spearman": float(np.mean([c.spearman for c in rows])),
            "within": float(np.mean([c.spearman_within for c in rows])),
            "coverage": float(np.mean([c.coverage for c in rows])),
            "width": float(np.mean([c.width_pts for c in rows]))}


def evaluate_search_completion(worlds: list[World], options: SearchOptions, reps: int, seed: int,
                               include_source: bool = False) -> dict[str, float]:
    """The heatmap the default search leaves (its full and partial runs), scored on the pairs it did not finish."""
    rows = []
    for w, world in enumerate(worlds):
        for r, order in enumerate(_orders(world, reps, np.random.default_rng([seed, w]))):
            rows.append(complete_after_search(world, order=order, options=options, rng_seed=1000 * w + r,
                                              targets=_targets(world, include_source)))
    return {key: float(np.mean([getattr(c, attr) for c in rows])) for key, attr in
            (("spearman", "spearman"), ("within", "spearman_within"), ("coverage", "coverage"), ("width", "width_pts"))}


def _curve(worlds: list[World], options: SearchOptions, reps: int, seed: int, png: Path, label: str,
           include_source: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    print("\nregret vs compute (the curve of --png)\n\n| strategy | budget | compute | tied | regret (pts) |\n"
          "|---|---:|---:|---:|---:|")
    for name, strategy, style in (("xlsweep", "xlsweep", "o-"), ("random", "random", "^:")):
        points = [evaluate(worlds, Row(name, strategy, replace(options, budget=b)), reps, seed, include_source)["all"]
                  for b in CURVE_BUDGETS]
        for b, p in zip(CURVE_BUDGETS, points, strict=True):
            print(f"| {name} | {b:g} | {p['compute']:.3f} | {p['tied']:.3f} | {p['regret']:.2f} |")
        ax.plot([p["compute"] for p in points], [p["regret"] for p in points], style, label=name)
    for name, strategy, marker, seeds in (("grid, 1 seed", "grid", "P", 1), ("asha", "asha", "D", None),
                                          ("grid", "grid", "*", None)):
        p = evaluate(worlds, Row(name, strategy, options, seeds), reps, seed, include_source)["all"]
        print(f"| {name} | – | {p['compute']:.3f} | {p['tied']:.3f} | {p['regret']:.2f} |")
        ax.plot([p["compute"]], [p["regret"]], marker, markersize=9, label=name)
    ax.axvline(options.budget, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("compute (share of the full grid's meta-steps)")
    ax.set_ylabel("mean regret (points of test accuracy)")
    ax.set_title(f"Pair search on {len(worlds)} {label}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def _line(name: str, r: dict[str, float]) -> str:
    return (f"| {name} | {r['compute']:.3f} | {r['tied']:.3f} | {r['top3']:.3f} | {r['top3_near']:.3f} | "
            f"{r['regret']:.2f} |")


def _worlds(args: argparse.Namespace) -> tuple[str, list[World]]:
    if args.worlds:
        return "files", [load_world(p) for p in args.worlds]
    paths = sorted(SETS[args.set].glob("*.json"))
    if not paths:
        sys.exit(f"no worlds in {SETS[args.set]}: expected <name>.json files of scripts/record_grids.py "
                 "(see benchmarks/README.md)")
    return args.set, [load_world(p) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("scoring", "dev"), default="scoring",
                        help="which committed worlds to replay (default: the scoring worlds)")
    parser.add_argument("--worlds", type=Path, nargs="+", default=[], help="world files instead of a set")
    parser.add_argument("--budget", type=float, default=SearchOptions.budget)
    parser.add_argument("--scale-budget", type=float, default=0.10,
                        help="the budget of the extra row for worlds of at least --scale-pairs pairs")
    parser.add_argument("--scale-pairs", type=int, default=SCALE_PAIRS,
                        help=f"a world this large is also searched at --scale-budget (default {SCALE_PAIRS})")
    parser.add_argument("--reps", type=int, default=6, help="replications per world (seed orders)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--completion-share", type=float, default=0.3)
    parser.add_argument("--png", type=Path, default=None, help="regret-vs-compute curve (default: none)")
    parser.add_argument("--include-source", action="store_true",
                        help="score the source language too (stage 1 trained it to its ceiling: its best is noise)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    src = args.include_source
    start = time.monotonic()
    kind, worlds = _worlds(args)
    options = SearchOptions(budget=args.budget)
    print(f"{len(worlds)} {SET_ROLE[kind]}:")
    for w in worlds:
        print(f"  {w.name}: {len(w.pairs)} pairs × {len(w.seeds)} seeds × {len(_targets(w, src))} targets "
              f"({len(w.languages)} languages), {w.steps} meta-steps")
    scored = "every language" if src else "the transfer targets (the source left out: --include-source)"
    print(f"budget {args.budget:g}, {args.reps} replications per world; scored on {scored}\n")
    print("| strategy | compute | tied | top3 | top3 ≤1pt | regret (pts) |")
    print("|---|---:|---:|---:|---:|---:|")
    fewest = min(len(w.seeds) for w in worlds)
    rows = [Row("full grid", "grid", options)]
    rows += [Row(f"grid, {k} seed{'s' * (k > 1)}", "grid", options, k) for k in (1, 2) if k < fewest]
    rows += [Row("xlsweep (default)", "xlsweep", options),
             Row("xlsweep, survivors with every seed", "xlsweep", replace(options, final_seeds=0)),
             Row("xlsweep, survivors with 1 seed", "xlsweep", replace(options, final_seeds=1)),
             Row("plain ASHA", "asha", options), Row("random", "random", options),
             Row("prior (no training)", "prior", options)]
    results: dict[str, dict[str, dict[str, float]]] = {}
    missed: Counter[tuple[str, str]] = Counter()
    for row in rows:
        results[row.name] = evaluate(worlds, row, args.reps, args.seed, src,
                                     missed if row.name == "xlsweep (default)" else None)
        print(_line(row.name, results[row.name]["all"]), flush=True)

    default, cheap = results["xlsweep (default)"], results["grid, 1 seed"] if fewest > 1 else None
    big = [w for w in worlds if len(w.pairs) >= args.scale_pairs]
    scale = evaluate(big, Row("scale", "xlsweep", replace(options, budget=args.scale_budget)), args.reps,
                     args.seed, src) if big else {}
    print("\nper world: the default search against the grid run with 1 seed (same replications)\n")
    print("| world | pairs × seeds × targets | grid, 1 seed: compute, tied, regret | xlsweep: compute, tied, "
          "regret | regret ≤ 1-seed grid's, tied ≥ 0.90 |")
    print("|---|---|---|---|---|")
    per_world = []
    for w in worlds:
        d = default[w.name]
        c = cheap[w.name] if cheap else None
        ok = c is not None and d["regret"] <= c["regret"] + 1e-9 and d["tied"] >= 0.9
        size = f"{len(w.pairs)} × {len(w.seeds)} × {len(_targets(w, src))}"
        base = f"{c['compute']:.3f}, {c['tied']:.3f}, {c['regret']:.2f}" if c else "–"
        print(f"| {w.name} | {size} | {base} | {d['compute']:.3f}, {d['tied']:.3f}, {d['regret']:.2f} | "
              f"{'yes' if ok else 'no'} |")
        entry = {"world": w.name, "regret_pts": round(d["regret"], 3), "tied_rate": round(d["tied"], 4),
                 "top3_rate": round(d["top3"], 4)}
        if c:
            entry |= {"grid_1seed_regret_pts": round(c["regret"], 3), "grid_1seed_tied": round(c["tied"], 4)}
        if w.name in scale:
            s = scale[w.name]
            entry |= {f"regret_pts_at_{args.scale_budget:g}": round(s["regret"], 3),
                      f"tied_rate_at_{args.scale_budget:g}": round(s["tied"], 4)}
            print(f"| {w.name} at {args.scale_budget:g} | {size} | – | {s['compute']:.3f}, {s['tied']:.3f}, "
                  f"{s['regret']:.2f} | regret ≤ 0.5: {'yes' if s['regret'] <= 0.5 else 'no'} |")
        per_world.append(entry)

    print("\nwarm start: half the pairs (a random half per replication) ran to full length in an earlier sweep "
          "with every seed; their dev scores are recalled free of charge\n")
    print("| world | cold: compute, tied, regret | warm: new compute, tied, regret |")
    print("|---|---|---|")
    warm = evaluate(worlds, Row("warm", "xlsweep", options), args.reps, args.seed, src,
                    play=lambda world, order, r: replay(world, "xlsweep", order=order, options=options, rng_seed=r,
                                                        recalled=_half(world, r)))
    for w in worlds:
        d, m = default[w.name], warm[w.name]
        print(f"| {w.name} | {d['compute']:.3f}, {d['tied']:.3f}, {d['regret']:.2f} | {m['compute']:.3f}, "
              f"{m['tied']:.3f}, {m['regret']:.2f} |")
    m = warm["all"]
    print(f"| mean | {default['all']['compute']:.3f}, {default['all']['tied']:.3f}, {default['all']['regret']:.2f} | "
          f"{m['compute']:.3f}, {m['tied']:.3f}, {m['regret']:.2f} |")

    print(f"\nwhere the default's top 3 lacks the grid's best pair ({sum(missed.values())} of "
          f"{sum(len(_orders(w, args.reps, np.random.default_rng(0))) * len(_targets(w, src)) for w in worlds)} "
          "target-replications):")
    by_name = {w.name: w for w in worlds}
    for (name, target), n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {name} {target}: {n} of {len(_orders(by_name[name], args.reps, np.random.default_rng(0)))}; "
              f"{_target_spread(by_name[name], target)}")

    print(f"\ncompleted heatmap, {args.completion_share:.0%} of the pairs observed:\n")
    print("| model | spearman | within target | 90 % coverage | interval width (pts) |")
    print("|---|---:|---:|---:|---:|")
    completion = {}
    for name, use_prior, use_source in (("pooled, prior", True, True),
                                        ("pooled, prior without the source features", True, False),
                                        ("pooled, no prior", False, False)):
        completion[name] = c = evaluate_completion(worlds, share=args.completion_share, reps=args.reps,
                                                   seed=args.seed, use_prior=use_prior, include_source=src,
                                                   use_source=use_source)
        print(f"| {name} | {c['spearman']:.3f} | {c['within']:.3f} | {c['coverage']:.3f} | {c['width']:.1f} |")
    c = evaluate_search_completion(worlds, options, args.reps, args.seed, src)
    print(f"| after the xlsweep search at {args.budget:g} (full + partial runs) | {c['spearman']:.3f} | "
          f"{c['within']:.3f} | {c['coverage']:.3f} | {c['width']:.1f} |")
    c = evaluate_completion(worlds, share=args.completion_share, reps=args.reps, seed=args.seed, in_sample=True,
                            include_source=src)
    print(f"| ceiling: the same model fitted to every pair, hidden ones included | {c['spearman']:.3f} | "
          f"{c['within']:.3f} | – | – |")
    ceilings = [noise_ceiling(w, _targets(w, src)) for w in worlds if len(w.seeds) > 1]
    if ceilings:
        print(f"| ceiling: seed noise (a perfect model vs the seed mean, Spearman–Brown) | "
              f"{np.mean([c.ceiling for c in ceilings]):.3f} | – | – | – |")
    if args.png:
        print(f"\nwrote {_curve(worlds, options, args.reps, args.seed, args.png, SET_ROLE[kind].split(':')[0], src)}")
    print(f"\n({time.monotonic() - start:.1f} s)")
    if args.json:
        d, c = default["all"], completion["pooled, prior"]
        line: dict[str, Any] = {
            "set": kind, "compute_fraction": round(d["compute"], 4), "tied_rate": round(d["tied"], 4),
            "top3_rate": round(d["top3"], 4), "regret_pts": round(d["regret"], 3),
            "mean_regret_pts": round(d["regret"], 3)}
        if cheap:
            g = cheap["all"]
            line |= {"grid_1seed_compute": round(g["compute"], 4), "grid_1seed_tied": round(g["tied"], 4),
                     "grid_1seed_top3": round(g["top3"], 4), "grid_1seed_regret_pts": round(g["regret"], 3)}
        line |= {"completion_spearman": round(c["spearman"], 4), "interval_coverage": round(c["coverage"], 4),
                 "warm_start_compute": round(warm["all"]["compute"], 4),
                 "warm_start_regret_pts": round(warm["all"]["regret"], 3),
                 "worlds": [{"name": w.name, "pairs": len(w.pairs), "seeds": len(w.seeds),
                             "targets": len(_targets(w, src)), "languages": len(w.languages)} for w in worlds],
                 "per_world": per_world}
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
