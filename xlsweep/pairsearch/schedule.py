"""The successive-halving schedule of a pair search, with meta-steps as the resource.

A schedule is a list of rungs. At rung ``k`` the ``n_k`` candidates still in the race run (one
seed, the first of the seed order) to meta-step ``r_k``, continuing from where they stopped at
rung ``k − 1``; the last rung runs its ``n_F`` survivors to the full length ``T`` **with every
seed** (the extra seeds from scratch), so their cells are comparable with a full grid's and a
paired test over seeds can tell which are tied with the best — or with the first ``S_F < S`` of them
(``final_seeds``): more survivors for the same budget, each cell a mean over fewer seeds. Rung resources grow by the
reduction factor η from the first (``r_0``), snapped to meta-steps at which trials report (their
checkpoints); the survivors shrink by η from rung to rung down to ``n_F``.

The cost of a schedule, in meta-steps, is ``Σ_k n_k (r_k − r_{k−1}) + n_F (S_F − 1) T`` (``r_{−1} = 0``,
``S_F = S`` by default);
:func:`plan` screens as many candidates ``n_0`` as asked (all of them by default), keeps the largest
``n_F`` whose cost is within the budget and spends what is left on more candidates at the intermediate
rungs, so the rungs' costs add up to the schedule's total,
never more than the budget. The budget of a search is a fraction of the full grid's meta-steps
(``C · S · T``) or a number of meta-steps, never one number meaning either (:func:`budget_steps`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Rung", "Schedule", "budget_steps", "plan"]


@dataclass(frozen=True)
class Rung:
    """One rung: ``candidates`` pairs run to meta-step ``resource`` with ``seeds`` seeds each."""

    candidates: int
    resource: int
    seeds: int = 1


@dataclass(frozen=True)
class Schedule:
    """Rungs, in order, and what they cost.

    Attributes:
        rungs: The rungs; the last runs to the full length with every seed (or ``final_seeds`` of them).
        steps: Full length T of a trial, in meta-steps.
        seeds: Seeds per cell S of the full grid.
        grid_steps: The full grid's meta-steps, ``C · S · T``.
    """

    rungs: tuple[Rung, ...]
    steps: int
    seeds: int
    grid_steps: int

    def rung_cost(self, k: int) -> int:
        """Meta-steps of rung ``k``: continuing its candidates from the previous rung, plus fresh extra seeds."""
        rung = self.rungs[k]
        previous = self.rungs[k - 1].resource if k else 0
        extra = rung.candidates * (rung.seeds - 1) * rung.resource
        return rung.candidates * (rung.resource - previous) + extra

    @property
    def total(self) -> int:
        return sum(self.rung_cost(k) for k in range(len(self.rungs)))

    @property
    def fraction(self) -> float:
        return self.total / self.grid_steps


def budget_steps(*, fraction: float = 0.0, count: int = 0, grid: int) -> int:
    """Meta-steps of a budget: ``count`` meta-steps when given (at most the ``grid``'s), else ``fraction`` of
    ``grid`` meta-steps (0 < fraction ≤ 1).

    Raises:
        ValueError: If ``count`` is negative, or it is 0 and ``fraction`` is not in (0, 1].
    """
    if count < 0:
        raise ValueError(f"budget_steps: got {count}; expected a number of meta-steps > 0 (0: use the fraction)")
    if count:
        return min(count, grid)
    if not 0 < fraction <= 1:
        raise ValueError(f"budget: got {fraction}; expected a fraction of the grid's meta-steps in (0, 1]")
    return int(math.floor(fraction * grid + 1e-9))


def _resources(checkpoints: Sequence[int], first: int, eta: float, steps: int) -> list[int]:
    """Rung resources r_0 < r_1 < ... < T: ``first`` × η^k snapped up to a checkpoint, ending at T."""
    points = sorted({*checkpoints, steps})
    out: list[int] = []
    r = float(first)
    while True:
        snapped = next((c for c in points if c >= r - 1e-9), steps)
        if out and snapped <= out[-1]:
            snapped = next((c for c in points if c > out[-1]), steps)
        out.append(snapped)
        if snapped >= steps:
            return out
        r = snapped * eta


def plan(*, candidates: int, seeds: int, steps: int, checkpoints: Sequence[int], budget: int,
         eta: float = 2.0, first: int = 0, screen: int = 0, final_seeds: int = 0) -> Schedule:
    """The schedule that screens the most candidates (up to ``screen``), then keeps the most survivors, in budget.

    Args:
        candidates: C, the pairs of the grid (at least 3).
        seeds: S, seeds per pair in the full grid.
        steps: T, meta-steps of a full trial.
        checkpoints: Meta-steps at which trials report dev scores (rung resources are among them).
        budget: Meta-steps the search may spend (:func:`budget_steps`).
        eta: Reduction factor η > 1.
        first: Resource of the first rung (0: the first checkpoint).
        screen: At most this many candidates screened at the first rung (0: all C).
        final_seeds: Seeds S_F the last rung runs its survivors with, 1 ≤ S_F ≤ S (0: every seed, S).

    Raises:
        ValueError: For fewer than 3 candidates, η ≤ 1, ``final_seeds`` out of range, or a budget below one
            pair at full length with its final seeds.
    """
    if candidates < 3:
        raise ValueError(f"a pair search needs at least 3 candidates, got {candidates}; run the grid itself")
    if eta <= 1:
        raise ValueError(f"eta: got {eta}; expected a reduction factor > 1")
    if not 0 <= final_seeds <= seeds:
        raise ValueError(f"final_seeds: got {final_seeds}; expected the survivors' seeds, 1 to the grid's {seeds} "
                         "(0: every seed)")
    final = final_seeds or seeds
    grid = candidates * seeds * steps
    if budget < final * steps:
        raise ValueError(f"budget: {budget} meta-steps cannot run even one pair with its {final} seed(s) to the full "
                         f"{steps} meta-steps ({final * steps}); raise it (the full grid is {grid})")
    resources = _resources(checkpoints, first or min(checkpoints or [steps]), eta, steps)
    cap = min(screen or candidates, candidates)
    for n0 in range(cap, 0, -1):  # screen as many candidates as asked, then keep as many survivors as fit
        fitting = [sched for n_final in range(n0, 0, -1)
                   if (sched := _schedule(n0, n_final, resources, eta, seeds, final, steps, grid)).total <= budget]
        if fitting:
            return _fill(fitting[0], budget)
    raise AssertionError("unreachable: one pair at full length with its final seeds fits")  # pragma: no cover


def _fill(sched: Schedule, budget: int) -> Schedule:
    """Spend what is left on more candidates at the intermediate rungs, the deepest first (one more candidate at
    rung k costs r_k − r_{k−1} meta-steps), until nothing more fits."""
    rungs = list(sched.rungs)
    left = budget - sched.total
    grown = True
    while grown:  # a rung that grew makes room below it for the deeper ones
        grown = False
        for k in range(len(rungs) - 2, 0, -1):
            price = rungs[k].resource - rungs[k - 1].resource
            extra = min(left // price, rungs[k - 1].candidates - rungs[k].candidates)
            if extra > 0:
                rungs[k] = Rung(rungs[k].candidates + extra, rungs[k].resource, rungs[k].seeds)
                left -= extra * price
                grown = True
                break
    return Schedule(tuple(rungs), sched.steps, sched.seeds, sched.grid_steps)


def _schedule(n0: int, n_final: int, resources: list[int], eta: float, seeds: int, final_seeds: int, steps: int,
              grid: int) -> Schedule:
    k_last = len(resources) - 1
    counts = [max(n_final, min(n0, math.ceil(n_final * eta ** (k_last - k)))) for k in range(len(resources))]
    counts[0] = n0
    for k in range(1, len(counts)):
        counts[k] = min(counts[k], counts[k - 1])
    rungs = tuple(Rung(n, r, final_seeds if k == k_last else 1) for k, (n, r) in enumerate(zip(counts, resources,
                                                                                          strict=True)))
    return Schedule(rungs, steps, seeds, grid)
