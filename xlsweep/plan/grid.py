"""A sweep's grid expanded into its trials: one checked :class:`~xlsweep.config.schema.TrialConfig` per cell.

A cell is the overrides of one point of the grid (``{"aux": "ana→bel", "seed": 1, "meta.inner_lr": 0.001}``),
crossed with the random searcher's samples of ``search.space``. :func:`expand_grid` checks every cell once:
a sweep's cells are kept after the first expansion, so a sweep loaded (and so checked) and then run is not
checked again, and the driver hands the checked cells to its trials.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from xlsweep.config import ConfigError, SweepConfig, TrialConfig, set_path
from xlsweep.config.convert import canonical, get_path
from xlsweep.config.read import no_repeats
from xlsweep.config.yaml_reader import short
from xlsweep.methods import reads_key
from xlsweep.plan.trial_checks import known_method, validate_trial

__all__ = ["MAX_TRIALS", "SAMPLE_KEY", "Cells", "cell_config", "cell_key", "expand_grid", "grid_cells",
           "repeated_trials", "search_samples"]

Cells = list[tuple[dict[str, Any], TrialConfig]]
"""Every cell of a grid: (its overrides, its checked trial config), in grid order."""

SAMPLE_KEY = "sample"
"""The cell key holding the index of a random-search sample (see :func:`search_samples`)."""

MAX_TRIALS = 10_000
"""The most trials a sweep may expand to (grid cells × random-search samples), counted before any is built:
checking that many takes a few seconds; split a larger study."""

_EXPANDED: dict[str, Cells] = {}  # canonical (trial, grid, search) -> its checked cells
_KEPT = 8  # sweeps whose cells are kept


def cell_key(overrides: Mapping[str, Any]) -> str:
    """A cell's overrides as text, the same whatever their order: how a trial finds its checked config."""
    return json.dumps(dict(overrides), sort_keys=True, ensure_ascii=False, default=str)


