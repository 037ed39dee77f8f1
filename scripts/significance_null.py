"""The reports' significance tests under the null: simulated sweeps whose stage 2 changes nothing.

Every simulated cell compares a row with its reference on one target. Both sides are models drawn
from the *same* distribution — what a stage 2 that changes nothing produces — so every mark is a
false positive. Test examples have a latent difficulty ``d_i ~ N(0, 1.5²)``; a model has a
training-seed shift ``u ~ N(0, seed_sd²)`` and per-example noise ``e ~ N(0, 1)``; it answers
example i correctly when ``d_i + u + e > 0`` (accuracy ≈ 0.5, row and reference correlated through
the shared examples, as fine-tuned models are). ``--shared-baseline`` gives every seed the same
reference model (one stage-1 model for all seeds); otherwise each seed has its own (per-seed stage 1).

Prints the per-test false-positive rate at α — the pooled test (the reports' default: per-seed example
bootstrap, seed variance pooled over the family), the hierarchical bootstrap and, for comparison, the
seeds-only t-test — and the family-wise rates after Holm over ``--family`` null cells, each with a 95%
Wilson interval. ``--effect`` adds a true difference (latent units) to the row of every cell: the rates
are then power.

    python scripts/significance_null.py --sims 400 --seeds 2 --examples 500
    python scripts/significance_null.py --sims 200 --seeds 2 --seed-sd 0.05 --effect 0.2  # power
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from xlsweep.report.bootstrap import paired_bootstrap, seed_spread
from xlsweep.report.pooled import pool_seed_variance, pooled_p
from xlsweep.report.stats import holm, paired_test


def simulate_cell(rng: np.random.Generator, *, seeds: int, examples: int, seed_sd: float, shared: bool,
                  effect: float = 0.0) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """One cell: per seed, the row's and the reference's per-example correctness on one target (the row shifted by
    ``effect``; 0: the null)."""
    difficulty = rng.normal(0.0, 1.5, examples)

    def model(shift: float = 0.0) -> np.ndarray:
        correct = difficulty + shift + rng.normal(0.0, seed_sd) + rng.normal(0.0, 1.0, examples) > 0
        return correct.astype(np.int64)[:, None]

    shared_model = model()
    row = [{"t": model(effect)} for _ in range(seeds)]
    ref = [{"t": shared_model if shared else model()} for _ in range(seeds)]
    return row, ref


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a rate k/n."""
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def null_rates(*, sims: int, seeds: int, examples: int, seed_sd: float, shared: bool, family: int,
               alpha: float = 0.05, resamples: int = 1000, seed: int = 0, effect: float = 0.0,
               tests: tuple[str, ...] = ("pooled", "bootstrap")) -> dict[str, tuple[int, int]]:
    """(marks, tests) per test (the first cell of each family, raw and after Holm) and family-wise (≥ 1 mark among
    ``family`` cells after Holm); with ``effect`` 0 every mark is a false positive, otherwise the rates are power."""
    rng = np.random.default_rng(seed)
    boot = pool = ttest = fwer = pooled_fwer = families = boot_holm = pool_holm = 0
    for sim in range(sims):
        ps, spreads = [], []
        for cell in range(family):
            row, ref = simulate_cell(rng, seeds=seeds, examples=examples, seed_sd=seed_sd, shared=shared,
                                     effect=effect)
            if "pooled" in tests:
                spreads.append(seed_spread("nli", "acc", row, ref, ["t"], resamples=resamples,
                                           seed=sim * family + cell))
            p = paired_bootstrap("nli", "acc", row, ref, ["t"], resamples=resamples,
                                 seed=sim * family + cell).p if "bootstrap" in tests else 1.0
            ps.append(p)
            if cell == 0:
                boot += p < alpha
                values = {s: float(r["t"].mean()) for s, r in enumerate(row)}
                bases = {s: float(r["t"].mean()) for s, r in enumerate(ref)}
                test = paired_test(values, bases, alpha=alpha)
                ttest += test.tested and 2 * min(test.p, 1 - test.p) < alpha  # its two-sided reading
        families += 1
        fwer += any(p < alpha for p in holm(ps))
        boot_holm += holm(ps)[0] < alpha
        if spreads:
            pooled = pool_seed_variance(spreads)
            pooled_ps = [pooled_p(spread, pooled)[2] for spread in spreads]
            pool += pooled_ps[0] < alpha
            pooled_fwer += any(p < alpha for p in holm(pooled_ps))
            pool_holm += holm(pooled_ps)[0] < alpha
    rates = {}
    if "pooled" in tests:
        rates |= {"pooled": (pool, sims), "pooled, Holm, per test": (pool_holm, sims),
                  "pooled, Holm, family-wise": (pooled_fwer, families)}
    if "bootstrap" in tests:
        rates |= {"bootstrap": (boot, sims), "bootstrap, Holm, per test": (boot_holm, sims),
                  "bootstrap, Holm, family-wise": (fwer, families)}
    return rates | {"t-test (two-sided)": (ttest, sims)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--seed-sd", type=float, default=0.05, help="sd of a training seed's shift (latent units)")
    parser.add_argument("--family", type=int, default=10, help="null cells per Holm family")
    parser.add_argument("--shared-baseline", action="store_true", help="one reference model for every seed")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--effect", type=float, default=0.0,
                        help="true shift of every row (latent units; 0.1 ≈ +3 points of accuracy): measures power")
    parser.add_argument("--tests", default="pooled,bootstrap", help="comma-separated: pooled, bootstrap")
    args = parser.parse_args()
    start = time.perf_counter()
    rates = null_rates(sims=args.sims, seeds=args.seeds, examples=args.examples, seed_sd=args.seed_sd,
                       shared=args.shared_baseline, family=args.family, resamples=args.resamples, effect=args.effect,
                       tests=tuple(args.tests.split(",")))
    kind = "null" if args.effect == 0 else f"effect {args.effect:g}"
    print(f"{kind} sweeps: {args.sims} × {args.family} cells, {args.seeds} seeds, {args.examples} examples, seed sd "
          f"{args.seed_sd}, {'shared' if args.shared_baseline else 'per-seed'} reference, α = 0.05")
    for name, (k, n) in rates.items():
        low, high = wilson(k, n)
        print(f"  {name:<32} {k:>4}/{n:<5} = {k / n:.3f}  (95% CI {low:.3f}–{high:.3f})")
    print(f"  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
