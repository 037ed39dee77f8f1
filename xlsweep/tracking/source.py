"""Where a run comes from, in MLflow's own tags: the command, the commit of xlsweep's source tree, the version."""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from pathlib import Path

from xlsweep.tracking.tags import GIT_COMMIT_TAG, SOURCE_NAME_TAG, SOURCE_TYPE_TAG, VERSION_TAG

__all__ = ["source_tags"]


@functools.cache
def _commit(folder: Path) -> str | None:
    """The commit checked out where ``folder`` is (None outside a git work tree, or without git)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def _version() -> str:
    try:
        return importlib.metadata.version("xlsweep")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def source_tags(command: str = "xlsweep sweep") -> dict[str, str]:
    """``mlflow.source.name`` (``command``), ``mlflow.source.type`` (LOCAL), ``mlflow.source.git.commit`` (when
    xlsweep runs from a git work tree: the code that ran) and ``xlsweep.version``."""
    tags = {SOURCE_NAME_TAG: command, SOURCE_TYPE_TAG: "LOCAL", VERSION_TAG: _version()}
    commit = _commit(Path(__file__).resolve().parent)
    return tags | ({GIT_COMMIT_TAG: commit} if commit else {})
