"""xlsweep's pair search as a state machine: rungs of runs in, dev scores in, per-target choices out.

The same object drives the replay benchmark (runs answered from a recorded grid) and the live
search (runs answered by Ray Tune trials, :mod:`xlsweep.sweep.pair_scheduler`)::

    search = PairSearch(pairs, targets, seeds=(0, 1), steps=40, checkpoints=(5, 10, ..., 40), source="en")
    while (runs := search.pending()):
        for run in runs:                            # run.pair, run.seed, from run.start to run.stop meta-steps
            for step, scores in train(run):         # every checkpoint's dev score per target language
                search.observe(run.pair, run.seed, step, scores)
        search.advance()                            # fit the pooled model, promote survivors
    result = search.result()                        # ranking, chosen pair and tied set per target

Decisions use **dev** scores only, and only the transfer targets' (every target but the stage-1
``source``, which stage 1 trained to its ceiling: its ranking of pairs is noise). Rung 0 screens
every candidate (or the prior's favourites, with ``screen`` < 1) at a few meta-steps with the first
seed. At each later rung the pooled model (:mod:`xlsweep.pairsearch.model`, additive language effects
and shrunk pair × target interactions, fitted to every checkpoint so far) predicts each candidate's
final dev score for each target, and the survivors are taken **per target in turn**: every target's
best predicted candidate, then every target's second, and so on until the rung is full — so a target
whose best pair helps no other target keeps it. The last rung runs its survivors to the full length
with the final seeds. The result ranks a pair run to full length by the mean of its observed final dev
scores, any other by its predicted final score less one posterior standard deviation
(:meth:`PairSearch.rank_values`).

Evidence that earlier sweeps collected on the same cells (``PairSearch(evidence=...)``) enters the model
and the decisions at no charge; a pair that ran to full length with every final seed is not run again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from xlsweep.pairsearch.model import PooledFit, PooledModel
from xlsweep.pairsearch.pair import Pair
from xlsweep.pairsearch.prior import Prior
from xlsweep.pairsearch.schedule import Rung, Schedule, budget_steps, plan
from xlsweep.report.stats import tied_with_best

__all__ = ["CAUTION", "SURVIVORS_PER_TARGET", "PairSearch", "Run", "SearchOptions", "SearchResult", "auto_final_seeds",
           "per_target_order", "prior_order", "prior_scores"]


CAUTION = 1.0
"""Posterior standard deviations taken off the prediction of a pair not run to full length when the result ranks it
against pairs that were: a finished pair wins unless an unfinished one is better by more than the model's
uncertainty, so a target with no survivor of its own still gets the unfinished pair the model is sure of. Chosen
on the development worlds only (docs/results/pair-search-replay.md)."""


@dataclass(frozen=True)
class SearchOptions:
    """How the search spends its budget.

    Attributes:
        budget: A share of the full grid's meta-steps, in (0, 1]; with evidence recalled from earlier sweeps,
            of the meta-steps that evidence does not cover.
        budget_steps: A number of meta-steps instead (0: use ``budget``).
        eta: Reduction factor between rungs (resources × η, survivors ÷ η).
        screen: Share of the candidates screened at the first rung (1: all), the prior's favourites first.
        first: Meta-steps of the first rung (0: the first checkpoint).
        use_prior: Order the screening by the prior (with ``screen`` < 1). The prior is not a feature of the
            model the decisions use: on the development worlds it did not change a decision.
        interaction: Model pair × target interactions (else: additive only).
        alpha: Family-wise level of the tied set.
        seed: Seeds the random screening order (without a prior).
        final_seeds: Seeds the survivors run with at full length, the first of the seed order: a number
            1 … S, 0 for every seed, or ``"auto"`` (:func:`auto_final_seeds`). Fewer seeds buy more survivors
            for the same budget; their cells are means over fewer seeds and the tied set is paired over
            those seeds.
    """

    budget: float = 0.15
    budget_steps: int = 0
    eta: float = 3.0
    screen: float = 1.0
    first: int = 0
    use_prior: bool = True
    interaction: bool = True
    alpha: float = 0.05
    seed: int = 0
    final_seeds: int | Literal["auto"] = "auto"


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
        ranking: Target -> every candidate index, best first (:meth:`PairSearch.rank_values`).
        tied: Target -> candidates run to full length with the final seeds and tied with the best of them
            (paired over seeds, Holm-corrected), best first.
        mean, var: (pairs, targets) the model's predicted final dev score and its variance.
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
    return per_target_order(prior_scores(pairs, targets, prior), range(len(pairs)), len(pairs))


def per_target_order(value: np.ndarray, candidates: Sequence[int], keep: int) -> list[int]:
    """``keep`` of ``candidates`` taken per target in turn: every target's best by ``value`` (pairs, targets),
    then every target's second, and so on (a candidate already taken is skipped). Ties: the better mean over
    targets, then the lower index."""
    overall = value.mean(axis=1)

    def best_first(t: int) -> list[int]:
        return sorted(candidates, key=lambda p: (-value[p, t], -overall[p], p))

    ranked = [best_first(t) for t in range(value.shape[1])]
    order: list[int] = []
    for rank in range(len(candidates)):
        for per_target in ranked:
            if len(order) >= keep:
                return order
            if per_target[rank] not in order:
                order.append(per_target[rank])
    return order


SURVIVORS_PER_TARGET = 1.5
"""Survivors per transfer target that ``final_seeds: auto`` keeps before it gives survivors a second seed."""


def auto_final_seeds(*, candidates: int, seeds: int, steps: int, checkpoints: Sequence[int], budget: int,
                     eta: float, first: int, screen: int, targets: int) -> int:
    """The final seeds of ``final_seeds: auto``: the most seeds S_F ≤ S whose schedule still runs
    :data:`SURVIVORS_PER_TARGET` survivors per transfer target to full length (or every candidate); 1 if no
    number of seeds does.

    A target needs its own best pair among the survivors, and rungs that take every target's candidates in
    turn give each about survivors / targets places; more seeds per survivor pay only once that is enough.
    The constant was chosen on the development worlds only (docs/results/pair-search-replay.md).
    """
    need = min(math.ceil(SURVIVORS_PER_TARGET * targets), candidates)
    for n in range(seeds, 0, -1):
        try:
            sched = plan(candidates=candidates, seeds=seeds, steps=steps, checkpoints=checkpoints, budget=budget,
                         eta=eta, first=first, screen=screen, final_seeds=n)
        except ValueError:
            continue
        if sched.rungs[-1].candidates >= need:
            return n
    return 1


class PairSearch:
    """A budgeted successive-halving search over ``pairs`` for every target language.

    Args:
        pairs: The candidates (the grid's auxiliary choices), at least 3.
        targets: Target languages (their dev scores decide).
        seeds: The grid's seeds, in the order the search uses them (the first screens).
        steps: Meta-steps of a full trial.
        checkpoints: Meta-steps at which trials report dev scores (the last is ``steps``).
        prior: Language similarities (None: no prior); it orders the screening when ``screen`` < 1.
        source: The stage-1 source language; its dev scores do not decide (it is at its ceiling).
        options: Budget and strategy.
        evidence: Dev scores earlier sweeps reported on these cells (same stage-1 model and settings):
            ``{(pair, seed): {step: {target: score}}}``. They enter the model free of charge; a pair with
            every final seed at full length is a survivor that is never run again, and the budget is
            the fraction of the meta-steps the evidence does not cover. Runs the evidence holds only in
            part start again from scratch (there is no checkpoint to resume).

    Raises:
        ValueError: If the evidence names an unknown pair, seed or checkpoint, or lacks a target's score.
    """

    def __init__(self, pairs: Sequence[Pair], targets: Sequence[str], *, seeds: Sequence[int], steps: int,
                 checkpoints: Sequence[int], prior: Prior | None = None, source: str | None = None,
                 options: SearchOptions = SearchOptions(),
                 evidence: Mapping[tuple[int, int], Mapping[int, Mapping[str, float]]] | None = None) -> None:
        self.pairs, self.targets, self.seeds = tuple(pairs), tuple(targets), tuple(seeds)
        self.steps, self.checkpoints = steps, tuple(sorted({*checkpoints, steps}))
        self.options = options
        self.prior = prior if options.use_prior else None
        self.source = source
        self.deciding = [t for t, target in enumerate(self.targets) if target != source] or [0]  # target columns
        self.obs: dict[tuple[int, int, int], np.ndarray] = {}  # (pair, seed, step) -> dev score per target
        self.reached: dict[tuple[int, int], int] = {}  # (pair, seed) -> last meta-step reported
        self.recalled: dict[tuple[int, int], int] = {}  # (pair, seed) -> last meta-step of the evidence
        for (pair, seed), history in (evidence or {}).items():
            self._recall(pair, seed, history)
        self.schedule, self.done, order = self._plan()
        self.model = PooledModel(self.pairs, self.targets, levels=len(self.checkpoints),
                                 interaction=options.interaction)
        self.rung = 0
        self.alive: list[int] = order[: self.schedule.rungs[0].candidates] if self.schedule.rungs else []
        self.spent = 0
        self.dropped: set[tuple[int, int]] = set()  # runs that ended before their rung's meta-step (failed)
        self._runs = self._rung_runs()

    def _recall(self, pair: int, seed: int, history: Mapping[int, Mapping[str, float]]) -> None:
        if not 0 <= pair < len(self.pairs) or seed not in self.seeds:
            raise ValueError(f"evidence: pair {pair} seed {seed} is not a cell of this search "
                             f"({len(self.pairs)} pairs, seeds {list(self.seeds)})")
        for step, scores in history.items():
            if step not in self.checkpoints:
                raise ValueError(f"evidence: {self.pairs[pair].label} seed {seed} has meta-step {step}; expected "
                                 f"one of the checkpoints {list(self.checkpoints)}")
            missing = [t for t in self.targets if t not in scores]
            if missing:
                raise ValueError(f"evidence: {self.pairs[pair].label} seed {seed} step {step} lacks dev scores "
                                 f"of {missing}")
            self.obs[(pair, seed, step)] = np.array([float(scores[t]) for t in self.targets])
        if history:
            self.recalled[(pair, seed)] = max(history)
            if max(history) == self.steps:  # a finished run: never run again (a partial one has no checkpoint)
                self.reached[(pair, seed)] = self.steps

    def _plan(self) -> tuple[Schedule, tuple[int, ...], list[int]]:
        """The schedule over the pairs the evidence has not finished, and the screening order."""
        o = self.options
        n_seeds, n_pairs = len(self.seeds), len(self.pairs)
        grid = n_pairs * n_seeds * self.steps
        uncovered = grid - sum(self.reached.values())  # the budget is a share of what the evidence does not cover
        budget = budget_steps(fraction=o.budget, count=o.budget_steps, grid=uncovered)
        screen = max(1, math.ceil(o.screen * n_pairs)) if o.screen <= 1 else int(o.screen)
        final = o.final_seeds
        if final == "auto":
            final = auto_final_seeds(candidates=n_pairs, seeds=n_seeds, steps=self.steps,
                                     checkpoints=self.checkpoints, budget=budget, eta=o.eta, first=o.first,
                                     screen=screen, targets=len(self.deciding))
        done = tuple(p for p in range(n_pairs)
                     if all(self.reached.get((p, s), 0) >= self.steps for s in self.seeds[: final or n_seeds]))
        left = [p for p in range(n_pairs) if p not in done]
        if self.prior is not None:
            order = [p for p in prior_order(self.pairs, self.targets, self.prior) if p in left]
        else:
            order = list(left)
            random.Random(o.seed).shuffle(order)
        if len(left) >= 3:
            schedule = plan(candidates=len(left), seeds=n_seeds, steps=self.steps, checkpoints=self.checkpoints,
                            budget=budget, eta=o.eta, first=o.first, screen=min(screen, len(left)), final_seeds=final)
        else:  # (almost) every pair ran before: what is left runs to full length, if anything is
            rungs = (Rung(len(left), self.steps, final or n_seeds),) if left else ()
            schedule = Schedule(rungs, self.steps, n_seeds, len(left) * n_seeds * self.steps)
        self._final = final or n_seeds
        return replace(schedule, grid_steps=grid), done, order

    @property
    def final_seeds(self) -> tuple[int, ...]:
        """The seeds the survivors run with at full length: the first of the seed order (``final_seeds``)."""
        return self.seeds[: self._final]

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
            mean, _ = self.fit().grid()
            self.alive = per_target_order(mean[:, self.deciding], self.alive, keep)
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

    # ----------------------------------------------------------------- the answer
    def rank_values(self, mean: np.ndarray, var: np.ndarray, full: Sequence[int]) -> np.ndarray:
        """(pairs, targets) what the result ranks by: a pair run to full length with the final seeds by the mean of
        its observed final dev scores; any other by its predicted final score less :data:`CAUTION` posterior
        standard deviations — the best of many predictions from short runs is an optimistic one (the
        optimiser's curse; Smith & Winkler, Management Science 52(3), 2006)."""
        value = mean - CAUTION * np.sqrt(var)
        for p in full:
            value[p] = np.mean([self.obs[(p, s, self.steps)] for s in self.final_seeds], axis=0)
        return value

    def result(self) -> SearchResult:
        """Ranking and tied set per target, from everything observed (call after the last rung)."""
        fit = self.fit()
        mean, var = fit.grid()
        top = self.steps
        seeds = self.final_seeds
        full = tuple(p for p in range(len(self.pairs)) if all((p, s, top) in self.obs for s in seeds))
        value = self.rank_values(mean, var, full)
        ranking, tied = {}, {}
        for t, target in enumerate(self.targets):
            ranking[target] = tuple(int(i) for i in np.argsort(-value[:, t], kind="stable"))
            if full:
                values = {str(p): {s: float(self.obs[(p, s, top)][t]) for s in seeds} for p in full}
                tied[target] = tuple(int(p) for p in tied_with_best(values, alpha=self.options.alpha).tied)
            else:
                tied[target] = ()
        reached = {p: max((self.reached.get((p, s), 0) for s in self.seeds), default=0)
                   for p in range(len(self.pairs))}
        return SearchResult(ranking, tied, mean, var, full, self.spent, self.schedule.grid_steps, reached)
