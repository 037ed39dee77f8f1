"""A sweep's directory: its resolved config and state, what ``xlsweep resume`` needs besides Tune's own files.

``<output_dir>/<name>/<stamp>/sweep.yaml`` is the config as :func:`xlsweep.plan.parse_sweep`
reads it back (relative paths already absolute), ``state.json`` the MLflow parent run and how far
the sweep got. Sweep directories are created private (``0700``: Tune's state and checkpoints in
them are read back on a resume), or with the mode ``xlsweep sweep --dir-mode`` gives.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsweep.config import SweepConfig, to_dict
from xlsweep.sweep.errors import SweepError

__all__ = ["CONFIG_FILE", "DIR_MODE", "STATE_FILE", "WRITTEN_CONFIG_FILE", "SweepState", "find_sweep_dir",
           "make_sweep_dir", "sweep_yaml"]

STATE_FILE, CONFIG_FILE = "state.json", "sweep.yaml"
WRITTEN_CONFIG_FILE = "sweep.as-written.yaml"  # the user's config file, byte for byte, beside the resolved one
DIR_MODE = 0o700  # owner only: what a resume reads back from a sweep directory can run code if planted
_STATUSES = ("running", "finished", "failed", "interrupted")


def sweep_yaml(sweep: SweepConfig) -> dict[str, Any]:
    """``sweep`` as the YAML mapping :func:`xlsweep.plan.parse_sweep` reads back to an equal config."""
    raw = {f.name: to_dict(getattr(sweep, f.name)) for f in dataclasses.fields(sweep)
           if f.name not in ("trial", "grid")}
    grid: dict[str, Any] = {"aux": [to_dict(c) for c in sweep.grid.aux]} if sweep.grid.aux else {}
    grid |= {name: to_dict(list(values)) for name, values in sweep.grid.axes}
    return {"name": raw.pop("name"), **to_dict(sweep.trial), **({"grid": grid} if grid else {}), **raw}


@dataclass
class SweepState:
    """What a resume needs besides the config: where the sweep tracks and what it has come to."""

    sweep_id: str
    tracking_uri: str
    parent_run_id: str
    cache_dir: str
    status: str = "running"  # running | finished | failed | interrupted

    def save(self, out_dir: Path) -> None:
        tmp = out_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=1))
        os.replace(tmp, out_dir / STATE_FILE)

    @classmethod
    def load(cls, out_dir: Path) -> SweepState:
        """The state in ``out_dir``; :class:`SweepError` (one line) if it is unreadable, not JSON or incomplete."""
        path = out_dir / STATE_FILE
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise SweepError(f"resume: {path} cannot be read ({type(err).__name__}: {err}); it is what a resume "
                             "needs (the sweep's MLflow parent run): run the sweep anew with `xlsweep sweep`") from None
        names = [f.name for f in dataclasses.fields(cls)]
        problems = [] if isinstance(raw, dict) else [f"expected a JSON object, got {type(raw).__name__}"]
        if not problems:
            problems += [f"missing {k!r}" for k in names if k not in raw]
            problems += [f"{k!r} is {raw[k]!r}, expected a string" for k in names
                         if not isinstance(raw.get(k, ""), str)]
            if isinstance(raw.get("status"), str) and raw["status"] not in _STATUSES:
                problems.append(f"status {raw['status']!r}, expected one of {', '.join(_STATUSES)}")
        if problems:
            raise SweepError(f"resume: {path} is damaged ({'; '.join(problems)}): run the sweep anew with "
                             "`xlsweep sweep`")
        return cls(**{k: raw[k] for k in names})


def make_sweep_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` (and missing parents) with ``mode``; an existing directory keeps its own.

    Raises:
        SweepError: If it cannot be created or written (a read-only output directory), before anything is run.
    """
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for directory in reversed(missing):
            directory.mkdir(mode=mode)
            os.chmod(directory, mode)  # exactly ``mode``, whatever the umask
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise SweepError(f"output_dir: cannot write the sweep directory {path} ({err.strerror or err}"
                         f"{f': {err.filename}' if err.filename else ''}); choose a writable --output-dir") from None


def find_sweep_dir(target: str | Path, output_dir: str | Path = "runs") -> Path:
    """A sweep directory given itself, a sweep's folder (its latest run) or a sweep name under ``output_dir``."""
    path = Path(target).expanduser()
    for candidate in (path, Path(output_dir) / str(target)):
        if (candidate / STATE_FILE).is_file():
            return candidate.resolve()
        runs = sorted(p for p in candidate.glob(f"*/{STATE_FILE}")) if candidate.is_dir() else []
        if runs:
            return runs[-1].parent.resolve()  # stamps sort by time
    raise SweepError(f"resume: {str(target)!r} is neither a sweep directory (with {STATE_FILE}) nor a sweep name "
                     f"under {str(output_dir)!r}; expected e.g. runs/demo or runs/demo/20261123-170000")
