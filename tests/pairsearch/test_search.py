"""Tests for :class:`xlsweep.pairsearch.search.PairSearch`: budget accounting, rungs, dev-only decisions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.replay import replay, score, world_prior
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
    options = SearchOptions(budget=budget, final_seeds=0) if budget <= 1 else \
        SearchOptions(budget_steps=int(budget), final_seeds=0)
    search, log = _drive(world, options)
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
    every, _ = _drive(world, SearchOptions(budget=0.3, eta=2, final_seeds=0), order)
    search, log = _drive(world, SearchOptions(budget=0.3, eta=2, final_seeds=1), order)
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
    result = score(world, replay(world, "xlsweep", order=[1, 0], options=SearchOptions(budget=0.3)))
    assert result.compute_fraction <= 0.3
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


def test_every_target_keeps_its_own_best_candidate_through_a_rung() -> None:
    from xlsweep.pairsearch.search import per_target_order

    # pair 0 is good for every target a little; pair 3 is the best of target 1 only; pair 2 the best of target 2
    value = np.array([[0.9, 0.6, 0.6], [0.8, 0.5, 0.5], [0.1, 0.1, 0.9], [0.2, 0.95, 0.1], [0.85, 0.55, 0.55]])
    assert per_target_order(value, range(5), 3) == [0, 3, 2]  # a sum over targets would keep 0, 4, 1
    assert per_target_order(value, [1, 2, 4], 2) == [4, 2]  # among the candidates given only
    tied = np.array([[0.5, 0.5], [0.5, 0.5], [0.6, 0.4]])
    assert per_target_order(tied, range(3), 3) == [2, 0, 1]  # ties: the better mean, then the lower index


def test_the_source_language_does_not_decide() -> None:
    world = planted_world(0)
    with_source = PairSearch(world.pairs, world.languages, seeds=world.seeds, steps=world.steps,
                             checkpoints=world.checkpoints, source="a")
    assert [with_source.targets[t] for t in with_source.deciding] == list(world.languages[1:])
    without = PairSearch(world.pairs, world.languages, seeds=world.seeds, steps=world.steps,
                         checkpoints=world.checkpoints, source="zz")  # a source that is not a target
    assert len(without.deciding) == len(world.languages)


def test_the_result_ranks_finished_pairs_by_their_dev_scores_and_the_others_cautiously() -> None:
    from xlsweep.pairsearch.search import CAUTION

    world = planted_world(2, noise=0.003)
    search, _ = _drive(world, SearchOptions(budget=0.3, final_seeds=1))
    result = search.result()
    assert result.full
    value = search.rank_values(result.mean, result.var, result.full)
    for k, target in enumerate(world.languages):
        for p in range(len(world.pairs)):
            expected = search.obs[(p, world.seeds[0], world.steps)][k] if p in result.full else \
                result.mean[p, k] - CAUTION * np.sqrt(result.var[p, k])
            assert value[p, k] == pytest.approx(expected)
        assert list(result.ranking[target]) == list(np.argsort(-value[:, k], kind="stable"))


@pytest.mark.parametrize(("budget", "targets", "expected"), [(0.15, 7, 1), (1.0, 7, 2), (0.5, 3, 2), (0.5, 7, 1)])
def test_auto_final_seeds_keeps_survivors_for_every_target_before_adding_seeds(budget: float, targets: int,
                                                                              expected: int) -> None:
    from xlsweep.pairsearch.schedule import budget_steps, plan
    from xlsweep.pairsearch.search import SURVIVORS_PER_TARGET, auto_final_seeds

    grid = dict(candidates=20, seeds=2, steps=20, checkpoints=(5, 10, 15, 20), eta=3.0)
    steps = budget_steps(fraction=budget, grid=20 * 2 * 20)
    n = auto_final_seeds(**grid, budget=steps, first=0, screen=20, targets=targets)
    assert n == expected
    need = min(SURVIVORS_PER_TARGET * targets, 20)
    survivors = [plan(**grid, budget=steps, final_seeds=k).rungs[-1].candidates for k in (1, 2)]
    if n == 2:
        assert survivors[1] >= need
    else:  # two seeds would leave too few survivors for the targets (at 0.5 with 7 targets: 5 < 10.5)
        assert survivors[1] < need


def test_recalled_evidence_is_free_and_finished_pairs_are_not_run_again() -> None:
    world = planted_world(4, noise=0.003)
    half = list(range(0, len(world.pairs), 2))
    evidence = {(p, s): {step: dict(zip(world.languages, world.dev[p, s, c], strict=True))
                         for c, step in enumerate(world.checkpoints)} for p in half for s in world.seeds}
    cold, _ = _drive(world, SearchOptions(budget=0.3))
    warm = PairSearch(world.pairs, world.languages, seeds=world.seeds, steps=world.steps,
                      checkpoints=world.checkpoints, options=SearchOptions(budget=0.3), evidence=evidence)
    assert set(warm.done) == set(half) and not set(warm.alive) & set(half)
    while not warm.finished:
        for run in warm.pending():
            assert run.pair not in half
            for c, step in enumerate(world.checkpoints):
                if run.start < step <= run.stop:
                    warm.observe(run.pair, run.seed, step, dict(zip(world.languages, world.dev[run.pair, run.seed, c],
                                                                    strict=True)))
        warm.advance()
    # the budget is the same share of what the evidence does not cover: half the grid
    assert warm.spent <= 0.3 * world.grid_steps / 2 < cold.spent
    result = warm.result()
    assert set(half) <= set(result.full)  # the recalled pairs count as run to full length
    assert result.fraction == pytest.approx(warm.spent / world.grid_steps)


def test_evidence_that_is_not_of_the_grid_is_refused() -> None:
    world = planted_world(0)
    kwargs = dict(seeds=world.seeds, steps=world.steps, checkpoints=world.checkpoints)
    scores = dict(zip(world.languages, world.dev[0, 0, 0], strict=True))
    with pytest.raises(ValueError, match="pair 99 seed 0 is not a cell"):
        PairSearch(world.pairs, world.languages, **kwargs, evidence={(99, 0): {5: scores}})
    with pytest.raises(ValueError, match="has meta-step 7; expected one of the checkpoints"):
        PairSearch(world.pairs, world.languages, **kwargs, evidence={(0, 0): {7: scores}})
    with pytest.raises(ValueError, match=r"lacks dev scores of \['a'\]"):
        PairSearch(world.pairs, world.languages, **kwargs,
                   evidence={(0, 0): {5: {k: v for k, v in scores.items() if k != "a"}}})
