"""xlsweep's pair search as a state machine: rungs of runs in, dev scores in, per-target choices out.

The same object drives the replay benchmark (runs answered from a recorded grid) and the live
search (runs answered by Ray Tune trials, :mod:`xlsweep.sweep.pair_search`)::

    search = PairSearch(pairs, targets, seeds=(0, 1), steps=40, checkpoints=(5, 10, ..., 40), prior=prior)
    while (runs := search.pending()):
        for run in runs:                            # run.pair, run.seed, from run.start to run.stop meta-steps
            for step, scores in train(run):         # every checkpoint's dev score per target language
                search.observe(run.pair, run.seed, step, scores)
        search.advance()                            # fit the pooled model, promote survivors
    result = search.result()                        # ranking, chosen pair and tied set per target

Decisions use **dev** scores only. Rung 0 screens candidates at a few meta-steps, ordered by the
prior (each target's prior favourites in turn) — the prior orders, it never removes: an unscreened
pair is still ranked by the pooled model. At each later rung the pooled model
(:mod:`xlsweep.pairsearch.model`), fitted to every checkpoint so far, gives each candidate its
probability of being the best at full length for each target; the candidates with the highest sum
over targets go on. The last rung runs its survivors to the full length with every seed (or the first
``final_seeds`` of them: more survivors, fewer seeds each).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from xlsweep.pairsearch.model import PooledFit, PooledModel
from xlsweep.pairsearch.prior import Prior
from xlsweep.pairsearch.schedule import Schedule, budget_steps, plan
from xlsweep.pairsearch.world import Pair
from xlsweep.report.stats import tied_with_best

__all__ = ["PairSearch", "Run", "SearchOptions", "SearchResult", "prior_order", "prior_scores"]


@dataclass(frozen=True)
class SearchOptions:
    """How the search spends its budget.

    Attributes:
        budget: A fraction of the full grid's meta-steps (0 < b ≤ 1) or a number of meta-steps (> 1).
        eta: Reduction factor between rungs (resources × η, survivors ÷ η).
        screen: Share of the candidates screened at the first rung (1: all), in prior order.
        first: Meta-steps of the first rung (0: the first checkpoint).
        use_prior: Order the screening by the prior and give the model its features.
        interaction: Model pair × target interactions (else: additive only).
        alpha: Family-wise level of the tied set.
        seed: Seeds the random screening order (without a prior) and the Monte Carlo draws.
        final_seeds: Seeds the survivors run with at full length, the first of the seed order (0: every seed).
            Fewer seeds buy more survivors for the same budget; their cells are means over fewer seeds and
            the tied set is paired over those seeds.
    """

    budget: float = 0.15
    eta: float = 2.0
    screen: float = 1.0
    first: int = 0
    use_prior: bool = True
    interaction: bool = True
    alpha: float = 0.05
    seed: int = 0
    final_seeds: int = 0


@dataclass(frozen=True)
class Run:
    """Train ``pair`` with ``seed`` from meta-step ``start`` (its last checkpoint; 0: fresh) to ``stop``."""

    pair: int
    seed: int
    start: int
    stop: int
    rung: int


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        ranking: Target -> candidate indices, best predicted final dev score first (every candidate).
        tied: Target -> candidates run to full length with the final seeds and tied with the best of them
            (paired over seeds, Holm-corrected), best first.
        mean, var: (pairs, targets) predicted final dev score and its variance.
        full: Candidates run to the full length with every final seed (:attr:`PairSearch.final_seeds`).
        spent: Meta-steps spent; ``grid_steps``: the full grid's.
        reached: Candidate -> the furthest meta-step any of its seeds reached (0: not run).
    """

    ranking: Mapping[str, tuple[int, ...]]
    tied: Mapping[str, tuple[int, ...]]
    mean: np.ndarray
    var: np.ndarray
    full: tuple[int, ...]
    spent: int
    grid_steps: int
    reached: Mapping[int, int] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.spent / self.grid_steps


def prior_scores(pairs: Sequence[Pair], targets: Sequence[str], prior: Prior) -> np.ndarray:
    """(pairs, targets): the mean of the support and query sets' similarity to the target."""
    return np.array([[(prior.set_similarity(p.support, t) + prior.set_similarity(p.query or p.support, t)) / 2
                      for t in targets] for p in pairs])


