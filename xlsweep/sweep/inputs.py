"""A sweep's inputs, before Ray starts: every local path made absolute and checked to exist, the prior built.

Trials run in Tune's trial directories and on other nodes, and a resume may start anywhere: data
sources, a local ``model.name``, ``cache_dir``, ``output_dir`` and a relative sqlite ``tracking.uri``
are made absolute once, before the config is written to ``sweep.yaml`` and shipped to trials.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from xlsweep.config import SweepConfig, TrialConfig
from xlsweep.data.benchmark import benchmark_sources
from xlsweep.data.sources import missing_files
from xlsweep.data.split_index import split_index_problems
from xlsweep.methods import needed_splits
from xlsweep.pairsearch.prior import PriorError
from xlsweep.plan import Cells, objective_languages
from xlsweep.plan.pair_search import build_prior
from xlsweep.sweep.errors import SweepError
from xlsweep.tracking import absolute_tracking_uri

__all__ = ["absolute_cells", "absolute_paths", "absolute_sources", "check_data_files"]


def _absolute(sources: Any) -> Any:
    """A ``data.sources`` mapping with its local paths made absolute (hub sources unchanged)."""
    if not isinstance(sources, dict):
        return sources
    return {key: spec if not isinstance(spec, str) or spec.startswith("hub:")
            else os.path.abspath(os.path.expanduser(spec)) for key, spec in sources.items()}


def _local_model(name: Any) -> Any:
    """``model.name`` made absolute when it is a local directory (relative to the launching directory); a hub
    name, or ``tiny``, unchanged."""
    if not isinstance(name, str) or name == "tiny" or not os.path.isdir(os.path.expanduser(name)):
        return name
    return os.path.abspath(os.path.expanduser(name))


_PATH_AXES = {"data.sources": _absolute, "model.name": _local_model}  # grid axes that hold local paths


def _absolute_axes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _PATH_AXES[name](value) if name in _PATH_AXES else value for name, value in values.items()}


def absolute_sources(sweep: SweepConfig) -> SweepConfig:
    """Local data paths made absolute against the launching directory (in the base config and in a grid axis
    that sweeps ``data.sources``): trials read them from other working directories and nodes."""
    data = sweep.trial.data
    trial = dataclasses.replace(sweep.trial, data=dataclasses.replace(data, sources=_absolute(data.sources),
                                                                      split_index=_absolute(data.split_index)))
    axes = tuple((name, tuple(_absolute(v) for v in values) if name == "data.sources" else values)
                 for name, values in sweep.grid.axes)
    return dataclasses.replace(sweep, trial=trial, grid=dataclasses.replace(sweep.grid, axes=axes))


def absolute_paths(sweep: SweepConfig, output_dir: str | None = None) -> SweepConfig:
    """Every local path a trial or a resume reads, made absolute against the launching directory, once, before the
    config is written to ``sweep.yaml`` and shipped to trials (which run in Tune's trial directories, on any
    node): data sources, ``model.name`` when it is a local directory (base config and grid axis), ``cache_dir``,
    ``output_dir`` (``output_dir`` given: it replaces the config's) and a relative sqlite ``tracking.uri``."""
    sweep = absolute_sources(sweep)
    model = dataclasses.replace(sweep.trial.model, name=_local_model(sweep.trial.model.name))
    axes = tuple((name, tuple(_local_model(v) for v in values) if name == "model.name" else values)
                 for name, values in sweep.grid.axes)
    uri = sweep.tracking.uri
    return dataclasses.replace(
        sweep, trial=dataclasses.replace(sweep.trial, model=model), grid=dataclasses.replace(sweep.grid, axes=axes),
        cache_dir=os.path.abspath(os.path.expanduser(sweep.cache_dir)),
        output_dir=os.path.abspath(os.path.expanduser(output_dir or sweep.output_dir)),
        tracking=dataclasses.replace(sweep.tracking, uri=absolute_tracking_uri(uri) if uri else uri))


def _absolute_trial(cfg: TrialConfig) -> TrialConfig:
    data = dataclasses.replace(cfg.data, sources=_absolute(cfg.data.sources),
                               split_index=_absolute(cfg.data.split_index))
    model = dataclasses.replace(cfg.model, name=_local_model(cfg.model.name))
    return dataclasses.replace(cfg, data=data, model=model)


def absolute_cells(cells: Cells) -> Cells:
    """Checked cells with their local paths made absolute: the cells of :func:`absolute_paths`'s sweep, not
    checked again."""
    return [(_absolute_axes(cell), _absolute_trial(cfg)) for cell, cfg in cells]


def check_data_files(cells: Cells, sweep: SweepConfig) -> None:
    """Every local file any trial reads exists (its search objective's dev splits included), checked before Ray
    starts or anything is trained."""
    problems: list[str] = []
    released: list[str] = []  # data.split_index's problems
    for _, cfg in cells:
        if cfg.data.benchmark != "synthetic":
            needed = needed_splits(cfg, objective_languages(sweep, cfg))
            indexed = cfg.data.split_index  # its languages read the released index's rows, not data.sources
            problems += missing_files(benchmark_sources(cfg.data), [n for n in needed if n[0] not in indexed])
            released += split_index_problems(indexed, [(lang, split) for lang, split, _ in needed])
    if released:
        listed = "\n  ".join(dict.fromkeys(released))
        raise SweepError(f"data.split_index: the released splits cannot be read:\n  {listed}")
    if problems:
        listed = "\n  ".join(dict.fromkeys(problems))
        raise SweepError(f"data.sources: {len(set(problems))} data file(s) the sweep needs do not exist:\n  {listed}\n"
                         "fix the paths in data.sources (relative paths are read from the directory you launch in)")
    if sweep.pair_search.enabled:  # the search's prior (URIEL+ distances) knows every language, before Ray starts
        try:
            build_prior(sweep)
        except PriorError as err:
            raise SweepError(f"pair_search.prior: {err}") from None
