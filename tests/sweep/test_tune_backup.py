"""The driver's verified backup of Tune's state (issue 12, point 5): a resume reads only the copies it wrote."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from xlsweep.sweep.errors import SweepError
from xlsweep.sweep.tune_backup import MANIFEST, back_up, repair_tune_state

STATE = "experiment_state-2026-11-30_10-00-00.json"
SEARCHER = "basic-variant-state-2026-11-30_10-00-00.json"


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def _experiment(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A Tune experiment directory as the driver left it, and the driver's backup of it."""
    experiment = tmp_path / "ray" / "sweep"
    experiment.mkdir(parents=True)
    (experiment / STATE).write_text(json.dumps({"trial_data": [], "runner_data": {"_iteration": 7}}))
    (experiment / SEARCHER).write_bytes(pickle.dumps({"iterators": [1, 2, 3]}))
    (experiment / "tuner.pkl").write_bytes(pickle.dumps({"settings": 1}))
    (experiment / "trial_0001").mkdir()
    back_up(sorted(experiment.iterdir()), tmp_path / "ray" / "sweep.state-backup", {})
    return experiment, tmp_path / "ray" / "sweep.state-backup", sorted(p.name for p in experiment.iterdir())


def test_a_truncated_state_file_is_replaced_by_its_verified_copy(tmp_path: Path) -> None:
    experiment, backup, _ = _experiment(tmp_path)
    assert set(json.loads((backup / MANIFEST).read_text())) == {STATE, SEARCHER, "tuner.pkl"}
    good = (experiment / SEARCHER).read_bytes()
    (experiment / SEARCHER).write_bytes(good[:10])  # as a kill during Tune's write leaves it
    lines: list[str] = []
    repair_tune_state(experiment, lines.append)
    assert (experiment / SEARCHER).read_bytes() == good
    assert len(lines) == 1 and "using its backup" in lines[0] and SEARCHER in lines[0]


def test_an_intact_state_is_left_alone(tmp_path: Path) -> None:
    experiment, _, names = _experiment(tmp_path)
    lines: list[str] = []
    repair_tune_state(experiment, lines.append)
    assert lines == [] and sorted(p.name for p in experiment.iterdir()) == names


def test_a_new_copy_replaces_the_old_one_and_only_after_the_manifest_names_it(tmp_path: Path) -> None:
    experiment, backup, _ = _experiment(tmp_path)
    before = sorted(p.name for p in backup.iterdir())
    (experiment / STATE).write_text(json.dumps({"trial_data": [], "runner_data": {"_iteration": 8}}))
    os.utime(experiment / STATE, ns=(1, 1))  # a new mtime: copied again
    back_up([experiment / STATE], backup, {STATE: 0})
    after = sorted(p.name for p in backup.iterdir())
    assert len(after) == len(before) and after != before  # the older copy deleted, once the manifest moved on
    (experiment / STATE).unlink()
    repair_tune_state(experiment, lambda _: None)
    assert json.loads((experiment / STATE).read_text())["runner_data"]["_iteration"] == 8


def test_planted_state_files_are_never_unpickled_nor_left_for_tune(tmp_path: Path) -> None:
    """A newer-looking state file planted in the backup and in the experiment: the old repair unpickled the
    backup's to check it; Tune reads the newest one of its own directory."""
    experiment, backup, names = _experiment(tmp_path)
    marker = tmp_path / "ran"
    planted = pickle.dumps({"x": _RunsCode(marker)})
    newer = "basic-variant-state-2099-01-01_00-00-00.json"
    (backup / newer).write_bytes(planted)
    (experiment / newer).write_bytes(planted)
    (experiment / "tuner.pkl").write_bytes(planted)
    lines: list[str] = []
    repair_tune_state(experiment, lines.append)
    assert not marker.exists()
    assert sorted(p.name for p in experiment.iterdir()) == names  # the planted file is gone
    assert (experiment / "tuner.pkl").read_bytes() == pickle.dumps({"settings": 1})  # the driver's own again
    assert "using its backup" in lines[0]


@pytest.mark.parametrize("damage", ["tampered copy", "no manifest"])
def test_a_backup_that_does_not_verify_refuses_the_resume(tmp_path: Path, damage: str) -> None:
    experiment, backup, _ = _experiment(tmp_path)
    marker = tmp_path / "ran"
    if damage == "tampered copy":
        copy = next(p for p in backup.iterdir() if p.name.startswith("basic-variant-state"))
        copy.write_bytes(pickle.dumps({"x": _RunsCode(marker)}))
    else:
        (backup / MANIFEST).unlink()
    with pytest.raises(SweepError, match="no verified backup of Tune's saved state"):
        repair_tune_state(experiment, lambda _: None)
    assert not marker.exists()


def test_the_backup_is_private(tmp_path: Path) -> None:
    _, backup, _ = _experiment(tmp_path)
    assert backup.stat().st_mode & 0o777 == 0o700
