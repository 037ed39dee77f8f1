"""Tests for ``benchmarks/replay.py`` and ``benchmarks/worlds.py``: the replay benchmark's parts."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.replay import Choice, Score, complete, noise_ceiling, replay, score, world_prior
from benchmarks.worlds import Pair, World, load_world, save_world
from xlsweep.pairsearch.search import SearchOptions

from .worlds import planted_world

ROOT = Path(__file__).resolve().parents[2]


def test_a_world_round_trips_through_its_file(tmp_path: Path) -> None:
    world = planted_world(0)
    back = load_world(save_world(world, tmp_path / "w.json"))
    assert back.labels == world.labels and back.seeds == world.seeds and back.checkpoints == world.checkpoints
    np.testing.assert_allclose(back.dev, world.dev, atol=5e-5)
    np.testing.assert_allclose(back.test_delta, world.test_delta, atol=5e-5)
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="expected 'xlsweep-pair-grid/1'"):
        load_world(tmp_path / "bad.json")


def test_scores_by_hand() -> None:
    world = planted_world(0, noise=0.0)
    means = world.test_delta.mean(axis=1)
    best = {t: int(np.argmax(means[:, k])) for k, t in enumerate(world.languages)}
    worst = {t: int(np.argmin(means[:, k])) for k, t in enumerate(world.languages)}
    perfect = score(world, Choice({t: [best[t], worst[t]] for t in world.languages}, spent=world.grid_steps // 10))
    assert (perfect.tied, perfect.top3, perfect.regret_pts, perfect.compute_fraction) == (1.0, 1.0, 0.0, 0.1)
    bad = score(world, Choice({t: [worst[t]] for t in world.languages}, spent=0))
    assert bad.top3 == 0.0 and bad.missed == world.languages and perfect.missed == ()
    expected = np.mean([100 * (means[best[t], k] - means[worst[t], k]) for k, t in enumerate(world.languages)])
    assert bad.regret_pts == pytest.approx(expected)
    # noise-free differences have zero variance: the exact sign test decides (p = 0.5^n per pair, Holm over the
    # 29 others): 2 seeds can never tell the worst pair from the best, 10 seeds can
    assert bad.tied == 1.0
    world = planted_world(0, noise=0.0, seeds=10)
    assert score(world, Choice({t: [worst[t]] for t in world.languages}, spent=0)).tied == 0.0


def test_every_strategy_replays_on_a_tiny_recorded_table(tmp_path: Path) -> None:
    world = load_world(save_world(planted_world(4, noise=0.003), tmp_path / "tiny.json"))
    results = {s: score(world, replay(world, s, order=[0, 1], options=SearchOptions(budget=0.15)))
               for s in ("grid", "random", "asha", "prior", "xlsweep-noprior", "xlsweep")}
    assert results["grid"].compute_fraction == 1.0 and results["prior"].compute_fraction == 0.0
    assert results["random"].compute_fraction == pytest.approx(0.15)
    assert results["xlsweep"].compute_fraction <= 0.15 and results["xlsweep-noprior"].compute_fraction <= 0.15
    assert 0 < results["asha"].compute_fraction < 1
    assert results["grid"].regret_pts <= results["random"].regret_pts
    assert results["xlsweep"].regret_pts <= results["random"].regret_pts


def test_a_grid_with_fewer_seeds_is_charged_and_ranked_by_those_seeds_only() -> None:
    world = planted_world(3, noise=0.02, seeds=3)
    full = replay(world, "grid", order=[0, 1, 2])
    one = replay(world, "grid", order=[2])
    assert full.spent == world.grid_steps and one.spent * 3 == world.grid_steps
    dev = world.dev[:, 2, -1]
    for k, t in enumerate(world.languages):
        assert list(one.ranking[t]) == list(np.argsort(-dev[:, k], kind="stable"))
    assert score(world, one).compute_fraction == pytest.approx(1 / 3)
    assert replay(world, "asha", order=[1]).spent < replay(world, "asha", order=[0, 1, 2]).spent


def _noisy_world(truth: np.ndarray, noise: float, seeds: int, rng: np.random.Generator) -> World:
    n_pairs, n_langs = truth.shape
    langs = tuple(f"l{i}" for i in range(n_langs))
    return World(name="noisy", languages=langs, pairs=tuple(Pair((f"s{i}",), ("q",)) for i in range(n_pairs)),
                 seeds=tuple(range(seeds)), steps=1, checkpoints=(1,), dev=np.zeros((n_pairs, seeds, 1, n_langs)),
                 test_delta=truth[:, None, :] + rng.normal(0, noise, (n_pairs, seeds, n_langs)))


def test_the_noise_ceiling_is_what_the_true_values_score_against_the_seed_mean() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    truth = rng.normal(0, 1, (60, 50))  # 3000 cells, float64
    world = _noisy_world(truth, 1.0, 3, rng)  # two seeds correlate at 0.5 (Pearson): a 3-seed mean at sqrt(0.75)
    result = noise_ceiling(world, targets=world.languages)
    assert result.inter_seed == pytest.approx(6 / np.pi * np.arcsin(0.25), abs=0.03)  # Spearman of ρ = 0.5
    actual = spearmanr(truth.ravel(), world.test_delta.mean(axis=1).ravel())[0]
    assert result.ceiling == pytest.approx(actual, abs=0.02) and 0.83 < result.ceiling < 0.88
    assert noise_ceiling(_noisy_world(truth, 0.0, 2, rng), targets=world.languages).ceiling == pytest.approx(1.0)
    assert noise_ceiling(_noisy_world(0 * truth, 1.0, 3, rng), targets=world.languages).ceiling < 0.2
    with pytest.raises(ValueError, match="at least 2 seeds; the grid has 1"):
        noise_ceiling(_noisy_world(truth, 1.0, 1, rng))


def test_completion_predicts_unobserved_cells_with_calibrated_intervals() -> None:
    world = planted_world(5, noise=0.003)
    observed = list(range(0, len(world.pairs), 3))
    result = complete(world, observed, prior=world_prior(world))
    assert result.spearman > 0.8 and result.coverage >= 0.75


def test_the_benchmark_script_prints_its_tables_and_json(tmp_path: Path) -> None:
    for seed in (0, 1):
        save_world(planted_world(seed, seeds=3, name=f"world-{seed}"), tmp_path / f"world-{seed}.json")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_pair_search.py"), "--worlds",
                          *map(str, sorted(tmp_path.glob("*.json"))), "--reps", "1", "--json", "--scale-pairs", "20"],
                         capture_output=True, text=True, timeout=900, check=True).stdout
    assert out.startswith("2 worlds named on the command line:\n  world-0: 20 pairs × 3 seeds × 7 targets")
    assert "| strategy | compute | tied | top3 | top3 ≤1pt | regret (pts) |" in out
    for row in ("full grid", "grid, 1 seed", "grid, 2 seeds", "xlsweep (default)", "plain ASHA", "random",
                "xlsweep, survivors with every seed", "xlsweep, survivors with 1 seed"):
        assert f"| {row} | " in out, row
    assert "| world | pairs × seeds × targets | grid, 1 seed: compute, tied, regret |" in out
    assert "| world-0 | 20 × 3 × 7 | 0.333, " in out and "| world-0 at 0.1 | 20 × 3 × 7 | – | 0.1" in out
    assert "warm start: half the pairs" in out and "| world | cold: compute, tied, regret |" in out
    last = json.loads(out.strip().splitlines()[-1])
    assert {"compute_fraction", "tied_rate", "top3_rate", "regret_pts", "mean_regret_pts", "grid_1seed_top3",
            "grid_1seed_regret_pts", "grid_1seed_compute", "grid_1seed_tied", "completion_spearman",
            "interval_coverage", "warm_start_compute", "warm_start_regret_pts", "worlds", "per_world",
            "set"} <= set(last)
    assert last["compute_fraction"] <= 0.15 and last["grid_1seed_compute"] == pytest.approx(1 / 3, abs=1e-3)
    assert last["warm_start_compute"] < last["compute_fraction"]  # half the grid was paid for by an earlier sweep
    assert last["worlds"][0] == {"name": "world-0", "pairs": 20, "seeds": 3, "targets": 7, "languages": 7}
    assert [w["world"] for w in last["per_world"]] == ["world-0", "world-1"]
    assert "regret_pts_at_0.1" in last["per_world"][0]


def test_the_benchmark_says_which_set_it_read_and_refuses_an_empty_one(tmp_path: Path) -> None:
    bench = _bench()
    assert set(bench.SETS) == {"scoring", "dev"} and "reported only" in bench.SET_ROLE["scoring"]
    assert "chosen" in bench.SET_ROLE["dev"]
    bench.SETS = {"scoring": tmp_path}
    with pytest.raises(SystemExit, match="no worlds in"):
        bench._worlds(bench.argparse.Namespace(worlds=[], set="scoring"))


def test_replications_cover_every_seed_order_of_a_three_seed_world() -> None:
    bench = _bench()
    world = planted_world(0, seeds=3)
    orders = bench._orders(world, 6, np.random.default_rng(0))
    assert sorted(map(tuple, orders)) == sorted(itertools.permutations(range(3)))
    assert len(bench._orders(planted_world(0, seeds=6), 6, np.random.default_rng(0))) == 6


def _bench():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_pair_search", ROOT / "scripts" / "bench_pair_search.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


WORLDS = sorted((ROOT / "benchmarks").glob("*/*.json"))


@pytest.mark.parametrize("path", WORLDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_committed_worlds_are_big_enough(path: Path) -> None:
    world = load_world(path)
    assert len(world.pairs) >= 30 and len(world.seeds) >= 3 and 8 <= len(world.languages) <= 14
    assert not np.isnan(world.dev).any() and not np.isnan(world.test_delta).any()
    assert path.stat().st_size < 1_000_000
    # targets that are never auxiliary: the case a search tuned on auxiliary targets misses
    assert set(world.languages) - {lang for p in world.pairs for lang in p.languages}


def test_development_and_scoring_worlds_are_separate_sets_of_varied_shapes() -> None:
    dev = [load_world(p) for p in WORLDS if p.parent.name == "dev"]
    scoring = [load_world(p) for p in WORLDS if p.parent.name == "scoring"]
    assert len(dev) >= 3 and len(scoring) >= 3 and {p.parent.name for p in WORLDS} == {"dev", "scoring"}
    families = [{w.recording.get("config", {}).get("data", {}).get("synthetic", {}).get("family_seed")} for w in dev]
    scored = [{w.recording.get("config", {}).get("data", {}).get("synthetic", {}).get("family_seed")} for w in scoring]
    assert not set().union(*families) & set().union(*scored)  # no family is in both sets
    assert len({len(w.languages) for w in scoring}) >= 2 and len({len(w.languages) for w in dev}) >= 2
    assert max(len(w.pairs) for w in scoring) >= 100  # a world at scale is reported


def test_the_completed_grid_keeps_observed_cells_and_writes_csv_and_heatmap(tmp_path: Path) -> None:
    import csv

    from xlsweep.pairsearch.completion import complete_grid, write_completed_csv, write_completed_heatmap

    world = planted_world(6, noise=0.003)
    observed = {p: world.test_delta[p] for p in (0, 5, 9, 14, 18)}
    grid = complete_grid(world.pairs, world.languages, observed, prior=world_prior(world))
    np.testing.assert_allclose(grid.value[5], world.test_delta[5].mean(axis=0))
    assert grid.observed[5].all() and not grid.observed[1].any()
    assert (grid.low[1] < grid.value[1]).all() and (grid.value[1] < grid.high[1]).all()
    rows = list(csv.DictReader(write_completed_csv(grid, tmp_path / "c.csv").open()))
    assert len(rows) == len(world.pairs) * len(world.languages)
    assert {r["status"] for r in rows} == {"observed", "predicted"}
    assert set(rows[0]) == {"aux", "target", "status", "delta (points)", "low_90%", "high_90%"}
    assert float(rows[0]["delta (points)"]) == round(100 * grid.value[0, 0], 2)  # points, as every file: 2 decimals
    assert all(len(r[c].partition(".")[2]) <= 2 and r[c] != "-0.0" for r in rows for c in list(r)[3:])
    png = write_completed_heatmap(grid, tmp_path / "c.png", title="t")
    assert png.stat().st_size > 1000
    with pytest.raises(ValueError, match="no pair ran to full length"):
        complete_grid(world.pairs, world.languages, {})


def test_pairs_exactly_tied_with_the_best_count_as_the_best_for_top3() -> None:
    import dataclasses

    world = planted_world(0, noise=0.0)
    delta = world.test_delta.copy()
    delta[:, :, 0] = 0.0  # a target every pair leaves unchanged (at 100 %): every pair is "the best"
    tied = dataclasses.replace(world, test_delta=delta)
    means = delta.mean(axis=1)
    last = len(world.pairs) - 1
    ranking = {t: [int(np.argmax(means[:, k]))] for k, t in enumerate(world.languages)}
    ranking[world.languages[0]] = [last, last - 1, last - 2]  # not argmax's pick (the first), but as good
    assert score(tied, Choice(ranking, spent=0)).top3 == 1.0


def test_a_top_3_without_the_best_counts_as_near_only_within_a_point_of_it() -> None:
    import dataclasses

    world = planted_world(0, noise=0.0)
    delta = np.zeros_like(world.test_delta)
    k = world.columns(world.transfer_targets[:1])[0]
    delta[:, :, k] = -0.05  # every pair 5 points below ...
    delta[0, :, k], delta[1, :, k], delta[2, :, k] = 0.02, 0.015, 0.005  # ... but the best, 0.5 and 1.5 points behind
    world = dataclasses.replace(world, test_delta=delta)
    target = world.transfer_targets[0]

    def top3(*pairs: int) -> Score:
        return score(world, Choice({target: list(pairs)}, spent=0), targets=[target])

    assert (top3(0, 3, 4).top3, top3(0, 3, 4).top3_near) == (1.0, 1.0)
    assert (top3(1, 3, 4).top3, top3(1, 3, 4).top3_near) == (0.0, 1.0)  # the runner-up 0.5 point behind
    assert (top3(3, 4, 2).top3, top3(3, 4, 2).top3_near) == (0.0, 0.0)  # 1.5 points behind
    assert top3(3, 4, 5, 1).top3_near == 0.0  # only the top 3 count


def test_partial_runs_inform_the_completion_of_pairs_never_run_to_full_length() -> None:
    from xlsweep.pairsearch.completion import complete_grid

    world = planted_world(7, noise=0.003)
    full = {p: world.test_delta[p] for p in (0, 1)}  # two pairs to full length, the others screened only
    partial = [(p, 0, world.dev[p, 0, 0]) for p in range(len(world.pairs))]
    actual = world.test_delta.mean(axis=1)
    hidden = list(range(2, len(world.pairs)))
    errors = {}
    for name, extra in (("full only", ()), ("with partial", partial)):
        grid = complete_grid(world.pairs, world.languages, full, prior=world_prior(world), partial=extra,
                             dev_levels=len(world.checkpoints))
        errors[name] = np.sqrt(np.mean((grid.value[hidden] - actual[hidden]) ** 2))
    assert errors["with partial"] < 0.8 * errors["full only"]


def _with_interactions(world, scale: float, seed: int = 0):  # type: ignore[no-untyped-def]
    """``world`` plus heavy-tailed (Student t, 2 df) pair × target interactions: what the additive model cannot
    predict for unrun pairs, and its Gaussian interaction prior underestimates."""
    import dataclasses

    extra = scale * np.random.default_rng(seed).standard_t(2, (len(world.pairs), 1, len(world.languages)))
    return dataclasses.replace(world, test_delta=world.test_delta + extra)


def test_leave_one_pair_out_calibration_widens_intervals_the_model_is_too_sure_of() -> None:
    from scipy.stats import norm

    from xlsweep.pairsearch.completion import complete_grid

    world = _with_interactions(planted_world(8, noise=0.002), scale=0.02)
    observed = {p: world.test_delta[p] for p in range(0, len(world.pairs), 4)}  # 5 of 20 pairs
    hidden = [p for p in range(len(world.pairs)) if p not in observed]
    actual = world.test_delta[hidden].mean(axis=1)
    coverage, z = {}, {}
    for calibrate in (False, True):
        grid = complete_grid(world.pairs, world.languages, observed, prior=world_prior(world), calibrate=calibrate)
        inside = (grid.low[hidden] <= actual) & (actual <= grid.high[hidden])
        coverage[calibrate], z[calibrate] = inside.mean(), grid.z
    assert z[False] == pytest.approx(norm.ppf(0.95))
    assert coverage[False] < 0.9 <= coverage[True] and z[True] > z[False]


def test_calibration_needs_three_observed_pairs_and_never_narrows_the_normal_interval() -> None:
    from scipy.stats import norm

    from xlsweep.pairsearch.completion import complete_grid

    world = planted_world(9, noise=0.003)
    two = complete_grid(world.pairs, world.languages, {p: world.test_delta[p] for p in (0, 7)},
                        prior=world_prior(world))
    assert two.z == pytest.approx(norm.ppf(0.95))  # nothing to leave out: the model's own interval
    many = complete_grid(world.pairs, world.languages, {p: world.test_delta[p] for p in range(0, 20, 2)},
                         prior=world_prior(world), level=0.5)
    assert many.z >= norm.ppf(0.75) - 1e-12


def test_the_in_sample_ceiling_sees_the_hidden_cells_and_ranks_them_better() -> None:
    world = _with_interactions(planted_world(10, noise=0.002), scale=0.01)
    observed = list(range(0, len(world.pairs), 4))
    held_out = complete(world, observed, prior=world_prior(world))
    ceiling = complete(world, observed, prior=world_prior(world), in_sample=True)
    assert ceiling.spearman > held_out.spearman and ceiling.spearman > 0.9


def test_the_source_language_is_left_out_of_the_scores_unless_asked() -> None:
    import dataclasses

    world = planted_world(0, noise=0.0)
    sourced = dataclasses.replace(world, recording={"config": {"data": {"source": "a"}}})
    assert world.source is None and world.transfer_targets == world.languages
    assert sourced.source == "a" and sourced.transfer_targets == world.languages[1:]
    means = world.test_delta.mean(axis=1)
    worst = {t: [int(np.argmin(means[:, k]))] for k, t in enumerate(world.languages)}
    best = {t: [int(np.argmax(means[:, k]))] for k, t in enumerate(world.languages)}
    choice = Choice({**best, "a": worst["a"]}, spent=0)  # right everywhere but on the source
    assert score(sourced, choice).top3 == 1.0
    assert score(sourced, choice, targets=world.languages).top3 == pytest.approx(1 - 1 / len(world.languages))
