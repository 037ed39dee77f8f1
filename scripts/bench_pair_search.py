"""Benchmark: budgeted auxiliary-pair search strategies replayed on recorded pair grids (issue 14 §4).

    .venv/bin/python scripts/bench_pair_search.py                     # benchmarks/world-*.json, 15 % budget
    .venv/bin/python scripts/bench_pair_search.py --json              # ... last line: the default's numbers
    .venv/bin/python scripts/bench_pair_search.py --worlds benchmarks/world-3.json --reps 4

Each world is a full grid recorded by real sweeps (``scripts/record_grids.py``): every pair's dev
scores at every checkpoint and its final test deltas, for every seed. Strategies are replayed on it
(:mod:`xlsweep.pairsearch.replay`): they pay meta-steps for the dev scores they read, and never
read a test score. Over every world and ``--reps`` replications (a resampled seed order — which
seed screens — and the strategy's own random seed) the table gives, for each strategy and for the grid run
with fewer seeds than recorded (``grid, 1 seed``: which seed is the replication's; it shows how much of the
full grid's top-3 comes from ranking on dev scores of the very trials the test deltas come from), and for the
search whose survivors run with only 2 or 3 of the grid's seeds (``pair_search.final_seeds``: more survivors
for the same compute; scored, as always, on every seed's test deltas):

* ``compute``: meta-steps spent / the full grid's;
* ``tied``: share of targets whose chosen pair is tied with the grid's best (test deltas, paired over
  seeds, Holm-corrected at α = 0.05);
* ``top3``: share of targets whose grid-best pair (mean test delta) is in the strategy's top 3;
* ``top3 ≤1pt``: share of targets whose top 3 holds a pair within 1 point of the grid's best (a reading aid:
  ``top3`` counts a runner-up 0.1 point behind the best as a miss; the JSON line keeps ``top3``);
* ``regret``: mean over targets of grid-best minus chosen mean test delta, in points;

then, for the default strategy, each (world, target) whose grid-best pair its top 3 missed, in how many
replications, with the grid's best and next pair and the spread of the target's cells.

Then the completed heatmap: with a random 30 % of the pairs observed (all their seeds' test deltas),
the pooled model predicts every other cell; ``spearman`` is the rank correlation of predicted vs
actual (mean over seeds) over all unobserved cells, ``within`` its mean within each target,
``coverage`` the share inside their 90 % intervals — with the prior, with it but without the stage-1
source's similarity features, and without a prior; then the heatmap the default search itself
leaves (its full-length pairs' test deltas and every dev score its runs reported), scored on the pairs it
did not finish (and the one whose survivors ran with 3 of the grid's seeds: more pairs at full length); then two
ceilings: the model fitted to every pair (hidden ones included) scored on the
same hidden cells — what the additive-plus-interaction structure explains when nothing is hidden — and
the seed-noise ceiling: the correlation a model that knew every cell's noise-free value would reach against
the seed-averaged grid (:func:`~xlsweep.pairsearch.replay.noise_ceiling`), per world and its mean. ``--png``
draws regret vs compute. With ``--json`` the last line is one JSON object for the default strategy
(xlsweep, with the prior): ``compute_fraction``, ``tied_rate``, ``top3_rate``, ``mean_regret_pts``,
``completion_spearman``, ``interval_coverage``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only contend on shared cores
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from xlsweep.pairsearch.replay import (  # noqa: E402
    complete,
    complete_after_search,
    noise_ceiling,
    replay,
    score,
    world_prior,
)
from xlsweep.pairsearch.search import SearchOptions  # noqa: E402
from xlsweep.pairsearch.world import World, load_world  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("grid", "random", "asha", "prior", "xlsweep-noprior", "xlsweep")
CURVE_BUDGETS = (0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)


def _orders(world: World, reps: int, rng: np.random.Generator) -> list[list[int]]:
    return [list(rng.permutation(len(world.seeds))) for _ in range(reps)]


def _targets(world: World, include_source: bool) -> tuple[str, ...]:
    """The languages scored: the transfer targets (every one but the source), or all with --include-source."""
    return world.languages if include_source else world.transfer_targets


def evaluate(worlds: list[World], strategy: str, options: SearchOptions, reps: int, seed: int,
             include_source: bool = False, seeds: int | None = None,
             missed: Counter[tuple[str, str]] | None = None) -> dict[str, float]:
    """Mean score of ``strategy`` over the worlds and ``reps`` replications each; with ``seeds``, the strategy runs
    only the first ``seeds`` of each replication's seed order (scored, as always, on every seed's test deltas).
    ``missed`` counts, per (world, target), the replications whose top 3 lacked the grid's best pair."""
    rows = []
    for w, world in enumerate(worlds):
        rng = np.random.default_rng([seed, w])
        for r, order in enumerate(_orders(world, reps, rng)):
            choice = replay(world, strategy, order=order[:seeds], options=options, rng_seed=1000 * w + r)
            rows.append(score(world, choice, targets=_targets(world, include_source)))
            if missed is not None:
                missed.update((world.name, t) for t in rows[-1].missed)
    return {key: float(np.mean([getattr(s, attr) for s in rows])) for key, attr in
            (("compute", "compute_fraction"), ("tied", "tied"), ("top3", "top3"), ("top3_near", "top3_near"),
             ("regret", "regret_pts"))}


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
        rng = np.random.default_rng([seed, w])
        for r, order in enumerate(_orders(world, reps, rng)):
            rows.append(complete_after_search(world, order=order, options=options, rng_seed=1000 * w + r,
                                              targets=_targets(world, include_source)))
    return {key: float(np.mean([getattr(c, attr) for c in rows])) for key, attr in
            (("spearman", "spearman"), ("within", "spearman_within"), ("coverage", "coverage"), ("width", "width_pts"))}


