"""Tests for :class:`xlsweep.pairsearch.search.PairSearch`: budget accounting, rungs, dev-only decisions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xlsweep.pairsearch.replay import replay, score, world_prior
from xlsweep.pairsearch.search import PairSearch, SearchOptions, prior_order

from .worlds import planted_world


def _drive(world, options: SearchOptions, order=(0, 1)):  # type: ignore[no-untyped-def]
    search = PairSearch(world.pairs, world.languages, seeds=[world.seeds[i] for i in order], steps=world.steps,
                        checkpoints=world.checkpoints, prior=world_prior(world), options=options)
    log = []
    while not search.finished:
        runs = search.pending()
        log.append(runs)
        for run in runs:
            for c, step in enumerate(world.checkpoints):
                if run.start < step <= run.stop:
                    search.observe(run.pair, run.seed, step, dict(zip(world.languages, world.dev[run.pair, run.seed, c],
                                                                      strict=True)))
        search.advance()
    return search, log


@pytest.mark.parametrize("budget", [0.15, 0.3, 200])
def test_the_search_spends_exactly_its_schedule_within_the_budget(budget: float) -> None:
    world = planted_world(0)
    search, log = _drive(world, SearchOptions(budget=budget))
    charged = sum(run.stop - run.start for runs in log for run in runs)
    assert search.spent == charged == search.schedule.total
    limit = budget * world.grid_steps if budget <= 1 else budget
    assert search.spent <= limit
    result = search.result()
    assert result.fraction == pytest.approx(search.spent / world.grid_steps)
    # rungs: the survivors of each rung continue; the last runs them to full length with every seed
    assert [len({r.pair for r in runs}) for runs in log] == [r.candidates for r in search.schedule.rungs]
    final = {r.pair for r in log[-1]}
    assert set(result.full) == final and all(r.stop == world.steps for r in log[-1])
    assert {r.seed for r in log[-1]} == set(world.seeds)
    for earlier, later in zip(log, log[1:], strict=False):
        assert {r.pair for r in later} <= {r.pair for r in earlier}


def test_with_fewer_final_seeds_the_survivors_run_the_first_seeds_and_the_tied_set_pairs_over_them() -> None:
    world = planted_world(0)
    order = (1, 0)  # the seed order's first seed screens and is the one the survivors keep
    every, _ = _drive(world, SearchOptions(budget=0.3), order)
    search, log = _drive(world, SearchOptions(budget=0.3, final_seeds=1), order)
    assert search.final_seeds == (world.seeds[1],)
    assert {r.seed for runs in log for r in runs} == {world.seeds[1]}  # the second seed never ran
    assert all(r.stop == world.steps for r in log[-1])
    result = search.result()
    assert len(result.full) > len(every.result().full)  # more pairs at full length for the same budget
    assert set(result.full) == {r.pair for r in log[-1]}
    assert search.spent == search.schedule.total <= 0.3 * world.grid_steps
    for target in world.languages:
        assert result.tied[target] and set(result.tied[target]) <= set(result.full)


@pytest.mark.parametrize(("final_seeds", "phrase"), [(0, "with all 2 seeds"),
                                                      (1, "with 1 of the grid's 2 seeds (pair_search.final_seeds)")])
def test_the_searchs_summary_says_which_seeds_the_survivors_ran(final_seeds: int, phrase: str) -> None:
    from xlsweep.sweep.pair_report import _summary

    search, _ = _drive(planted_world(0), SearchOptions(budget=0.3, final_seeds=final_seeds))
    result = search.result()
    assert f"{len(result.full)} of 20 pairs run to full length {phrase}" in _summary(search, result)[0]


def test_every_candidate_is_ranked_and_tied_sets_come_from_full_runs() -> None:
    world = planted_world(1)
    search, _ = _drive(world, SearchOptions(budget=0.2, screen=0.5))
    result = search.result()
    for target in world.languages:
        assert sorted(result.ranking[target]) == list(range(len(world.pairs)))  # the prior orders, never prunes
        assert result.tied[target] and set(result.tied[target]) <= set(result.full)
    assert any(result.reached[p] == 0 for p in range(len(world.pairs)))  # some were never run ...
    assert result.mean.shape == (len(world.pairs), len(world.languages))  # ... and are still predicted


def test_decisions_never_read_a_test_score() -> None:
    world = planted_world(2)
    garbage = dataclasses.replace(world, test_delta=np.random.default_rng(0).normal(size=world.test_delta.shape))
    for strategy in ("xlsweep", "xlsweep-noprior", "asha", "random", "grid", "prior"):
        a = replay(world, strategy, order=[0, 1])
        b = replay(garbage, strategy, order=[0, 1])
        assert a == b, strategy


def test_the_search_finds_the_planted_best_pairs_at_a_small_budget() -> None:
    world = planted_world(3, noise=0.002)
    result = score(world, replay(world, "xlsweep", order=[1, 0], options=SearchOptions(budget=0.15)))
    assert result.compute_fraction <= 0.15
    assert result.top3 >= 0.8 and result.regret_pts < 1.0  # effects of several points, noise 0.2 points


def test_prior_order_takes_each_targets_favourite_first() -> None:
    world = planted_world(0)
    order = prior_order(world.pairs, world.languages, world_prior(world))
    assert sorted(order) == list(range(len(world.pairs)))
    prior = world_prior(world)
    for target in world.languages:
        scores = [(prior.similarity(p.support[0], target) + prior.similarity(p.query[0], target)) / 2
                  for p in world.pairs]
        assert int(np.argmax(scores)) in order[: len(world.languages)]


def test_misuse_is_refused() -> None:
    world = planted_world(0)
    search = PairSearch(world.pairs, world.languages, seeds=world.seeds, steps=world.steps,
                        checkpoints=world.checkpoints)
    with pytest.raises(RuntimeError, match="still has"):
        search.advance()
    with pytest.raises(ValueError, match="lacks dev scores of"):
        search.observe(0, 0, 5, {"a": 0.5})
