"""Strict YAML → typed config, and the expansion of a sweep's grid into trials.

Every problem is reported as one :class:`ConfigError` that names the key, the
value received and what is expected, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from xlsweep.config.schema import (
    TRANSFER_ALGORITHMS,
    AuxChoice,
    DataConfig,
    Distribution,
    Grid,
    SweepConfig,
    TrialConfig,
)
from xlsweep.data.benchmark import benchmark_languages, benchmark_sources
from xlsweep.data.families import resolve_family
from xlsweep.data.sources import PRESETS, parse_source, resolve_limit, resolve_source
from xlsweep.data.synthetic import SPLITS

__all__ = [
    "ConfigError",
    "cell_config",
    "expand_grid",
    "grid_cells",
    "load_sweep",
    "needed_splits",
    "objective_languages",
    "parse_sweep",
    "parse_trial",
    "search_samples",
    "set_path",
    "to_dict",
    "validate_trial",
]


class ConfigError(ValueError):
    """A configuration value is wrong; the message says which, and what is expected."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` (no dot) as a float, as users write it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


# --------------------------------------------------------------------- conversion
def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of strings to {_describe(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(tp))}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: got {value!r}; expected {_describe(tp)}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: got {value!r}; expected {' or '.join(map(_describe, typing.get_args(tp)))}")
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            value = [value]  # a single language (or layer) may be written without brackets
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: got {value!r}; expected {_describe(tp)}")
        return tuple(_convert(item, item_type, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: got {value!r}; expected {_describe(tp)}")
        return {_convert(k, key_type, f"{path} key"): _convert(v, value_type, f"{path}[{k!r}]")
                for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path or 'config'}: got {value!r}; expected {_describe(tp)}")
        return _build(tp, value, path)
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is object:
        ok = True
    else:  # pragma: no cover - a schema type this converter does not know
        raise TypeError(f"unsupported config type {tp!r} at {path}")
    if not ok:
        raise ConfigError(f"{path}: got {value!r} ({type(value).__name__}); expected {_describe(tp)}")
    return value


def _build(cls: Any, data: Mapping[str, Any], path: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{prefix}{key}: unknown key{hint}; allowed keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], prefix + name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}: missing; expected {_describe(hints[name])}")
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A config as plain YAML-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def set_path(cfg: Any, dotted: str, value: Any, *, where: str = "") -> Any:
    """A copy of ``cfg`` with the field at ``dotted`` (``meta.inner_lr``) set to ``value``, type-checked.

    ``where`` prefixes error messages (e.g. ``grid.`` for a grid axis).
    """
    head, _, rest = dotted.partition(".")
    names = [f.name for f in dataclasses.fields(cfg)]
    if head not in names:
        close = difflib.get_close_matches(head, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}{dotted}: unknown key {head!r}{hint}; allowed keys: {', '.join(names)}")
    if rest:
        child = getattr(cfg, head)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(f"{where}{dotted}: {head!r} is a value, not a section")
        return dataclasses.replace(cfg, **{head: set_path(child, rest, value, where=f"{where}{head}.")})
    hints = typing.get_type_hints(type(cfg))
    return dataclasses.replace(cfg, **{head: _convert(value, hints[head], f"{where}{dotted}")})


# --------------------------------------------------------------------- validation
def _positive(path: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{path}: got {value!r}; expected a positive number")


def _fraction(path: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{path}: got {value!r}; expected a fraction in [0, 1)")


def _languages(path: str, codes: tuple[str, ...], known: tuple[str, ...]) -> None:
    for code in codes:
        if code not in known:
            raise ConfigError(f"{path}: unknown language {code!r}; this benchmark has {', '.join(known)}")
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{path}: got {list(codes)}; a language may appear only once")


def validate_trial(cfg: TrialConfig, where: str = "") -> None:
    """Semantic checks that types cannot express; ``where`` prefixes the message (e.g. a grid cell)."""
    try:
        _validate_trial(cfg)
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None


def _validate_trial(cfg: TrialConfig) -> None:
    meta = cfg.meta
    for name in ("inner_lr", "meta_lr"):
        _positive(f"meta.{name}", getattr(meta, name))
    for name in ("steps", "meta_batch", "support_size", "query_size", "inner_steps", "checkpoint_every"):
        _positive(f"meta.{name}", getattr(meta, name))
    for pattern in meta.adapt:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"meta.adapt: {pattern!r} is not a regular expression ({err})") from None
    _fraction("meta.warmup_ratio", meta.warmup_ratio)
    _fraction("stage1.warmup_ratio", cfg.stage1.warmup_ratio)
    if meta.weight_decay < 0 or cfg.stage1.weight_decay < 0:
        raise ConfigError("weight_decay: expected a number >= 0")
    _positive("stage1.lr", cfg.stage1.lr)
    for name in ("epochs", "batch_size"):
        _positive(f"stage1.{name}", getattr(cfg.stage1, name))
    _positive("eval.batch_size", cfg.eval.batch_size)
    fs = cfg.eval.few_shot
    for name in ("epochs", "lr", "batch_size"):
        _positive(f"eval.few_shot.{name}", getattr(fs, name))
    _fraction("eval.few_shot.warmup_ratio", fs.warmup_ratio)
    _validate_data(cfg.data)
    known = benchmark_languages(cfg.data)
    _languages("data.source", (cfg.data.source,), known)
    _languages("eval.targets", cfg.eval.targets, known)
    _languages("meta.support", meta.support, known)
    _languages("meta.query", meta.query, known)
    if meta.algorithm in TRANSFER_ALGORITHMS:
        _validate_transfer(cfg)
        _data_sources(cfg)
        return
    if not meta.support:
        raise ConfigError("meta.support: empty; expected at least one auxiliary language "
                          "(set it, or sweep it with grid.aux)")
    if meta.algorithm == "xla-maml" and not meta.query:
        raise ConfigError("meta.query: empty; xla-maml needs the query language set Q "
                          "(for support and query from the same language use algorithm: x-maml)")
    if meta.algorithm == "x-maml" and meta.query:
        raise ConfigError(f"meta.query: got {list(meta.query)}; x-maml draws support and query from the same "
                          "language, so leave query empty (or use algorithm: xla-maml)")
    if meta.parallel and meta.algorithm == "x-maml":
        raise ConfigError("meta.parallel: true needs support and query in different languages; "
                          "x-maml uses one language for both (use xla-maml, or parallel: false)")
    needed = meta.support_size + (meta.query_size if meta.algorithm == "x-maml" else 0)
    if cfg.data.benchmark == "synthetic":
        split_size = cfg.data.synthetic.dev_size if meta.split == "dev" else cfg.data.synthetic.train_size
        for lang in meta.support:
            split_size = min(split_size, resolve_limit(cfg.data.limits, lang, meta.split) or split_size)
        if needed > split_size:
            raise ConfigError(f"meta.support_size: {needed} examples per episode do not fit in the "
                              f"{split_size} examples of the {meta.split!r} split")
    _data_sources(cfg)


def _validate_transfer(cfg: TrialConfig) -> None:
    """MetaXL and its baselines: one target language, sources unless target-only, sane RTN settings."""
    meta, x = cfg.meta, cfg.metaxl
    if len(meta.query) != 1:
        raise ConfigError(f"meta.query: got {list(meta.query)}; {meta.algorithm} trains for one target language "
                          "(sweep targets with grid.aux, e.g. product: {support: [en], query: [qu, mi]})")
    if meta.algorithm != "target-only" and len(meta.support) != 1:
        raise ConfigError(f"meta.support: got {list(meta.support)}; {meta.algorithm} needs exactly one source "
                          "language (e.g. [en], or a language related to the target)")
    if meta.query[0] in meta.support:
        raise ConfigError(f"meta.query: {meta.query[0]!r} is also a source language (meta.support)")
    for name in ("epochs", "source_batch", "target_batch", "lr", "rtn_lr", "bottleneck"):
        _positive(f"metaxl.{name}", getattr(x, name))
    for name in ("source_size", "target_size", "backoff_epochs", "max_grad_norm", "weight_decay", "analysis_rows"):
        if getattr(x, name) < 0:
            raise ConfigError(f"metaxl.{name}: got {getattr(x, name)!r}; expected a number >= 0")
    _fraction("metaxl.warmup_ratio", x.warmup_ratio)
    if not x.rtn_layers:
        raise ConfigError("metaxl.rtn_layers: empty; expected layer indices (0: after the embeddings, "
                          "i: after encoder layer i)")
    layers = cfg.model.tiny.num_layers if cfg.model.name == "tiny" else None  # a hub model's depth is checked later
    for i in x.rtn_layers:
        if i < 0 or (layers is not None and i > layers):
            allowed = f"0..{layers}" if layers is not None else "0 or more"
            raise ConfigError(f"metaxl.rtn_layers: got {i}; expected {allowed} (0: after the embeddings, "
                              "i: after encoder layer i)")
    if len(set(x.rtn_layers)) != len(x.rtn_layers):
        raise ConfigError(f"metaxl.rtn_layers: got {list(x.rtn_layers)}; a layer may appear only once")
    if cfg.model.name == "tiny" and x.bottleneck >= cfg.model.tiny.hidden_size:
        raise ConfigError(f"metaxl.bottleneck: got {x.bottleneck}; expected fewer units than the encoder's "
                          f"hidden size ({cfg.model.tiny.hidden_size})")


def _validate_data(data: DataConfig) -> None:
    _positive("data.max_length", data.max_length)
    if data.task == "qa" and not 0 < data.doc_stride < data.max_length:
        raise ConfigError(f"data.doc_stride: got {data.doc_stride}; expected a positive overlap smaller than "
                          f"data.max_length ({data.max_length})")
    for key, n in data.limits.items():
        if n < 0:
            raise ConfigError(f"data.limits[{key!r}]: got {n}; expected a number of examples >= 0 (0: all)")
    _source_keys("data.limits", data.limits)
    if data.benchmark == "synthetic":
        syn = data.synthetic
        for name in ("train_size", "dev_size", "test_size"):
            _positive(f"data.synthetic.{name}", getattr(syn, name))
        if syn.n_topics < 3 or syn.n_topics % 3:
            raise ConfigError(f"data.synthetic.n_topics: got {syn.n_topics}; expected a positive multiple of 3")
        if not 0 < syn.purity <= 1:
            raise ConfigError(f"data.synthetic.purity: got {syn.purity}; expected a number in (0, 1]")
        try:
            resolve_family(syn)
        except ValueError as err:
            raise ConfigError(f"data.synthetic.languages{'' if str(err).startswith('[') else ': '}{err}") from None
        for name in ("sources", "languages"):
            if getattr(data, name):
                raise ConfigError(f"data.{name}: the synthetic benchmark has its own languages and data; "
                                  "set data.benchmark to a preset (xnli, mlqa, wikiann, marc) or 'custom' to use it")
        return
    if data.benchmark in PRESETS and PRESETS[data.benchmark].task != data.task:
        raise ConfigError(f"data.task: got {data.task!r}, but benchmark {data.benchmark!r} is a "
                          f"{PRESETS[data.benchmark].task} benchmark; set data.task: {PRESETS[data.benchmark].task}")
    if data.benchmark == "custom" and not (data.languages and data.sources):
        raise ConfigError("data.benchmark: 'custom' needs data.languages (the language codes) and data.sources "
                          "(where each language's splits are, e.g. {'*': 'data/{lang}.{split}.tsv'})")
    _source_keys("data.sources", data.sources)


def _source_keys(path: str, mapping: dict[str, Any]) -> None:
    for key in mapping:
        lang, _, split = key.partition(".")
        if not lang or (split and split not in SPLITS):
            raise ConfigError(f"{path}: bad key {key!r}; expected '<lang>.<split>', '<lang>', '*.<split>' or '*' "
                              f"with split one of {', '.join(SPLITS)}")


def needed_splits(cfg: TrialConfig, dev_languages: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(language, split, why) of every split a trial reads; ``dev_languages``: the search objective's."""
    needed = [(cfg.data.source, "train", "stage 1 (data.source)")]
    needed += [(lang, "dev", "the search objective (search.metric)") for lang in dev_languages]
    if cfg.meta.algorithm in TRANSFER_ALGORITHMS:
        needed += [(lang, "train", f"{cfg.meta.algorithm} source data (meta.support)") for lang in cfg.meta.support]
        needed += [(lang, cfg.meta.split, f"{cfg.meta.algorithm} target data (meta.query)") for lang in cfg.meta.query]
        needed += [(lang, "dev", "model selection on the target's dev split") for lang in cfg.meta.query]
        if cfg.metaxl.analysis_rows:
            needed += [(lang, "test", "the representation analysis (metaxl.analysis_rows)")
                       for lang in cfg.meta.support]
    else:
        needed += [(lang, cfg.meta.split, "meta-learning (meta.support/query)")
                   for lang in dict.fromkeys(cfg.meta.support + cfg.meta.query)]
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    needed += [(lang, "test", "evaluation (eval.targets)") for lang in targets]
    if cfg.eval.few_shot.enabled:
        needed += [(lang, "dev", "few-shot evaluation (eval.few_shot)") for lang in targets]
    return needed


def trained_dev_languages(cfg: TrialConfig) -> tuple[str, ...]:
    """Languages whose dev split the trial trains on: never part of its objective."""
    if cfg.meta.split != "dev":
        return ()
    if cfg.meta.algorithm in TRANSFER_ALGORITHMS:
        return cfg.meta.query
    return tuple(dict.fromkeys(cfg.meta.support + cfg.meta.query))


def objective_languages(sweep: SweepConfig, cfg: TrialConfig) -> tuple[str, ...]:
    """The languages whose dev score a trial reports for ``search.metric`` (empty: no objective)."""
    metric = sweep.search.metric
    if not metric:
        return ()
    if metric.startswith("dev/"):
        return (metric.removeprefix("dev/"),)
    pool = sweep.search.languages or cfg.eval.targets or benchmark_languages(cfg.data)
    trained = set(trained_dev_languages(cfg))
    return tuple(lang for lang in pool if lang not in trained)


def _data_sources(cfg: TrialConfig) -> None:
    """Every split a trial reads has a well-formed source (existence of files is checked at launch)."""
    if cfg.data.benchmark == "synthetic":
        return
    sources = benchmark_sources(cfg.data)
    for lang, split, why in needed_splits(cfg):
        spec = resolve_source(sources, lang, split)
        if spec is None:
            raise ConfigError(f"data.sources: nothing configures {lang}.{split}, which {why} reads; add a key "
                              f"'{lang}.{split}', '{lang}', '*.{split}' or '*'")
        try:
            parse_source(spec, lang, split)
        except ValueError as err:
            raise ConfigError(f"data.sources: {lang}.{split}: {err}") from None



# --------------------------------------------------------------------- sweep files
_TRIAL_KEYS = tuple(f.name for f in dataclasses.fields(TrialConfig))


def _parse_aux(raw: Any) -> tuple[AuxChoice, ...]:
    path = "grid.aux"
    if isinstance(raw, Mapping):
        if set(raw) == {"product"}:
            spec = raw["product"]
            if not isinstance(spec, Mapping) or not set(spec) <= {"support", "query"} or "support" not in spec:
                raise ConfigError(f"{path}.product: got {spec!r}; expected a mapping with 'support' (and "
                                  "optionally 'query'), each a list of languages or of language lists")
            supports = [_convert(s, tuple[str, ...], f"{path}.product.support") for s in spec["support"]]
            queries = [_convert(q, tuple[str, ...], f"{path}.product.query") for q in spec.get("query", [()])]
            choices = [AuxChoice(s, q) for s, q in itertools.product(supports, queries) if set(s) != set(q)]
        elif set(raw) == {"pairs"}:
            langs = _convert(raw["pairs"], tuple[str, ...], f"{path}.pairs")
            choices = [AuxChoice((a,), (b,)) for a, b in itertools.permutations(langs, 2)]
        else:
            raise ConfigError(f"{path}: got keys {sorted(raw)}; expected 'product' "
                              "({support: [...], query: [...]}), 'pairs' ([languages]) or a list of choices")
    elif isinstance(raw, list):
        choices = [_convert(item, AuxChoice, f"{path}[{i}]") for i, item in enumerate(raw)]
    else:
        raise ConfigError(f"{path}: got {raw!r}; expected a list of {{support, query}} choices, "
                          "a 'product' or 'pairs' mapping")
    if not choices:
        raise ConfigError(f"{path}: the auxiliary choices are empty; expected at least one support/query choice")
    return tuple(choices)


def _parse_grid(raw: Any) -> Grid:
    if raw is None:
        return Grid()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"grid: got {raw!r}; expected a mapping of axes (aux, seed, meta.inner_lr, ...)")
    aux = _parse_aux(raw["aux"]) if "aux" in raw else ()
    axes = []
    for key, values in raw.items():
        if key == "aux":
            continue
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{key}: got {values!r}; expected a non-empty list of values")
        axes.append((str(key), tuple(values)))
    return Grid(aux=aux, axes=tuple(axes))


_SEARCHABLE = ("meta.", "metaxl.", "eval.few_shot.")  # stage-2 keys: every sample shares the stage-1 model


def search_samples(sweep: SweepConfig) -> list[dict[str, Any]]:
    """The random searcher's ``num_samples`` points of ``search.space``, drawn once with ``search.seed``.

    Every point is crossed with the whole grid, so the seeds (and auxiliary choices) of
    one point share its values: seeds stay repeats. Floats keep 4 significant digits.
    """
    search = sweep.search
    if not search.space or search.searcher != "random":
        return []
    rng = np.random.default_rng(search.seed)
    points = []
    for _ in range(search.num_samples):
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
        points.append(point)
    return points


def _validate_distribution(key: str, dist: Distribution) -> None:
    path = f"search.space.{key}"
    given = [name for name in ("choice", "uniform", "loguniform") if getattr(dist, name)]
    if len(given) != 1:
        raise ConfigError(f"{path}: got {given or 'nothing'}; expected exactly one of choice: [values], "
                          "uniform: [low, high], loguniform: [low, high]")
    for name in ("uniform", "loguniform"):
        bounds = getattr(dist, name)
        if bounds and (len(bounds) != 2 or not bounds[0] < bounds[1]):
            raise ConfigError(f"{path}.{name}: got {list(bounds)}; expected [low, high] with low < high")
    if dist.loguniform and dist.loguniform[0] <= 0:
        raise ConfigError(f"{path}.loguniform: got {list(dist.loguniform)}; expected a positive lower bound")


def _validate_search(sweep: SweepConfig, cells: list[dict[str, Any]]) -> None:
    """search: sampled keys, objective, scheduler and searcher make sense together (cells: the grid's)."""
    search = sweep.search
    grid_keys = {"aux", *(name for name, _ in sweep.grid.axes)}
    for key, dist in search.space.items():
        _validate_distribution(key, dist)
        if key in grid_keys:
            raise ConfigError(f"search.space.{key}: also a grid axis; a key is either swept or sampled")
        if not key.startswith(_SEARCHABLE):
            raise ConfigError(f"search.space.{key}: only stage-2 keys can be sampled ({', '.join(_SEARCHABLE)}"
                              "...), since every sample shares the stage-1 model; sweep other keys with grid")
        for value in dist.choice or dist.uniform or dist.loguniform:  # each bound is a value the trial must take
            try:
                set_path(sweep.trial, key, value, where="search.space.")
            except ConfigError as err:
                hint = "" if dist.choice else " (uniform and loguniform sample numbers; use choice for other keys)"
                raise ConfigError(f"{err}{hint}") from None
    if search.num_samples < 1:
        raise ConfigError(f"search.num_samples: got {search.num_samples}; expected a positive integer")
    if search.num_samples > 1 and not search.space:
        raise ConfigError(f"search.num_samples: {search.num_samples} samples of an empty search.space would repeat "
                          "one trial; add keys to search.space, or sweep grid.seed for repeats")
    needs_metric = [why for why, on in (("search.space", bool(search.space)),
                                        ("search.scheduler: asha", search.scheduler == "asha"),
                                        ("search.searcher: optuna", search.searcher == "optuna")) if on]
    if needs_metric and not search.metric:
        raise ConfigError(f"search.metric: empty, but {needs_metric[0]} needs an objective; expected dev_avg "
                          "(mean dev score over search.languages) or dev/<lang> (one held-out language)")
    if search.metric and search.metric != "dev_avg" and not search.metric.startswith("dev/"):
        raise ConfigError(f"search.metric: got {search.metric!r}; expected dev_avg or dev/<lang> — the objective "
                          "is a dev-split score, never a test score")
    if search.mode != "max" and search.metric:
        raise ConfigError(f"search.mode: got {search.mode!r}; dev scores are maximised, expected 'max'")
    if search.scheduler == "asha":
        if search.asha.reduction_factor <= 1:
            raise ConfigError(f"search.asha.reduction_factor: got {search.asha.reduction_factor}; expected > 1")
        if search.asha.grace_period < 0:
            raise ConfigError(f"search.asha.grace_period: got {search.asha.grace_period}; expected >= 0 meta-steps")
    if search.searcher == "optuna":
        if not search.space:
            raise ConfigError("search.searcher: optuna needs search.space (the keys it proposes values for)")
        if len(cells) > 1:
            raise ConfigError(f"search.searcher: optuna proposes one configuration per trial and cannot be crossed "
                              f"with the grid's {len(cells)} cells (Tune rejects grid_search with Optuna); "
                              "fix the grid to one cell, or use searcher: random")


def _validate_objective(sweep: SweepConfig, cfg: TrialConfig, where: str) -> None:
    metric = sweep.search.metric
    if not metric:
        return
    known = benchmark_languages(cfg.data)
    if metric.startswith("dev/"):
        _languages("search.metric", (metric.removeprefix("dev/"),), known)
        if metric.removeprefix("dev/") in trained_dev_languages(cfg):
            raise ConfigError(f"{where}search.metric: {metric!r} is a dev split this trial trains on "
                              f"(meta.split: dev); choose a held-out language")
    _languages("search.languages", sweep.search.languages, known)
    if (cfg.meta.algorithm not in TRANSFER_ALGORITHMS  # (MetaXL's steps are epochs × batches: known later)
            and sweep.search.scheduler == "asha" and sweep.search.asha.grace_period >= cfg.meta.steps):
        raise ConfigError(f"{where}search.asha.grace_period: got {sweep.search.asha.grace_period}; expected "
                          f"fewer than meta.steps ({cfg.meta.steps})")
    if not objective_languages(sweep, cfg):
        raise ConfigError(f"{where}search.metric: dev_avg has no language left once the dev splits this trial "
                          "trains on are left out; set search.languages to held-out languages")


def parse_sweep(raw: Any, *, default_name: str = "sweep") -> SweepConfig:
    """Build and fully validate a sweep from parsed YAML."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: got {type(raw).__name__}; expected a mapping of sections")
    raw = dict(raw)
    trial_raw = {k: raw.pop(k) for k in _TRIAL_KEYS if k in raw}
    grid = _parse_grid(raw.pop("grid", None))
    raw.setdefault("name", default_name)
    trial = _build(TrialConfig, trial_raw, "")
    sweep = _build(SweepConfig, {**raw, "trial": {}, "grid": {}}, "")
    sweep = dataclasses.replace(sweep, trial=trial, grid=grid)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", sweep.name):
        raise ConfigError(f"name: got {sweep.name!r}; expected letters, digits, '.', '_' or '-'")
    _positive("resources.cpu", sweep.resources.cpu)
    if sweep.resources.gpu < 0:
        raise ConfigError(f"resources.gpu: got {sweep.resources.gpu}; expected a number >= 0")
    if sweep.checkpoints.keep < 1:
        raise ConfigError(f"checkpoints.keep: got {sweep.checkpoints.keep}; expected at least 1 (a trial resumes "
                          "from its last checkpoint)")
    if sweep.max_failures < 0:
        raise ConfigError(f"max_failures: got {sweep.max_failures}; expected retries >= 0")
    _validate_search(sweep, grid_cells(sweep, samples=False))
    if sweep.pair_search.enabled:  # the search's checks, and its objective: every target's dev score
        from xlsweep.pairsearch.config import check_pair_search

        try:
            sweep = check_pair_search(sweep)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    for cell, cfg in expand_grid(sweep):  # validates every cell
        _validate_objective(sweep, cfg, f"grid cell {cell}: " if cell else "")
    return sweep


def parse_trial(raw: Mapping[str, Any]) -> TrialConfig:
    cfg = _convert(raw, TrialConfig, "")
    validate_trial(cfg)
    return typing.cast(TrialConfig, cfg)


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep YAML file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file; expected a YAML file such as tune_configs/demo.yaml")
    try:
        raw = yaml.load(p.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML ({err})") from None
    try:
        return parse_sweep(raw, default_name=p.stem)
    except ConfigError as err:
        raise ConfigError(f"{p}: {err}") from None


def cell_config(sweep: SweepConfig, overrides: Mapping[str, Any]) -> TrialConfig:
    """The trial config of one grid cell; ``overrides`` maps ``aux`` (a label) and dotted keys to values."""
    cfg = sweep.trial
    for name, value in overrides.items():
        if name == SAMPLE_KEY:
            continue  # the index of a search sample; its values are the cell's other keys
        if name == "aux":
            choice = {c.label: c for c in sweep.grid.aux}.get(value)
            if choice is None:
                raise ConfigError(f"grid.aux: no choice labelled {value!r}; have {[c.label for c in sweep.grid.aux]}")
            cfg = set_path(set_path(cfg, "meta.support", list(choice.support)), "meta.query", list(choice.query))
        else:
            cfg = set_path(cfg, name, value, where="grid.")
    validate_trial(cfg, f"grid cell {dict(overrides)}: " if overrides else "")
    return cfg


SAMPLE_KEY = "sample"
"""The cell key holding the index of a random-search sample (see :func:`search_samples`)."""


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


def expand_grid(sweep: SweepConfig) -> list[tuple[dict[str, Any], TrialConfig]]:
    """Every cell of the grid: (its overrides, its validated trial config), in grid order."""
    return [(cell, cell_config(sweep, cell)) for cell in grid_cells(sweep)]
