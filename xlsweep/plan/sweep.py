"""A sweep file read and checked once: the typed config, every grid cell's trial, the search and its objective.

:func:`load_sweep` and :func:`parse_sweep` report every problem as one
:class:`~xlsweep.config.errors.ConfigError` that names the key, the value received and what is
expected, before any work starts; the checked cells are kept (:func:`~xlsweep.plan.grid.expand_grid`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xlsweep.config import ConfigError, SweepConfig, TrialConfig
from xlsweep.config.errors import positive
from xlsweep.config.read import read_config_file, read_sweep, read_trial
from xlsweep.config.yaml_reader import short
from xlsweep.plan.grid import (
    distinct_same_language_cells,
    expand_grid,
    grid_cells,
    no_repeated_trials,
    validate_axes,
    validate_size,
)
from xlsweep.plan.objective import validate_objective, validate_search
from xlsweep.plan.pair_search import check_pair_search
from xlsweep.plan.trial_checks import validate_trial

__all__ = ["load_sweep", "parse_sweep", "parse_trial"]


def parse_sweep(raw: Any, *, default_name: str = "sweep") -> SweepConfig:
    """Build and fully validate a sweep from parsed YAML."""
    sweep = read_sweep(raw, default_name=default_name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", sweep.name):
        raise ConfigError(f"name: got {short(sweep.name)}; expected letters, digits, '.', '_' or '-'")
    positive("resources.cpu", sweep.resources.cpu)
    if sweep.resources.gpu < 0:
        raise ConfigError(f"resources.gpu: got {sweep.resources.gpu}; expected a number >= 0")
    if sweep.checkpoints.keep < 1:
        raise ConfigError(f"checkpoints.keep: got {sweep.checkpoints.keep}; expected at least 1 (a trial resumes "
                          "from its last checkpoint)")
    if sweep.max_failures < 0:
        raise ConfigError(f"max_failures: got {sweep.max_failures}; expected retries >= 0")
    if sweep.max_concurrent < 0:
        raise ConfigError(f"max_concurrent: got {sweep.max_concurrent}; expected 0 (as many trials at once as the "
                          "resources allow) or a positive number of trials")
    validate_axes(sweep)
    validate_size(sweep)
    validate_search(sweep, grid_cells(sweep, samples=False))
    if sweep.pair_search.enabled:  # the search's checks, and its objective: every target's dev score
        try:
            sweep = check_pair_search(sweep)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    cells = expand_grid(sweep)  # checks every cell
    for cell, cfg in cells:
        validate_objective(sweep, cfg, f"grid cell {cell}: " if cell else "")
    distinct_same_language_cells(cells)  # first: its message says why two X-MAML cells are one
    no_repeated_trials(cells)
    return sweep


def parse_trial(raw: Mapping[str, Any]) -> TrialConfig:
    """One trial's config from parsed YAML, checked."""
    cfg = read_trial(raw)
    validate_trial(cfg)
    return cfg


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep YAML file."""
    p = Path(path)
    raw = read_config_file(p)
    try:
        return parse_sweep(raw, default_name=p.stem)
    except ConfigError as err:
        raise ConfigError(f"{p}: {err}") from None
