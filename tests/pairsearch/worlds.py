"""Planted pair grids for the pair-search tests: additive language effects + relatedness + noise, known exactly."""

from __future__ import annotations

import itertools

import numpy as np

from benchmarks.worlds import Pair, World

LANGS = ("a", "b", "c", "d", "e")
TARGETS = LANGS + ("f", "g")


def planted_world(seed: int = 0, *, noise: float = 0.005, seeds: int = 2, steps: int = 20,
                  every: int = 5, name: str = "planted") -> World:
    """A world whose final score is μ_t + a[s, t] + b[q, t] (+ relatedness) plus noise; dev ≈ test."""
    rng = np.random.default_rng(seed)
    pairs = tuple(Pair((s,), (q,)) for s, q in itertools.permutations(LANGS, 2))
    n_t = len(TARGETS)
    rel = rng.uniform(0, 0.6, (n_t, n_t))
    rel = (rel + rel.T) / 2
    np.fill_diagonal(rel, 1.0)
    a = rng.normal(0, 0.01, (len(LANGS), n_t)) + 0.02 * rel[: len(LANGS)]
    b = rng.normal(0, 0.02, (len(LANGS), n_t)) + 0.06 * rel[: len(LANGS)]
    final = np.array([[a[LANGS.index(p.support[0]), t] + b[LANGS.index(p.query[0]), t] for t in range(n_t)]
                      for p in pairs])  # (pairs, targets)
    checkpoints = tuple(range(every, steps + 1, every))
    growth = np.array([(c / steps) ** 0.5 for c in checkpoints])
    base = rng.uniform(0.5, 0.9, n_t)
    dev = (base[None, None, None, :] + growth[None, None, :, None] * final[:, None, None, :]
           + rng.normal(0, noise, (len(pairs), seeds, len(checkpoints), n_t)))
    delta = final[:, None, :] + rng.normal(0, noise, (len(pairs), seeds, n_t))
    relatedness = {x: {y: float(rel[i, j]) for j, y in enumerate(TARGETS)} for i, x in enumerate(TARGETS)}
    return World(name=name, languages=TARGETS, pairs=pairs, seeds=tuple(range(seeds)), steps=steps,
                 checkpoints=checkpoints, dev=dev, test_delta=delta, relatedness=relatedness,
                 baseline=dict(zip(TARGETS, base.tolist(), strict=True)))
