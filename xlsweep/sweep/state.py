"""A sweep's directory: its resolved config and state, what ``xlsweep resume`` needs besides Tune's own files.

``<output_dir>/<name>/<stamp>/sweep.yaml`` is the config as :func:`xlsweep.config.load.parse_sweep`
reads it back (relative paths already absolute), ``state.json`` the MLflow parent run and how far
the sweep got.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsweep.config.load import to_dict
from xlsweep.config.schema import SweepConfig
from xlsweep.sweep.errors import SweepError

__all__ = ["CONFIG_FILE", "STATE_FILE", "SweepState", "find_sweep_dir", "sweep_yaml"]

STATE_FILE, CONFIG_FILE = "state.json", "sweep.yaml"


def sweep_yaml(sweep: SweepConfig) -> dict[str, Any]:
    """``sweep`` as the YAML mapping :func:`xlsweep.config.load.parse_sweep` reads back to an equal config."""
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
        return cls(**json.loads((out_dir / STATE_FILE).read_text()))


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