def prior_order(pairs: Sequence[Pair], targets: Sequence[str], prior: Prior) -> list[int]:
    """Candidates in prior order: every target's favourite, then every target's second, and so on."""
    scores = prior_scores(pairs, targets, prior)
    per_target = [list(np.argsort(-scores[:, t], kind="stable")) for t in range(len(targets))]
    order: list[int] = []
    for rank in range(len(pairs)):
        for ranked in per_target:
            if int(ranked[rank]) not in order:
                order.append(int(ranked[rank]))
    return order


class PairSearch:
    """A budgeted successive-halving search over ``pairs`` for every target language.

    Args:
        pairs: The candidates (the grid's auxiliary choices), at least 3.
        targets: Target languages (their dev scores decide).
        seeds: The grid's seeds, in the order the search uses them (the first screens).
        steps: Meta-steps of a full trial.
        checkpoints: Meta-steps at which trials report dev scores (the last is ``steps``).
        prior: Language similarities (None: no prior).
        source: The stage-1 source language, whose similarity to a pair's languages the model uses (with a prior).
        options: Budget and strategy.
    """

    def __init__(self, pairs: Sequence[Pair], targets: Sequence[str], *, seeds: Sequence[int], steps: int,
                 checkpoints: Sequence[int], prior: Prior | None = None, source: str | None = None,
                 options: SearchOptions = SearchOptions()) -> None:
        self.pairs, self.targets, self.seeds = tuple(pairs), tuple(targets), tuple(seeds)
        self.steps, self.checkpoints = steps, tuple(sorted({*checkpoints, steps}))
        self.options = options
        self.prior = prior if options.use_prior else None
        budget = budget_steps(options.budget, candidates=len(pairs), seeds=len(seeds), steps=steps)
        screen = max(1, math.ceil(options.screen * len(pairs))) if options.screen <= 1 else int(options.screen)
        self.schedule: Schedule = plan(candidates=len(pairs), seeds=len(seeds), steps=steps,
                                       checkpoints=self.checkpoints, budget=budget, eta=options.eta,
                                       first=options.first, screen=screen, final_seeds=options.final_seeds)
        self.model = PooledModel(self.pairs, self.targets, levels=len(self.checkpoints), prior=self.prior,
                                 interaction=options.interaction, source=source)
        self.rng = np.random.default_rng(options.seed)
        if self.prior is not None:
            order = prior_order(self.pairs, self.targets, self.prior)
        else:
            order = list(range(len(self.pairs)))
            random.Random(options.seed).shuffle(order)
        self.rung = 0
        self.alive: list[int] = order[: self.schedule.rungs[0].candidates]
        self.reached: dict[tuple[int, int], int] = {}  # (pair, seed) -> last meta-step reported
        self.obs: dict[tuple[int, int, int], np.ndarray] = {}  # (pair, seed, step) -> dev score per target
        self.spent = 0
        self.dropped: set[tuple[int, int]] = set()  # runs that ended before their rung's meta-step (failed)
        self._runs = self._rung_runs()

    @property
    def final_seeds(self) -> tuple[int, ...]:
        """The seeds the survivors run with at full length: the first of the seed order (all by default)."""
        return self.seeds[: self.schedule.rungs[-1].seeds]

    @property
    def source(self) -> str | None:
        """The stage-1 source language the model uses (None without a prior)."""
        return self.model.source

    # ----------------------------------------------------------------- the loop
    def pending(self) -> list[Run]:
        """The current rung's runs that have not reached their stop yet (empty: advance, or done)."""
        return [run for run in self._runs if self.reached.get((run.pair, run.seed), 0) < run.stop
                and (run.pair, run.seed) not in self.dropped]

    def current_run(self, pair: int, seed: int) -> Run | None:
        """The current rung's run of (``pair``, ``seed``), if it has one."""
        return next((r for r in self._runs if (r.pair, r.seed) == (pair, seed)), None)

    def drop(self, pair: int, seed: int) -> None:
        """A run ended for good before its rung's meta-step (it failed): its pair leaves the race."""
        self.dropped.add((pair, seed))

    @property
    def finished(self) -> bool:
        return self.rung >= len(self.schedule.rungs)

    def observe(self, pair: int, seed: int, step: int, scores: Mapping[str, float]) -> None:
        """A checkpoint's dev scores of one run (``scores`` by target language; extra keys ignored).

        Raises:
            ValueError: If a target's score is missing.
        """
        missing = [t for t in self.targets if t not in scores]
        if missing:
            raise ValueError(f"observe: pair {self.pairs[pair].label} seed {seed} step {step} lacks dev scores "
                             f"of {missing}")
        key = (pair, seed)
        if step > self.reached.get(key, 0):
            self.spent += step - self.reached.get(key, 0)
            self.reached[key] = step
        if step in self.checkpoints:
            self.obs[(pair, seed, step)] = np.array([float(scores[t]) for t in self.targets])

    def advance(self) -> list[Run]:
        """Close the current rung (its runs all reached their stop): promote survivors, start the next rung."""
        if self.pending():
            raise RuntimeError(f"advance: rung {self.rung} still has {len(self.pending())} run(s) to finish")
        self.rung += 1
        if self.finished:
            self._runs = []
            return []
        keep = self.schedule.rungs[self.rung].candidates
        self.alive = [p for p in self.alive if not any(key[0] == p for key in self.dropped)]
        if keep < len(self.alive):
            scores = self._best_probability(self.fit())
            ranked = sorted(self.alive, key=lambda p: -scores[p])
            self.alive = ranked[:keep]
        self._runs = self._rung_runs()
        return self._runs

    def _rung_runs(self) -> list[Run]:
        rung = self.schedule.rungs[self.rung]
        return [Run(p, s, self.reached.get((p, s), 0), rung.resource, self.rung) for p in self.alive
                for s in self.seeds[: rung.seeds]]

    # ----------------------------------------------------------------- the model
    def fit(self) -> PooledFit:
        """The pooled model fitted to every checkpoint observed so far."""
        keys = list(self.obs)
        n_t = len(self.targets)
        pair = np.repeat([k[0] for k in keys], n_t)
        level = np.repeat([self.checkpoints.index(k[2]) for k in keys], n_t)
        target = np.tile(np.arange(n_t), len(keys))
        y = np.concatenate([self.obs[k] for k in keys])
        return self.model.fit(pair, target, y, level)

    def _best_probability(self, fit: PooledFit, draws: int = 2000) -> np.ndarray:
        """Per candidate, the sum over targets of its probability of the best final dev score (Monte Carlo)."""
        mean, var = fit.grid()
        samples = mean[None] + np.sqrt(var)[None] * self.rng.standard_normal((draws, *mean.shape))
        best = samples.argmax(axis=1)  # (draws, targets)
        counts = np.zeros(len(self.pairs))
        for t in range(len(self.targets)):
            counts += np.bincount(best[:, t], minlength=len(self.pairs)) / draws
        return counts + 1e-6 * mean.mean(axis=1)  # ties: the better mean

    # ----------------------------------------------------------------- the answer
    def result(self) -> SearchResult:
        """Ranking and tied set per target, from everything observed (call after the last rung)."""
        fit = self.fit()
        mean, var = fit.grid()
        top = self.steps
        seeds = self.final_seeds
        full = tuple(p for p in range(len(self.pairs)) if all((p, s, top) in self.obs for s in seeds))
        ranking, tied = {}, {}
        for t, target in enumerate(self.targets):
            ranking[target] = tuple(int(i) for i in np.argsort(-mean[:, t], kind="stable"))
            if full:
                values = {str(p): {s: float(self.obs[(p, s, top)][t]) for s in seeds} for p in full}
                tied[target] = tuple(int(p) for p in tied_with_best(values, alpha=self.options.alpha).tied)
            else:
                tied[target] = ()
        reached = {p: max((self.reached.get((p, s), 0) for s in self.seeds), default=0)
                   for p in range(len(self.pairs))}
        return SearchResult(ranking, tied, mean, var, full, self.spent, self.schedule.grid_steps, reached)
