"""A backup of Tune's experiment state, for a driver killed while Tune rewrote it.

Tune overwrites its state files in the storage path in place; a driver killed during that
write leaves one truncated, and ``Tuner.restore`` then silently starts the whole sweep again.
:func:`state_backup` keeps a complete copy after every step; :func:`repair_tune_state` puts it
back before a resume when Tune's own is damaged or older.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlsweep.sweep.errors import SweepError

__all__ = ["repair_tune_state", "state_backup"]

Log = Callable[[str], None]

# Tune's experiment-level state files: experiment_state-<session>.json, basic-variant-state-<session>.json, ...
_TUNE_STATE = re.compile(r"(?!tmp-)(.+)-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.(json|pkl)")


def _state_backup_dir(experiment: Path) -> Path:
    return experiment.with_name(f"{experiment.name}.state-backup")


def state_backup() -> Any:
    from ray import tune

    class BackUpTuneState(tune.Callback):  # type: ignore[misc]
        """Tune overwrites its state files in the storage path in place, so a driver killed while they are
        copied leaves one truncated, and ``Tuner.restore`` then silently starts the whole sweep again (new
        trial ids, a second MLflow run for every trial). After each step the driver's own copy is complete:
        it is kept beside the experiment, replaced atomically, for :func:`repair_tune_state`."""

        def __init__(self) -> None:
            self.copied: dict[str, int] = {}

        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            if not trials:
                return
            staging = Path(trials[0].storage.experiment_driver_staging_path)
            backup = _state_backup_dir(Path(trials[0].storage.experiment_fs_path))
            for path in staging.glob("*-*"):
                if _TUNE_STATE.fullmatch(path.name) and self.copied.get(path.name) != path.stat().st_mtime_ns:
                    backup.mkdir(exist_ok=True)
                    shutil.copy2(path, backup / f".{path.name}.tmp")
                    os.replace(backup / f".{path.name}.tmp", backup / path.name)
                    self.copied[path.name] = path.stat().st_mtime_ns

    return BackUpTuneState()


def _readable(path: Path) -> bool:
    import ray.cloudpickle as cloudpickle

    try:
        if path.name.startswith("experiment_state-"):
            return "trial_data" in json.loads(path.read_text())
        cloudpickle.loads(path.read_bytes())
        return True
    except Exception:  # truncated: JSON or pickle errors of any kind
        return False


def _saved_state(directory: Path) -> tuple[str, int] | None:
    """How far the Tune state in ``directory`` got: (its newest session's file, controller step); None if a file
    Tune would read is missing or truncated."""
    newest = {}
    for path in sorted(directory.glob("*-*")):  # names end in their session's start time: the last is the newest
        if match := _TUNE_STATE.fullmatch(path.name):
            newest[match.group(1)] = path
    state = newest.get("experiment_state")
    if state is None or not all(_readable(path) for path in newest.values()):
        return None
    return state.name, int(json.loads(state.read_text()).get("runner_data", {}).get("_iteration", 0))


def repair_tune_state(experiment: Path, log: Log) -> None:
    """Before ``Tuner.restore``: Tune's state in the storage path, or its backup where that one is truncated or
    older (the copy in flight when the driver died; it may name checkpoints Tune has deleted since)."""
    backup = _state_backup_dir(experiment)
    kept, saved = _saved_state(experiment), _saved_state(backup) if backup.is_dir() else None
    if saved is None or (kept is not None and kept >= saved):
        if kept is None:
            raise SweepError(f"resume: Tune's saved state in {experiment} is damaged (the driver was killed while "
                             "writing it) and has no complete backup: Tune would start every trial again. Run the "
                             "sweep anew with `xlsweep sweep`")
        return
    log(f"Tune's saved state in {experiment} is {'damaged' if kept is None else 'behind'}; using its backup")
    names = {path.name for path in backup.iterdir() if _TUNE_STATE.fullmatch(path.name)}
    for path in experiment.iterdir():
        if _TUNE_STATE.fullmatch(path.name) and path.name not in names:
            path.unlink()
    for name in names:
        shutil.copy2(backup / name, experiment / name)
