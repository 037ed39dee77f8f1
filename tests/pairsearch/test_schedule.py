"""Tests for :mod:`xlsweep.pairsearch.schedule`: rungs, resources and budgets that add up."""

from __future__ import annotations

import pytest

from xlsweep.pairsearch.schedule import Rung, Schedule, budget_steps, plan

CHECKPOINTS = tuple(range(5, 41, 5))


def test_a_budget_is_a_fraction_of_the_grid_or_a_number_of_meta_steps() -> None:
    assert budget_steps(fraction=0.15, grid=2400) == 360
    assert budget_steps(fraction=1.0, grid=2400) == 2400
    assert budget_steps(count=500, grid=2400) == 500
    assert budget_steps(fraction=0.15, count=1, grid=2400) == 1  # a count is a count, even 1
    assert budget_steps(count=10**6, grid=2400) == 2400  # never more than the grid
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="budget: got"):
            budget_steps(fraction=bad, grid=2400)
    with pytest.raises(ValueError, match="budget_steps: got -5"):
        budget_steps(count=-5, grid=2400)


def test_rung_costs_by_hand() -> None:
    sched = Schedule((Rung(30, 5), Rung(8, 10), Rung(4, 20), Rung(2, 40, seeds=2)), steps=40, seeds=2,
                     grid_steps=2400)
    # 30 × 5; 8 × (10 − 5); 4 × (20 − 10); 2 × (40 − 20) continuing + 2 × 1 × 40 fresh second seeds
    assert [sched.rung_cost(k) for k in range(4)] == [150, 40, 40, 40 + 80]
    assert sched.total == 350 and sched.fraction == pytest.approx(350 / 2400)


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.15, 0.3, 0.6])
@pytest.mark.parametrize("eta", [2.0, 3.0])
@pytest.mark.parametrize("screen", [0, 12])
def test_a_plan_spends_at_most_its_budget_and_ends_with_every_seed_at_full_length(
        fraction: float, eta: float, screen: int) -> None:
    budget = budget_steps(fraction=fraction, grid=30 * 2 * 40)
    sched = plan(candidates=30, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=budget, eta=eta, screen=screen)
    assert sched.total == sum(sched.rung_cost(k) for k in range(len(sched.rungs))) <= budget
    resources = [r.resource for r in sched.rungs]
    assert resources == sorted(set(resources)) and set(resources) <= set(CHECKPOINTS)
    assert sched.rungs[-1].resource == 40 and sched.rungs[-1].seeds == 2
    assert all(r.seeds == 1 for r in sched.rungs[:-1])
    counts = [r.candidates for r in sched.rungs]
    assert counts == sorted(counts, reverse=True) and counts[-1] >= 1
    assert counts[0] <= (screen or 30)
    left = budget - sched.total  # nothing more fits: no intermediate rung can take one more candidate
    for k in range(1, len(counts) - 1):
        assert counts[k] == counts[k - 1] or resources[k] - resources[k - 1] > left
    if fraction >= 0.15:
        assert counts[0] == (screen or 30)  # these budgets screen all they are asked to


def test_what_the_halving_leaves_goes_to_the_deepest_intermediate_rung() -> None:
    sched = plan(candidates=30, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=360, first=10, screen=15)
    # 15 × 10 + n × (20 − 10) + 2 × (40 − 20) + 2 × 40 = 360 for n = 9 (halving alone: 4, and 50 left)
    assert [(r.candidates, r.resource) for r in sched.rungs] == [(15, 10), (9, 20), (2, 40)]
    assert sched.total == 360


def test_rungs_grow_by_eta_from_the_first_checkpoint() -> None:
    sched = plan(candidates=30, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=360, eta=2)
    assert [r.resource for r in sched.rungs] == [5, 10, 20, 40]
    sched = plan(candidates=30, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=360, eta=3)
    assert [r.resource for r in sched.rungs] == [5, 15, 40]
    sched = plan(candidates=30, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=360, eta=2, first=10)
    assert [r.resource for r in sched.rungs] == [10, 20, 40]


def test_the_whole_budget_can_be_the_grid() -> None:
    sched = plan(candidates=5, seeds=2, steps=40, checkpoints=CHECKPOINTS, budget=400)
    assert sched.rungs[-1].candidates == 5 and sched.total == 400


def test_fewer_final_seeds_buy_more_survivors_at_full_length_for_the_same_budget() -> None:
    budget = budget_steps(fraction=0.15, grid=30 * 6 * 40)  # 1080 of 7200
    every = plan(candidates=30, seeds=6, steps=40, checkpoints=CHECKPOINTS, budget=budget)
    three = plan(candidates=30, seeds=6, steps=40, checkpoints=CHECKPOINTS, budget=budget, final_seeds=3)
    assert (every.rungs[-1].seeds, three.rungs[-1].seeds) == (6, 3)
    assert three.rungs[-1].candidates > every.rungs[-1].candidates
    for sched in (every, three):
        assert sched.total == sum(sched.rung_cost(k) for k in range(len(sched.rungs))) <= budget
        assert all(r.seeds == 1 for r in sched.rungs[:-1])
    # a survivor with 3 seeds costs (40 − 20) continuing + 2 × 40 fresh = 100 meta-steps at the last rung
    assert three.rung_cost(len(three.rungs) - 1) == three.rungs[-1].candidates * 100
    assert plan(candidates=30, seeds=6, steps=40, checkpoints=CHECKPOINTS, budget=budget,
                final_seeds=6) == every  # all of them: the default


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"candidates": 2}, "at least 3 candidates, got 2"),
    ({"budget": 79}, "cannot run even one pair with its 2 seed"),
    ({"budget": 39, "final_seeds": 1}, "cannot run even one pair with its 1 seed"),
    ({"final_seeds": 3}, "final_seeds: got 3; expected the survivors' seeds, 1 to the grid's 2"),
    ({"final_seeds": -1}, "final_seeds: got -1"),
    ({"eta": 1.0}, "reduction factor > 1"),
])
def test_impossible_plans_are_refused(kwargs: dict[str, float], message: str) -> None:
    args = {"candidates": 30, "seeds": 2, "steps": 40, "checkpoints": CHECKPOINTS, "budget": 360, **kwargs}
    with pytest.raises(ValueError, match=message):
        plan(**args)  # type: ignore[arg-type]
