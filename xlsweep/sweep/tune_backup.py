"""A verified backup of Tune's experiment state, for a driver killed while Tune rewrote it.

Tune overwrites its state files in the storage path in place; a driver killed during that
write leaves one truncated, and ``Tuner.restore`` then silently starts the whole sweep again.
:func:`state_backup` keeps a complete copy after every step and at the end, with a manifest of
the copies' sha256 written atomically after them; :func:`repair_tune_state` puts it back before
a resume wherever Tune's own files differ from it.

Tune's state files hold pickles, which run code when read. Nothing here unpickles anything: the
backup is verified by its checksums, and on resume every state file Tune will read
(``tuner.pkl``, ``experiment_state-*``, the searcher's state) is the driver's verified copy,
so a file planted in the output directory (a shared disk) is never read. Only someone able to
rewrite the manifest as well could plant one; sweep directories are created private (0700).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlsweep.sweep.errors import SweepError

__all__ = ["back_up", "repair_tune_state", "state_backup"]

Log = Callable[[str], None]

# Tune's experiment-level state files: experiment_state-<session>.json, basic-variant-state-<session>.json, ...
_TUNE_STATE = re.compile(r"(?!tmp-)(.+)-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.(json|pkl)")
TUNER_FILE = "tuner.pkl"  # the Tuner's settings, written by Tune into the experiment directory
MANIFEST = "manifest.json"  # {file name: sha256} of the copies: what a resume may read


def _state_backup_dir(experiment: Path) -> Path:
    return experiment.with_name(f"{experiment.name}.state-backup")


def _is_state_file(name: str) -> bool:
    return name == TUNER_FILE or _TUNE_STATE.fullmatch(name) is not None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blob(name: str, digest: str) -> str:
    """A copy's file name in the backup: content-addressed, so a new copy never overwrites one the manifest names."""
    return f"{name}.{digest[:16]}"


def _read_manifest(backup: Path) -> dict[str, str] | None:
    try:
        entries = json.loads((backup / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        return None
    return {str(k): v for k, v in entries.items()}


def back_up(sources: list[Path], backup: Path, copied: dict[str, int]) -> None:
    """Copy the state files among ``sources`` that changed since the last call (``copied``: name -> mtime_ns)
    into ``backup``, then commit them with an atomic rewrite of the manifest; older copies are deleted after."""
    changed = [p for p in sources
               if _is_state_file(p.name) and p.is_file() and copied.get(p.name) != p.stat().st_mtime_ns]
    if not changed:
        return
    backup.mkdir(mode=0o700, exist_ok=True)
    manifest = _read_manifest(backup) or {}
    for path in changed:
        mtime = path.stat().st_mtime_ns
        tmp = backup / f".{path.name}.tmp"
        shutil.copyfile(path, tmp)
        digest = _sha256(tmp)
        os.replace(tmp, backup / _blob(path.name, digest))
        manifest[path.name] = digest
        copied[path.name] = mtime
    tmp = backup / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, backup / MANIFEST)  # the commit point: a kill before it leaves the previous manifest valid
    kept = {_blob(name, digest) for name, digest in manifest.items()} | {MANIFEST}
    for path in backup.iterdir():
        if path.name not in kept and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def state_backup() -> Any:
    from ray import tune

    class BackUpTuneState(tune.Callback):  # type: ignore[misc]
        """Tune overwrites its state files in the storage path in place, so a driver killed while they are
        copied leaves one truncated, and ``Tuner.restore`` then silently starts the whole sweep again (new
        trial ids, a second MLflow run for every trial). After each step, and after Tune's last save, the
        driver's own verified copy is kept beside the experiment for :func:`repair_tune_state`."""

        def __init__(self) -> None:
            self.copied: dict[str, int] = {}

        def _back_up(self, trials: list[Any]) -> None:
            if not trials:
                return
            staging = Path(trials[0].storage.experiment_driver_staging_path)
            experiment = Path(trials[0].storage.experiment_fs_path)
            back_up([*staging.glob("*-*"), experiment / TUNER_FILE], _state_backup_dir(experiment), self.copied)

        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            self._back_up(trials)

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            self._back_up(trials)  # Tune's final save (e.g. after Ctrl-C) comes after the last step

    return BackUpTuneState()


def _verified(backup: Path) -> dict[str, Path] | None:
    """The backup's copies by state-file name, if its manifest is there and every copy matches its checksum."""
    manifest = _read_manifest(backup) if backup.is_dir() else None
    if not manifest or "experiment_state" not in {_stem(n) for n in manifest}:
        return None
    copies = {}
    for name, digest in manifest.items():
        path = backup / _blob(name, digest)
        if not _is_state_file(name) or "/" in name or not path.is_file() or _sha256(path) != digest:
            return None
        copies[name] = path
    return copies


def _stem(name: str) -> str:
    match = _TUNE_STATE.fullmatch(name)
    return match.group(1) if match else name


def repair_tune_state(experiment: Path, log: Log) -> None:
    """Before ``Tuner.restore``: Tune's state files in ``experiment`` made exactly the driver's verified copies
    (any that differ — truncated by a kill, or planted — are replaced, any extra one is removed)."""
    backup = _state_backup_dir(experiment)
    copies = _verified(backup)
    if copies is None:  # killed before Tune's first step ended, a sweep without a backup, or a damaged backup
        raise SweepError(f"resume: no verified backup of Tune's saved state in {backup} (its {MANIFEST} is missing "
                         "or a copy does not match its checksum): Tune's own files cannot be checked without running "
                         "the pickles they hold. Run the sweep anew with `xlsweep sweep`")
    replaced = []
    for path in experiment.iterdir():
        if _is_state_file(path.name) and path.name not in copies:
            path.unlink()
            replaced.append(path.name)
    for name, copy in copies.items():
        target = experiment / name
        if not target.is_file() or _sha256(target) != _sha256(copy):
            shutil.copyfile(copy, target)
            replaced.append(name)
    if replaced:
        log(f"Tune's saved state in {experiment} differs from the driver's verified backup "
            f"({', '.join(sorted(replaced))}); using its backup")
