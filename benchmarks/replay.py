"""Replaying search strategies on recorded pair grids, and scoring what they chose against the whole grid.

A strategy sees a :class:`~benchmarks.worlds.World` only through dev scores of the runs
it pays for, in the order of a seed permutation; it returns a :class:`Choice` — a ranking of
every candidate per target and the meta-steps spent. :func:`score` then compares the choice
with the grid's **test** deltas (which no strategy reads): whether the chosen pair is tied with
the grid's best (paired over seeds, Holm-corrected: :func:`~xlsweep.report.stats.tied_with_best`),
whether the grid's best (or one of the pairs exactly tied with it, as on a target every pair leaves at 100 %) is in
the top 3, and the regret in points — per transfer target (every language but the recording's
stage-1 source, which every pair leaves at its ceiling; ``targets=`` scores others).

Strategies: ``grid`` (every cell, ranked by mean final dev score), ``random`` (random pairs with
every seed to the full length, as many as the budget pays for), ``asha`` (synchronous successive
halving over every pair × seed on the mean dev score of all targets, η = 2, from the first
checkpoint, as Tune's ASHA would do on a pair grid), ``prior`` (the prior's ranking, no training),
and ``xlsweep`` / ``xlsweep-noprior`` (:class:`~xlsweep.pairsearch.search.PairSearch`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import spearmanr

from benchmarks.worlds import World
from xlsweep.pairsearch.completion import CompletedGrid, complete_grid
from xlsweep.pairsearch.prior import Prior, planted_prior
from xlsweep.pairsearch.search import PairSearch, SearchOptions, prior_scores
from xlsweep.report.stats import tied_with_best

__all__ = ["Choice", "Completion", "NoiseCeiling", "Score", "complete", "complete_after_search", "noise_ceiling",
           "replay", "score", "world_prior"]


@dataclass(frozen=True)
class Choice:
    """A strategy's answer: every candidate ranked per target, and the meta-steps it spent."""

    ranking: Mapping[str, Sequence[int]]
    spent: int


@dataclass(frozen=True)
class Score:
    """A choice against the grid's test deltas: per target, averaged by :func:`summarise`."""

    compute_fraction: float
    tied: float
    top3: float
    top3_near: float  # share of targets whose top 3 holds a pair within ``near_pts`` of the grid's best
    regret_pts: float
    missed: tuple[str, ...] = ()  # the targets whose grid-best pair is not in the top 3


def world_prior(world: World) -> Prior:
    """The planted relatedness of a synthetic world, as a prior."""
    return planted_prior(lambda a, b: world.relatedness[a][b], world.languages)


def _final_dev(world: World, order: Sequence[int]) -> np.ndarray:
    """(pairs, seeds in ``order``, targets) final dev scores."""
    return world.dev[:, list(order), -1, :]


