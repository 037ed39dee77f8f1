"""Tests for ``scripts/record_grids.py``'s merge: a recorded world grows by the seeds of a second recording."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from .worlds import planted_world

ROOT = Path(__file__).resolve().parents[2]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("record_grids", ROOT / "scripts" / "record_grids.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _split(seed: int = 0):  # type: ignore[no-untyped-def]
    """One planted world of 3 seeds as two recordings: seeds 0–1 and seed 2."""
    world = planted_world(seed, seeds=3)
    old = dataclasses.replace(world, seeds=(0, 1), dev=world.dev[:, :2], test_delta=world.test_delta[:, :2],
                              recording={"wall_s": 100.0, "trials": 40, "date": "2026-11-30"})
    new = dataclasses.replace(world, seeds=(2,), dev=world.dev[:, 2:], test_delta=world.test_delta[:, 2:],
                              recording={"wall_s": 50.0, "trials": 20, "date": "2026-12-07"})
    return world, old, new


def test_merging_adds_the_new_seeds_and_keeps_both_recordings() -> None:
    world, old, new = _split()
    merged = _script().merge_worlds(old, new)
    assert merged.seeds == (0, 1, 2)
    np.testing.assert_array_equal(merged.dev, world.dev)
    np.testing.assert_array_equal(merged.test_delta, world.test_delta)
    assert merged.recording["wall_s"] == 150.0 and merged.recording["trials"] == 60
    assert [r["date"] for r in merged.recording["merged"]] == ["2026-11-30", "2026-12-07"]


def test_merging_refuses_another_grid_a_seed_twice_or_another_stage1_model() -> None:
    merge = _script().merge_worlds
    _, old, new = _split()
    with pytest.raises(SystemExit, match=r"seed\(s\) \[0, 1\] are recorded already"):
        merge(old, old)
    with pytest.raises(SystemExit, match="its pairs differ"):
        merge(old, dataclasses.replace(new, pairs=new.pairs[::-1]))
    moved = {k: v + 0.01 for k, v in new.baseline.items()}
    with pytest.raises(SystemExit, match=r"stage-1 baseline differs by 0\.0100"):
        merge(old, dataclasses.replace(new, baseline=moved))


def test_merge_refuses_a_missing_world_or_a_recorded_seed_before_any_sweep_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    from benchmarks.worlds import save_world

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "record_grids.py"), "--out", str(tmp_path),
                               "--work", str(tmp_path / "work"), "--merge", "--family-seeds", "1", *args],
                              capture_output=True, text=True, timeout=120)

    missing = run("--seeds", "2")
    assert missing.returncode == 1 and "world-1.json does not exist; record the world first" in missing.stderr
    save_world(dataclasses.replace(planted_world(0), name="world-1"), tmp_path / "world-1.json")  # seeds 0, 1
    twice = run("--seeds", "1", "2")
    assert twice.returncode == 1 and "already has seed(s) [1]; pick others with --seeds" in twice.stderr
    assert not (tmp_path / "work").exists()  # nothing started: no MLflow store, no sweep directory


def test_a_shape_takes_the_source_its_closest_relatives_and_languages_of_other_branches() -> None:
    from xlsweep.data.families import random_family
    from xlsweep.data.synthetic import expected_relatedness

    script = _script()
    family = random_family(10, seed=101)
    aux = script.aux_languages(family, "ana", near=1, far=4, seed=101)
    spoken = [lang.code for lang in family if lang.spoken]
    nodes = {lang.code: lang for lang in family}
    closest = max((c for c in spoken if c != "ana"), key=lambda c: expected_relatedness("ana", c, family))
    assert aux[:2] == ("ana", closest) and len(set(aux)) == 6
    home = script._branch(nodes, "ana")
    assert all(script._branch(nodes, c) != home for c in aux[2:])  # the far ones: other branches than the source's
    assert len({script._branch(nodes, c) for c in aux[2:]}) > 1  # spread over the family, not one branch
    assert aux == script.aux_languages(family, "ana", near=1, far=4, seed=101)  # deterministic
    without = script.aux_languages(family, "ana", near=1, far=4, with_source=False, seed=101)
    assert "ana" not in without and len(without) == 5


def test_a_shape_the_family_cannot_hold_is_refused_naming_the_counts() -> None:
    from xlsweep.data.families import random_family

    with pytest.raises(SystemExit, match=r"5 language\(s\) outside ana's branch; the shape asks for 8"):
        _script().aux_languages(random_family(13, seed=105), "ana", near=2, far=8, seed=105)


def test_the_shape_sets_the_grid_to_every_ordered_pair_of_its_languages() -> None:
    sweep = _script()._sweep_for(ROOT / "tune_configs" / "record-grid.yaml", 101, shape=(1, 4, True), languages=10)
    labels = [c.label for c in sweep.grid.aux]
    assert len(labels) == 30 and "ana→cor" in labels and "cor→ana" in labels
    assert sweep.trial.data.synthetic.languages == 10 and sweep.trial.data.synthetic.family_seed == 101
