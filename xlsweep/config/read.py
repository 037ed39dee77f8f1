"""A config file's YAML → a :class:`~xlsweep.config.schema.SweepConfig` (or one trial's config), types only.

The trial's sections sit at the top level of a sweep file next to the sweep's own keys; ``grid``
is read into a :class:`~xlsweep.config.schema.Grid`: ``grid.aux`` as a list of choices, a
``product`` of support and query sets, or ``pairs`` of languages, and every other key as an axis.
What the values mean together (languages, methods, data, search) is checked by :mod:`xlsweep.plan`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xlsweep.config.convert import build, convert
from xlsweep.config.errors import ConfigError
from xlsweep.config.schema import AuxChoice, Grid, SweepConfig, TrialConfig
from xlsweep.config.yaml_reader import YamlError, cut, read_yaml, short

__all__ = ["AUX_KEYS", "TRIAL_KEYS", "no_repeats", "read_config_file", "read_sweep", "read_trial"]

TRIAL_KEYS = tuple(f.name for f in dataclasses.fields(TrialConfig))
"""The trial's sections, written at the top level of a sweep file."""

AUX_KEYS = ("meta.support", "meta.query", "meta")
"""Swept only through ``grid.aux``, which labels the rows of the tables and heatmaps."""


def read_config_file(path: Path) -> Any:
    """The parsed YAML of a config file; :class:`ConfigError` (naming the file) when it is missing, not a regular
    file (a directory, a device), unreadable or empty (nothing but comments and blank lines)."""
    if path.is_dir():
        raise ConfigError(f"{path}: a directory; expected a YAML config file such as tune_configs/demo.yaml (to check "
                          "every config in it: xlsweep validate DIR/*.yaml)")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: not a regular file (a device, a pipe or a socket); expected a YAML config file "
                          "such as tune_configs/demo.yaml")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file; expected a YAML file such as tune_configs/demo.yaml")
    try:
        raw = read_yaml(path)
    except YamlError as err:
        raise ConfigError(f"{path}: {err}") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; expected a sweep config (a mapping of sections: name, meta, "
                          "grid, ...) such as tune_configs/demo.yaml")
    return raw


def read_sweep(raw: Any, *, default_name: str = "sweep") -> SweepConfig:
    """A sweep's typed config from parsed YAML: every key known, every value of its type (nothing more checked)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: got {type(raw).__name__}; expected a mapping of sections")
    raw = dict(raw)
    trial_raw = {k: raw.pop(k) for k in TRIAL_KEYS if k in raw}
    grid = _read_grid(raw.pop("grid", None))
    raw.setdefault("name", default_name)
    trial = build(TrialConfig, trial_raw, "")
    sweep = build(SweepConfig, {**raw, "trial": {}, "grid": {}}, "")
    return dataclasses.replace(sweep, trial=trial, grid=grid)


def read_trial(raw: Mapping[str, Any]) -> TrialConfig:
    """One trial's typed config from parsed YAML (its sections, as in a sweep file)."""
    cfg: TrialConfig = convert(raw, TrialConfig, "")
    return cfg


def _repeated(values: list[Any], key: Any = repr) -> list[Any]:
    """The values of ``values`` that occur more than once (by ``key``), each once, in order."""
    seen: dict[Any, int] = {}
    for value in values:
        seen[key(value)] = seen.get(key(value), 0) + 1
    return [v for v in dict.fromkeys(map(key, values)) if seen[v] > 1]


def no_repeats(path: str, values: list[Any], key: Any = repr, shown: Any = None) -> None:
    """Refuse an axis or list whose values repeat (compared by ``key``, after type normalisation)."""
    repeats = _repeated(values, key)
    if repeats:
        by_key: dict[Any, Any] = {}
        for value in values:
            by_key.setdefault(key(value), value)
        listed = ", ".join(short(shown(by_key[k]) if shown else by_key[k]) for k in repeats[:5])
        raise ConfigError(f"{path}: {listed} appear{'s' if len(repeats) == 1 else ''} more than once; every value "
                          "of a grid axis must differ (after reading numbers: 0.001 and 1.0e-3 are one value) — "
                          "remove the repeats (repeated trials are seeds: sweep grid.seed)")