def replay(world: World, strategy: str, *, order: Sequence[int], options: SearchOptions | None = None,
           rng_seed: int = 0, recalled: Sequence[int] = ()) -> Choice:
    """Run ``strategy`` on ``world`` with the grid's seeds taken in ``order`` (indices into ``world.seeds``).

    ``order`` may hold fewer seeds than the grid: the strategy then runs only those (``grid`` with one
    seed is a grid of one seed, charged a third of a 3-seed grid's meta-steps); it is still scored
    (:func:`score`) on the test deltas of every seed. ``recalled`` (xlsweep only): pairs an earlier sweep ran
    to full length with every seed of ``order``, whose dev scores the search starts from free of charge.
    """
    options = options or SearchOptions()
    n_pairs, n_seeds, steps = len(world.pairs), len(order), world.steps
    if strategy == "grid":
        return Choice(_rank(_final_dev(world, order).mean(axis=1), world), n_pairs * n_seeds * steps)
    if strategy == "prior":
        return Choice(_rank(prior_scores(world.pairs, world.languages, world_prior(world)), world), 0)
    if strategy == "random":
        n = max(1, options.budget_steps // (n_seeds * steps) if options.budget_steps else int(options.budget * n_pairs))
        chosen = random.Random(rng_seed).sample(range(n_pairs), min(n, n_pairs))
        value = np.full((n_pairs, len(world.languages)), -np.inf)
        value[chosen] = _final_dev(world, order)[chosen].mean(axis=1)
        return Choice(_rank(value, world), len(chosen) * n_seeds * steps)
    if strategy == "asha":
        return _asha(world, order)
    if strategy in ("xlsweep", "xlsweep-noprior"):
        opts = options if strategy == "xlsweep" else _without_prior(options)
        return _pair_search(world, order, opts, rng_seed, recalled)
    raise ValueError(f"unknown strategy {strategy!r}; expected grid, random, asha, prior, xlsweep or xlsweep-noprior")


def _without_prior(options: SearchOptions) -> SearchOptions:
    return replace(options, use_prior=False)


def _pair_search(world: World, order: Sequence[int], options: SearchOptions, rng_seed: int,
                 recalled: Sequence[int] = ()) -> Choice:
    result = _run_search(world, order, options, rng_seed, recalled).result()
    return Choice(result.ranking, result.spent)


def _run_search(world: World, order: Sequence[int], options: SearchOptions, rng_seed: int,
                recalled: Sequence[int] = ()) -> PairSearch:
    evidence = {(p, world.seeds[i]): {step: dict(zip(world.languages, world.dev[p, i, c], strict=True))
                                      for c, step in enumerate(world.checkpoints)} for p in recalled for i in order}
    search = PairSearch(world.pairs, world.languages, seeds=[world.seeds[i] for i in order], steps=world.steps,
                        checkpoints=world.checkpoints, prior=world_prior(world), source=world.source,
                        options=replace(options, seed=rng_seed), evidence=evidence)
    seed_index = {world.seeds[i]: i for i in order}
    while not search.finished:
        for run in search.pending():
            for c, step in enumerate(world.checkpoints):
                if run.start < step <= run.stop:
                    scores = dict(zip(world.languages, world.dev[run.pair, seed_index[run.seed], c], strict=True))
                    search.observe(run.pair, run.seed, step, scores)
        search.advance()
    return search


def _asha(world: World, order: Sequence[int]) -> Choice:
    """Synchronous successive halving on every (pair, seed) by mean dev score over all targets, η = 2."""
    n_pairs, n_seeds = len(world.pairs), len(order)
    alive = [(p, s) for p in range(n_pairs) for s in range(n_seeds)]
    reached = {key: 0 for key in alive}
    spent, level = 0, 0
    resource = world.checkpoints[0]
    while True:
        c = world.checkpoints.index(resource)
        for key in alive:
            spent += resource - reached[key]
            reached[key] = resource
        if resource >= world.steps:
            break
        score = {key: world.dev[key[0], order[key[1]], c].mean() for key in alive}
        alive = sorted(alive, key=lambda k: -score[k])[: max(1, math.ceil(len(alive) / 2))]
        level += 1
        resource = next((x for x in world.checkpoints if x >= 2 * resource), world.steps)
    value = np.full((n_pairs, len(world.languages)), -np.inf)
    for p in {key[0] for key in alive}:
        value[p] = np.mean([world.dev[p, order[s], -1] for (q, s) in alive if q == p], axis=0)
    return Choice(_rank(value, world), spent)


def _rank(value: np.ndarray, world: World) -> dict[str, tuple[int, ...]]:
    return {t: tuple(int(i) for i in np.argsort(-value[:, k], kind="stable")) for k, t in enumerate(world.languages)}


def score(world: World, choice: Choice, *, alpha: float = 0.05, targets: Sequence[str] | None = None,
          near_pts: float = 1.0) -> Score:
    """Tied rate, top-3 rate and mean regret (points) over ``targets`` (default: the world's transfer targets, its
    source left out: :attr:`World.transfer_targets`), and the compute fraction.

    ``top3_near`` is a reading aid beside the top-3 rate, not a replacement: the share of targets whose top 3
    holds a pair whose mean test delta is within ``near_pts`` points of the grid's best — the top-3 rate counts
    a runner-up 0.1 point behind the best (within the test's seed noise) as a miss."""
    tied, top3, near, regret = [], [], [], []
    targets = targets or world.transfer_targets
    for target, k in zip(targets, world.columns(targets), strict=True):
        values = world.test_delta[:, :, k]  # (pairs, seeds)
        means = values.mean(axis=1)
        best = int(np.argmax(means))
        bests = set(np.flatnonzero(means >= means[best] - 1e-9).tolist())  # exact ties (e.g. a target at 100 %)
        grid_tied = tied_with_best({str(p): dict(enumerate(values[p])) for p in range(len(world.pairs))},
                                   alpha=alpha).tied
        chosen = int(choice.ranking[target][0])
        top = [int(i) for i in choice.ranking[target][:3]]
        tied.append(str(chosen) in grid_tied)
        top3.append(bool(bests & set(top)))
        near.append(bool(100 * (means[best] - means[top].max()) <= near_pts + 1e-9))
        regret.append(100 * (means[best] - means[chosen]))
    missed = tuple(t for t, hit in zip(targets, top3, strict=True) if not hit)
    return Score(choice.spent / world.grid_steps, float(np.mean(tied)), float(np.mean(top3)), float(np.mean(near)),
                 float(np.mean(regret)), missed)


@dataclass(frozen=True)
class Completion:
    """Predicted vs actual test deltas of the unobserved cells of one world."""

    spearman: float  # over every unobserved cell
    spearman_within: float  # mean over targets of the Spearman correlation within the target
    coverage: float  # share of unobserved cells inside their predictive interval
    width_pts: float  # mean interval width, in points


def complete_after_search(world: World, *, order: Sequence[int], options: SearchOptions | None = None,
                          rng_seed: int = 0, level: float = 0.9, targets: Sequence[str] | None = None) -> Completion:
    """The completed heatmap a search leaves: from its full-length pairs' test deltas and every dev score its
    runs reported; scored on the cells of the pairs it did not run to full length (and of ``targets``: default,
    the transfer targets)."""
    search = _run_search(world, order, options or SearchOptions(), rng_seed)
    full = search.result().full
    partial = [(p, search.checkpoints.index(step), v) for (p, _, step), v in search.obs.items()]
    ran = list(order[: len(search.final_seeds)])  # the seeds its survivors ran with
    grid = complete_grid(world.pairs, world.languages, {p: world.test_delta[p][ran] for p in full},
                         prior=search.prior, level=level, seeds=len(world.seeds), partial=partial, source=search.source,
                         dev_levels=len(search.checkpoints))
    return _completion_score(world, grid, [p for p in range(len(world.pairs)) if p not in set(full)], targets)


def complete(world: World, observed: Sequence[int], *, prior: Prior | None, level: float = 0.9,
             in_sample: bool = False, targets: Sequence[str] | None = None, use_source: bool = True) -> Completion:
    """Complete the world's grid from the test deltas (every seed) of the ``observed`` pairs; score the rest
    (the cells of ``targets``; default: the transfer targets).

    The actual value of a cell is its mean over the grid's seeds (:func:`complete_grid`). With
    ``in_sample`` the model is fitted to *every* pair, the unobserved ones included, and its fitted
    values are scored on the unobserved cells: not a completion but its ceiling — how much of the
    grid the model's structure explains when nothing is hidden (intervals uncalibrated). Without
    ``use_source`` the model lacks the stage-1 source's similarity features (an ablation).
    """
    obs = sorted(set(observed))
    hidden = [p for p in range(len(world.pairs)) if p not in set(obs)]
    source = world.source if use_source else None
    if in_sample:
        grid = complete_grid(world.pairs, world.languages, dict(enumerate(world.test_delta)), prior=prior,
                             level=level, seeds=len(world.seeds), calibrate=False, source=source)
        grid = replace(grid, value=grid.predicted)
    else:
        grid = complete_grid(world.pairs, world.languages, {p: world.test_delta[p] for p in obs}, prior=prior,
                             level=level, seeds=len(world.seeds), source=source)
    return _completion_score(world, grid, hidden, targets)


def _completion_score(world: World, grid: CompletedGrid, hidden_pairs: Sequence[int],
                      targets: Sequence[str] | None) -> Completion:
    cols = world.columns(targets)
    cells = np.ix_(np.array(hidden_pairs), np.array(cols))
    actual = world.test_delta.mean(axis=1)[cells]
    predicted, low, high = grid.value[cells], grid.low[cells], grid.high[cells]
    inside = (low <= actual) & (actual <= high)
    within = [spearmanr(predicted[:, t], actual[:, t])[0] for t in range(len(cols))]
    return Completion(float(spearmanr(predicted.ravel(), actual.ravel())[0]), float(np.nanmean(within)),
                      float(inside.mean()), float(100 * (high - low).mean()))


@dataclass(frozen=True)
class NoiseCeiling:
    """How far seed noise alone keeps a completion's Spearman correlation from 1 (:func:`noise_ceiling`)."""

    inter_seed: float  # mean over pairs of seeds of the Spearman correlation of their deltas, every scored cell
    ceiling: float  # expected correlation of the noise-free values with the mean over the grid's seeds


def noise_ceiling(world: World, targets: Sequence[str] | None = None) -> NoiseCeiling:
    """The best Spearman correlation any model can expect against the grid's seed-averaged cells.

    A completion is scored against the mean of the grid's ``k`` seeds, which is itself noisy. With ``r``
    the correlation of two seeds' deltas over the cells (of ``targets``; default the transfer targets),
    the Spearman–Brown formula gives the reliability of a ``k``-seed mean, ``k·r / (1 + (k − 1)·r)``; its
    square root is the correlation of that mean with the noise-free values — what a model that knew them
    exactly would score (seeds as parallel measurements with equal noise everywhere; applied to rank
    correlations, an approximation that is close where the cells are roughly normal). ``r ≤ 0``: 0.
    """
    delta = world.test_delta[:, :, world.columns(targets)]  # (pairs, seeds, targets)
    k = delta.shape[1]
    if k < 2:
        raise ValueError(f"{world.name}: a noise ceiling needs at least 2 seeds; the grid has {k}")
    r = float(np.mean([spearmanr(delta[:, a].ravel(), delta[:, b].ravel())[0]
                       for a, b in itertools.combinations(range(k), 2)]))
    reliability = k * r / (1 + (k - 1) * r) if r > 0 else 0.0
    return NoiseCeiling(r, math.sqrt(reliability))