def cell_config(sweep: SweepConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """The checked trial config of one grid cell; ``overrides`` maps ``aux`` (a label) and dotted keys to values."""
    cfg = sweep.trial
    for name, value in overrides.items():
        if name == SAMPLE_KEY:
            continue  # the index of a search sample; its values are the cell's other keys
        if name == "aux":
            choice = {c.label: c for c in sweep.grid.aux}.get(value)
            if choice is None:
                raise ConfigError(f"grid.aux: no choice labelled {short(value)}; "
                                  f"have {[c.label for c in sweep.grid.aux]}")
            cfg = set_path(set_path(cfg, "meta.support", list(choice.support)), "meta.query", list(choice.query))
        else:
            cfg = set_path(cfg, name, value, where="grid.")
    cfg = known_method(cfg.meta.algorithm).resolve(cfg, overrides)  # e.g. x-maml's own languages from an aux choice
    validate_trial(cfg, f"grid cell {dict(overrides)}: " if overrides else "")
    return cfg


def grid_cells(sweep: SweepConfig, *, samples: bool = True) -> list[dict[str, Any]]:
    """The overrides of every grid cell, in grid order (aux first, then the other axes, then the samples).

    With a random-searched ``search.space`` each cell is repeated per sample:
    ``{"aux": ..., "seed": 0, "sample": 2, "meta.meta_lr": 3.1e-4}``.
    """
    axes = ([("aux", tuple(c.label for c in sweep.grid.aux))] if sweep.grid.aux else []) + list(sweep.grid.axes)
    names = [name for name, _ in axes]
    cells = [dict(zip(names, values, strict=True)) for values in itertools.product(*(v for _, v in axes))]
    points = search_samples(sweep) if samples else []
    if not points:
        return cells
    return [{**cell, SAMPLE_KEY: i, **point} for cell in cells for i, point in enumerate(points)]


def expand_grid(sweep: SweepConfig) -> Cells:
    """Every cell of the grid: (its overrides, its checked trial config), in grid order; checked once per sweep."""
    key = canonical((sweep.trial, sweep.grid, sweep.search))
    if key not in _EXPANDED:
        cells = [(cell, cell_config(sweep, cell)) for cell in grid_cells(sweep)]
        while len(_EXPANDED) >= _KEPT:
            _EXPANDED.pop(next(iter(_EXPANDED)))
        _EXPANDED[key] = cells
    return [(dict(cell), cfg) for cell, cfg in _EXPANDED[key]]


def search_samples(sweep: SweepConfig) -> list[dict[str, Any]]:
    """The random searcher's ``num_samples`` distinct points of ``search.space``, drawn once with ``search.seed``.

    Every point is crossed with the whole grid, so the seeds (and auxiliary choices) of
    one point share its values: seeds stay repeats. Floats keep 4 significant digits; a
    point equal to an earlier one (after that rounding) is drawn again, since it would
    repeat a trial. A space with fewer distinct points than ``num_samples`` is an error.
    """
    search = sweep.search
    if not search.space or search.searcher != "random":
        return []
    if all(dist.choice for dist in search.space.values()):
        combinations = math.prod(len({canonical(v) for v in dist.choice}) for dist in search.space.values())
        if search.num_samples > combinations:
            raise ConfigError(f"search.num_samples: got {search.num_samples}, but search.space has only "
                              f"{combinations} distinct combination{'' if combinations == 1 else 's'} of choices; "
                              "expected at most that many (or sweep the choices as grid axes)")
    rng = np.random.default_rng(search.seed)
    points: dict[str, dict[str, Any]] = {}
    for _ in range(100 * search.num_samples):
        point: dict[str, Any] = {}
        for key, dist in search.space.items():
            if dist.choice:
                point[key] = dist.choice[int(rng.integers(len(dist.choice)))]
            elif dist.uniform:
                low, high = dist.uniform
                point[key] = float(f"{rng.uniform(low, high):.4g}")
            else:
                low, high = np.log(dist.loguniform)
                point[key] = float(f"{np.exp(rng.uniform(low, high)):.4g}")
        points.setdefault(canonical(point), point)
        if len(points) == search.num_samples:
            return list(points.values())
    raise ConfigError(f"search.num_samples: {search.num_samples} distinct points could not be drawn from search.space "
                      f"(4 significant digits) in {100 * search.num_samples} draws; widen the ranges or draw fewer")


def validate_axes(sweep: SweepConfig) -> None:
    """Each grid axis's values differ once read through the schema's type (``0.001`` equals ``1.0e-3``)."""
    for key, values in sweep.grid.axes:
        converted = [get_path(set_path(sweep.trial, key, value, where="grid."), key) for value in values]
        no_repeats(f"grid.{key}", converted, canonical)
    axes = [key for key, _ in sweep.grid.axes]
    for key in sweep.select_on_dev.keys:
        if key not in axes or key in ("seed", "meta.algorithm"):
            raise ConfigError(f"select_on_dev.keys: {key!r} is not a swept hyperparameter; expected a grid axis "
                              f"other than seed and meta.algorithm (this grid has {axes})")
    algorithms = dict(sweep.grid.axes).get("meta.algorithm", (sweep.trial.meta.algorithm,))
    episodes = [str(a) for a in algorithms if not known_method(str(a)).one_target]
    tuned = [k for k in sweep.select_on_dev.keys if not k.startswith("metaxl.")]
    if episodes and tuned and not sweep.search.metric:  # MetaXL-family trials always score their target's dev split
        raise ConfigError(f"select_on_dev.keys: {tuned[0]!r} is chosen on dev, but {episodes[0]} trials score the dev "
                          "split only for an objective, so there is nothing to choose by; set search.metric: dev_avg "
                          "(languages: search.languages, which must be held out of meta-learning)")


def validate_size(sweep: SweepConfig) -> None:
    """At most :data:`MAX_TRIALS` trials, counted before any is built."""
    cells = math.prod([len(sweep.grid.aux) or 1, *(len(values) for _, values in sweep.grid.axes)])
    samples = sweep.search.num_samples if sweep.search.space and sweep.search.searcher == "random" else 1
    if cells * max(samples, 1) > MAX_TRIALS:
        detail = f"{cells:,} grid cells × {samples:,} search samples" if samples > 1 else f"{cells:,} grid cells"
        raise ConfigError(f"grid: {detail} make {cells * samples:,} trials; expected at most {MAX_TRIALS:,} per sweep "
                          "— shrink the grid or search.num_samples, or split the study into several sweeps")


def no_repeated_trials(cells: Cells) -> None:
    """No two cells resolve to the same trial config (Tune would run one of them and the sweep never ends).

    Cells share the base config and differ only at the paths they override, so the resolved values at
    those paths (``aux``: the support and query sets) identify a cell's config.
    """
    def resolved(name: str, cfg: TrialConfig) -> str:
        if name == "aux":
            return canonical([sorted(cfg.meta.support), sorted(cfg.meta.query)])
        return canonical(get_path(cfg, name)) if name != SAMPLE_KEY else ""

    seen: dict[tuple[str, ...], dict[str, Any]] = {}
    for cell, cfg in cells:
        first = seen.setdefault(tuple(resolved(name, cfg) for name in sorted(cell)), cell)
        if first is cell:
            continue
        if SAMPLE_KEY in cell and SAMPLE_KEY in first:
            raise ConfigError(f"search: samples {first[SAMPLE_KEY]} and {cell[SAMPLE_KEY]} drew the same values "
                              f"({short({k: v for k, v in cell.items() if k != SAMPLE_KEY})}), so two trials would "
                              "repeat one; with choice-only spaces draw fewer samples than there are combinations "
                              "(or sweep the choices as grid axes)")
        raise ConfigError(f"grid: cells {short(first)} and {short(cell)} resolve to the same trial; every cell must "
                          "differ — remove the axis value that repeats another")


def distinct_same_language_cells(cells: Cells) -> None:
    """Two cells of a method with one language set for support and query (x-maml) that resolve to one trial (e.g.
    aux ``a→b`` and ``b→a``) would run it twice."""
    seen: dict[str, dict[str, Any]] = {}
    for cell, cfg in cells:
        spec = known_method(cfg.meta.algorithm)
        if not spec.same_language or "aux" not in cell:
            continue
        key = repr({k: v for k, v in cell.items() if k != "aux"} | {"languages": sorted(cfg.meta.support)})
        if key in seen:
            raise ConfigError(f"grid: the {spec.name} cells {seen[key]} and {cell} are the same {spec.label} setting "
                              f"(on {'+'.join(cfg.meta.support)}): an {spec.name} cell meta-learns on its aux choice's "
                              "languages but data.source; give the aux axis choices whose language sets differ "
                              f"(e.g. product: {{support: [<source>], query: [...]}}) or sweep {spec.label} on its own")
        seen[key] = cell


def repeated_trials(cells: Cells) -> list[str]:
    """A warning (one line, or none) for grid cells that repeat an earlier cell's trial: they differ only in keys
    their method does not read (``metaxl.rtn_lr`` for ``jt``: :func:`~xlsweep.methods.reads_key`) or, for a method
    without source languages (``target-only``), in the aux choice's support. Such a cell runs the same training
    again (the same seed: the same scores) and only costs compute; Tune's grid is a product of axes, so it
    cannot be left out of one sweep: the line says how many there are and why."""
    seen: set[str] = set()
    why: dict[str, set[str]] = {}
    repeats = 0
    for cell, cfg in cells:
        spec = known_method(cfg.meta.algorithm)
        settings = {k: v for k, v in cell.items() if k not in ("aux", SAMPLE_KEY)}  # the languages come from cfg
        unread = [k for k in settings if not reads_key(k, cfg)]
        read = [(k, v) for k, v in settings.items() if k not in unread]
        key = repr((read, cfg.meta.support if spec.needs_source else (), cfg.meta.query))
        if key not in seen:
            seen.add(key)
            continue
        repeats += 1
        for k in unread:
            why.setdefault(k, set()).add(spec.name)
        if not spec.needs_source and "aux" in cell:
            why.setdefault("aux's support languages", set()).add(spec.name)
    if not repeats:
        return []
    reasons = "; ".join(f"{k}: not read by {', '.join(sorted(names))}" for k, names in why.items())
    return [f"{repeats} of {len(cells)} trials repeat an earlier trial's training ({reasons}): they add compute, "
            "not results; sweep those methods in a grid of their own to run each setting once"]