def _aux_key(choice: AuxChoice) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(choice.support), frozenset(choice.query)


def _product(spec: Any, path: str) -> list[AuxChoice]:
    if not isinstance(spec, Mapping) or not set(spec) <= {"support", "query"} or "support" not in spec:
        raise ConfigError(f"{path}.product: got {short(spec)}; expected a mapping with 'support' (and "
                          "optionally 'query'), each a list of languages or of language lists")
    lists = {side: convert(spec.get(side, [()]), tuple[object, ...], f"{path}.product.{side}")
             for side in ("support", "query")}
    sides = {side: [convert(s, tuple[str, ...], f"{path}.product.{side}") for s in values]
             for side, values in lists.items()}
    for side, sets in sides.items():
        no_repeats(f"{path}.product.{side}", sets, frozenset, list)
    # a language set never pairs with itself: support [a, b] x query [a, b] gives a→b and b→a
    choices = [AuxChoice(s, q) for s, q in itertools.product(sides["support"], sides["query"]) if set(s) != set(q)]
    if not choices and sides["support"] and all(sides["query"]):
        shown = ", ".join(short(list(s)) for s in sides["support"])
        raise ConfigError(f"{path}.product: every support set is its query set ({shown}) and a language set never "
                          "pairs with itself; expected a query language other than the support's (for support and "
                          "query drawn from one language use meta.algorithm: x-maml with {support: [...]} only)")
    return choices


def _read_aux(raw: Any) -> tuple[AuxChoice, ...]:
    path = "grid.aux"
    if isinstance(raw, Mapping):
        if set(raw) == {"product"}:
            choices = _product(raw["product"], path)
        elif set(raw) == {"pairs"}:
            langs = convert(raw["pairs"], tuple[str, ...], f"{path}.pairs")
            no_repeats(f"{path}.pairs", list(langs))
            choices = [AuxChoice((a,), (b,)) for a, b in itertools.permutations(langs, 2)]
        else:
            raise ConfigError(f"{path}: got keys {short(sorted(map(str, raw)))}; expected 'product' "
                              "({support: [...], query: [...]}), 'pairs' ([languages]) or a list of choices")
    elif isinstance(raw, list):
        choices = [convert(item, AuxChoice, f"{path}[{i}]") for i, item in enumerate(raw)]
        for i, choice in enumerate(choices):
            if choice.query and set(choice.support) == set(choice.query):
                raise ConfigError(f"{path}[{i}]: support and query are both {list(choice.support)}; XLA-MAML "
                                  "meta-learns from one language set to another (for support and query drawn "
                                  "from one language use meta.algorithm: x-maml with {support: [...]} only)")
    else:
        raise ConfigError(f"{path}: got {short(raw)}; expected a list of {{support, query}} choices, "
                          "a 'product' or 'pairs' mapping")
    if not choices:
        raise ConfigError(f"{path}: the auxiliary choices are empty; expected at least one support/query choice")
    no_repeats(path, choices, _aux_key, lambda c: c.label)
    return tuple(choices)


def _read_grid(raw: Any) -> Grid:
    if raw is None:
        return Grid()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"grid: got {short(raw)}; expected a mapping of axes (aux, seed, meta.inner_lr, ...)")
    aux = _read_aux(raw["aux"]) if "aux" in raw else ()
    axes = []
    for key, values in raw.items():
        if key == "aux":
            continue
        if key in AUX_KEYS:
            raise ConfigError(f"grid.{key}: the support and query languages are swept with grid.aux, which "
                              "labels every row of the tables and heatmaps (a grid.meta.support axis would "
                              "mislabel them); write e.g. grid.aux: {product: {support: [ana], query: [bel, cor]}}")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{cut(str(key))}: got {short(values)}; expected a non-empty list of values")
        axes.append((str(key), tuple(values)))
    return Grid(aux=aux, axes=tuple(axes))