def _curve(worlds: list[World], options: SearchOptions, reps: int, seed: int, png: Path,
           include_source: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    three = min(len(w.seeds) for w in worlds) > 3  # the worlds have seeds to spare: survivors with 3 of them
    curves = [("xlsweep", "xlsweep", "o-", 0), ("xlsweep-noprior", "xlsweep-noprior", "s--", 0),
              ("xlsweep, survivors with 3 seeds", "xlsweep", "v-.", 3), ("random", "random", "^:", 0)]
    for label, strategy, style, final in curves:
        if final and not three:
            continue
        points = [evaluate(worlds, strategy, replace(options, budget=b, final_seeds=final), reps, seed, include_source)
                  for b in CURVE_BUDGETS]
        ax.plot([p["compute"] for p in points], [p["regret"] for p in points], style, label=label)
    for strategy, marker in (("asha", "D"), ("prior", "x"), ("grid", "*")):
        p = evaluate(worlds, strategy, options, reps, seed, include_source)
        ax.plot([p["compute"]], [p["regret"]], marker, markersize=9, label=strategy)
    ax.axvline(0.15, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("compute (share of the full grid's meta-steps)")
    ax.set_ylabel("mean regret (points of test accuracy)")
    ax.set_title(f"Pair search on {len(worlds)} recorded grids")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=Path, nargs="+", default=sorted((ROOT / "benchmarks").glob("world-*.json")))
    parser.add_argument("--budget", type=float, default=0.15)
    parser.add_argument("--reps", type=int, default=6, help="replications per world (seed orders, strategy seeds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--completion-share", type=float, default=0.3)
    parser.add_argument("--png", type=Path, default=None, help="regret-vs-compute curve (default: none)")
    parser.add_argument("--include-source", action="store_true",
                        help="score the source language too (stage 1 trained it to its ceiling: its best is noise)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    src = args.include_source
    if not args.worlds:
        sys.exit("no worlds: expected benchmarks/world-*.json (record them with scripts/record_grids.py)")
    start = time.monotonic()
    worlds = [load_world(p) for p in args.worlds]
    options = SearchOptions(budget=args.budget)
    print(f"{len(worlds)} world(s): " + "; ".join(f"{w.name} ({len(w.pairs)} pairs × {len(w.seeds)} seeds × "
                                                  f"{len(w.languages)} targets, {w.steps} meta-steps)" for w in worlds))
    scored = "every language" if src else "the transfer targets (the source left out: --include-source)"
    print(f"budget {args.budget:g}, {args.reps} replications per world; scored on {scored}\n")
    print("| strategy | compute | tied | top3 | top3 ≤1pt | regret (pts) |")
    print("|---|---:|---:|---:|---:|---:|")
    results = {}
    rows = [(s, s, None, options) for s in STRATEGIES]
    # the grid with fewer seeds (1, 2, 3 — fewer than recorded): its top-3 without the answer key's shared noise
    fewer = [k for k in (1, 2, 3) if k < min(len(w.seeds) for w in worlds)]
    rows[1:1] = [(f"grid, {k} seed{'s' * (k > 1)}", "grid", k, options) for k in fewer]
    # the search whose survivors run with fewer seeds than the grid's (pair_search.final_seeds): more of them
    rows += [(f"xlsweep, survivors with {k} seeds", "xlsweep", None, replace(options, final_seeds=k))
             for k in fewer if k > 1]
    missed: Counter[tuple[str, str]] = Counter()
    for name, strategy, seeds, opts in rows:
        results[name] = r = evaluate(worlds, strategy, opts, args.reps, args.seed, src, seeds,
                                     missed if name == "xlsweep" else None)
        print(f"| {name} | {r['compute']:.3f} | {r['tied']:.3f} | {r['top3']:.3f} | {r['top3_near']:.3f} | "
              f"{r['regret']:.2f} |", flush=True)
    print(f"\nwhere the default's top 3 lacks the grid's best pair ({sum(missed.values())} of "
          f"{args.reps * sum(len(_targets(w, src)) for w in worlds)} target-replications):")
    by_name = {w.name: w for w in worlds}
    for (name, target), n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {name} {target}: {n} of {args.reps}; {_target_spread(by_name[name], target)}")
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
    for k in [0] + [k for k in fewer if k == 3]:  # the default search, and the one whose survivors run with 3 seeds
        c = evaluate_search_completion(worlds, replace(options, final_seeds=k), args.reps, args.seed, src)
        survivors = f", survivors with {k} seeds" if k else ""
        print(f"| after the xlsweep search at {args.budget:g}{survivors} (full + partial runs) | {c['spearman']:.3f} | "
              f"{c['within']:.3f} | {c['coverage']:.3f} | {c['width']:.1f} |")
    c = evaluate_completion(worlds, share=args.completion_share, reps=args.reps, seed=args.seed, in_sample=True,
                            include_source=src)
    print(f"| ceiling: the same model fitted to every pair, hidden ones included | {c['spearman']:.3f} | "
          f"{c['within']:.3f} | – | – |")
    ceilings = [noise_ceiling(w, _targets(w, src)) for w in worlds]
    print(f"| ceiling: seed noise (a perfect model vs the seed mean, Spearman–Brown) | "
          f"{np.mean([c.ceiling for c in ceilings]):.3f} | – | – | – |")
    print("\nseed noise per world (Spearman of two seeds' deltas over every cell → ceiling): " + "; ".join(
        f"{w.name} {c.inter_seed:.3f} → {c.ceiling:.3f}" for w, c in zip(worlds, ceilings, strict=True)))
    if args.png:
        print(f"\nwrote {_curve(worlds, options, args.reps, args.seed, args.png, src)}")
    print(f"\n({time.monotonic() - start:.1f} s)")
    if args.json:
        d, c = results["xlsweep"], completion["pooled, prior"]
        print(json.dumps({"compute_fraction": round(d["compute"], 4), "tied_rate": round(d["tied"], 4),
                          "top3_rate": round(d["top3"], 4), "mean_regret_pts": round(d["regret"], 3),
                          "completion_spearman": round(c["spearman"], 4),
                          "interval_coverage": round(c["coverage"], 4)}))


if __name__ == "__main__":
    main()
