"""Strict YAML → typed config, and the expansion of a sweep's grid into trials.

Every problem is reported as one :class:`ConfigError` that names the key, the
value received and what is expected, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import itertools
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xlsweep.config.schema import (
    AuxChoice,
    DataConfig,
    Distribution,
    Grid,
    SweepConfig,
    TrialConfig,
)
from xlsweep.config.yaml_reader import YamlError, cut, read_yaml, short
from xlsweep.data.benchmark import benchmark_languages, benchmark_sources, load_benchmark
from xlsweep.data.families import resolve_family
from xlsweep.data.sources import PRESETS, parse_source, resolve_limit, resolve_source
from xlsweep.data.synthetic import SPLITS
from xlsweep.methods import Method, method, method_names, reads_key

__all__ = [
    "MAX_SEED",
    "MAX_TRIALS",
    "ConfigError",
    "cell_config",
    "expand_grid",
    "grid_cells",
    "load_sweep",
    "needed_splits",
    "objective_languages",
    "parse_sweep",
    "parse_trial",
    "repeated_trials",
    "search_samples",
    "set_path",
    "synthetic_data",
    "to_dict",
    "validate_trial",
]


class ConfigError(ValueError):
    """A configuration value is wrong; the message says which, and what is expected."""


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


MAX_SEED = 2**32 - 1
"""The largest seed: numpy's legacy ``RandomState`` (which Optuna's sampler uses) takes 0 to 2**32 - 1; torch,
``random`` and ``default_rng`` take more, but every seed field has the one range every consumer accepts."""


def _is_seed(path: str) -> bool:
    """Whether the field at ``path`` (``stage1.seed``, ``data.limit_seed``, ``grid.seed``) holds a seed."""
    name = re.sub(r"\[.*?\]$", "", path.rpartition(".")[2])
    return name == "seed" or name.endswith("_seed")


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: got {short(value)}; expected {_describe(tp)}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: got {short(value)}; expected {' or '.join(map(_describe, typing.get_args(tp)))}")
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            value = [value]  # a single language (or layer) may be written without brackets
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: got {short(value)}; expected {_describe(tp)}")
        return tuple(_convert(item, item_type, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: got {short(value)}; expected {_describe(tp)}")
        return {_convert(k, key_type, f"{path} key"): _convert(v, value_type, f"{path}[{short(k)}]")
                for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path or 'config'}: got {short(value)}; expected {_describe(tp)}")
        return _build(tp, value, path)
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and _is_seed(path) and not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{path}: got {short(value)}; expected a seed from 0 to 2**32 - 1 ({MAX_SEED})")
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{path}: got {value!r}; expected a finite number")
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is object:
        ok = True
    else:  # pragma: no cover - a schema type this converter does not know
        raise TypeError(f"unsupported config type {tp!r} at {path}")
    if not ok:
        raise ConfigError(f"{path}: got {short(value)} ({type(value).__name__}); expected {_describe(tp)}")
    return value


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    """A schema class's field types, evaluated once (``typing.get_type_hints`` dominated validation time)."""
    return typing.get_type_hints(cls)
_REPLACED = {  # keys that were renamed: an old config gets the new key's name, not "unknown key"
    "metaxl.target_in_step": "metaxl.step (true: authors-code, which now splits one target batch in halves as "
                             "the authors' code does; false: paper)",
    "metaxl.residual": "metaxl.rtn (paper: Eq. 1 without a residual; authors-code and identity-init: residual)",
    "metaxl.gate": "metaxl.rtn (authors-code: residual with the authors' sigmoid gate)",
}


def _build(cls: Any, data: Mapping[str, Any], path: str) -> Any:
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    for key in data:
        if f"{prefix}{key}" in _REPLACED:
            raise ConfigError(f"{prefix}{key}: replaced by {_REPLACED[f'{prefix}{key}']}")
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{prefix}{cut(str(key))}: unknown key{hint}; allowed keys: {', '.join(fields)}")
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
        replaced = next((v for k, v in _REPLACED.items() if f"{where}{dotted}".endswith(k)), None)
        if replaced is not None:
            raise ConfigError(f"{where}{dotted}: replaced by {replaced}")
        close = difflib.get_close_matches(head, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}{dotted}: unknown key {short(head)}{hint}; allowed keys: {', '.join(names)}")
    if rest:
        child = getattr(cfg, head)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(f"{where}{dotted}: {short(head)} is a value, not a section")
        return dataclasses.replace(cfg, **{head: set_path(child, rest, value, where=f"{where}{head}.")})
    hints = _hints(cfg.__class__)
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
            raise ConfigError(f"{path}: unknown language {short(code)}; this benchmark has {', '.join(known)}")
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{path}: got {list(codes)}; a language may appear only once")


def validate_trial(cfg: TrialConfig, where: str = "") -> None:
    """Semantic checks that types cannot express; ``where`` prefixes the message (e.g. a grid cell)."""
    try:
        _validate_trial(cfg)
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None


def _method(name: str) -> Method:
    """The method ``meta.algorithm`` names (:mod:`xlsweep.methods`)."""
    if name not in method_names():
        raise ConfigError(f"meta.algorithm: got {short(name)}; expected one of "
                          f"{', '.join(map(repr, method_names()))} (the methods of xlsweep.methods)")
    return method(name)


def _validate_trial(cfg: TrialConfig) -> None:
    meta = cfg.meta
    _method(meta.algorithm)
    for name in ("inner_lr", "meta_lr"):
        _positive(f"meta.{name}", getattr(meta, name))
    for name in ("steps", "meta_batch", "support_size", "query_size", "inner_steps", "checkpoint_every"):
        _positive(f"meta.{name}", getattr(meta, name))
    for pattern in meta.adapt:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"meta.adapt: {short(pattern)} is not a regular expression ({err})") from None
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
    _validate_tiny(cfg)
    known = benchmark_languages(cfg.data)
    _answer_languages(cfg.data, known)
    _languages("data.source", (cfg.data.source,), known)
    _languages("eval.targets", cfg.eval.targets, known)
    _languages("meta.support", meta.support, known)
    _languages("meta.query", meta.query, known)
    if _method(meta.algorithm).family == "transfer":
        _validate_transfer(cfg)
        _data_sources(cfg)
        return
    _validate_episodes(cfg)
    _data_sources(cfg)


def _split_size(cfg: TrialConfig, languages: tuple[str, ...], split: str, *, pooled: bool) -> int:
    """Synthetic data: rows of ``split`` for the smallest of ``languages`` (``pooled``: of them all together)."""
    base = cfg.data.synthetic.dev_size if split == "dev" else cfg.data.synthetic.train_size
    sizes = [min(base, resolve_limit(cfg.data.limits, lang, split) or base) for lang in languages]
    return sum(sizes) if pooled else min(sizes, default=base)


def _validate_episodes(cfg: TrialConfig) -> None:
    """X-MAML, XLA-MAML and Reptile: their language sets, episode options and few-shot protocol fit together."""
    meta, fs = cfg.meta, cfg.eval.few_shot
    if not meta.support:
        raise ConfigError("meta.support: empty; expected at least one auxiliary language "
                          "(set it, or sweep it with grid.aux)")
    spec = _method(meta.algorithm)
    if not spec.same_language and not meta.query:
        raise ConfigError(f"meta.query: empty; {meta.algorithm} needs the query language set Q "
                          "(for support and query from the same language use algorithm: x-maml)")
    if problem := spec.check(cfg):
        raise ConfigError(problem)
    union = meta.episode_languages == "union"
    shared = [lang for lang in meta.query if lang in meta.support]
    if meta.parallel and union and shared:
        raise ConfigError(f"meta.parallel: true with episode_languages: union needs disjoint support and query "
                          f"sets; {', '.join(shared)} is in both (a row cannot be its own translation)")
    needed = meta.support_size + (meta.query_size if spec.same_language else 0)
    if cfg.data.benchmark == "synthetic":
        split_size = _split_size(cfg, meta.support, meta.split, pooled=union)
        if needed > split_size:
            raise ConfigError(f"meta.support_size: {needed} examples per episode do not fit in the "
                              f"{split_size} examples of the {meta.split!r} split")
    if not (fs.enabled and fs.protocol == "target-inner") or spec.target_inner is None:
        return  # e.g. x-maml trials fine-tune their own model, as the XLA-MAML paper's X-MAML few-shot rows
    if meta.parallel and meta.split != "dev":
        raise ConfigError(f"eval.few_shot.protocol: target-inner with meta.parallel: true needs meta.split: dev; "
                          f"its support is the target's dev split, whose translations are the query languages' "
                          f"dev rows (got meta.split: {meta.split})")
    if cfg.data.benchmark == "synthetic" and meta.support_size > cfg.data.synthetic.dev_size:
        raise ConfigError(f"meta.support_size: {meta.support_size} examples per episode do not fit in a target's "
                          f"{cfg.data.synthetic.dev_size} dev examples (eval.few_shot.protocol: target-inner "
                          "meta-learns with the target's dev split as support)")


def _validate_transfer(cfg: TrialConfig) -> None:
    """MetaXL and its baselines: one target language, sources unless target-only, sane RTN settings."""
    meta, x = cfg.meta, cfg.metaxl
    if len(meta.query) != 1:
        raise ConfigError(f"meta.query: got {list(meta.query)}; {meta.algorithm} trains for one target language "
                          "(sweep targets with grid.aux, e.g. product: {support: [en], query: [qu, mi]})")
    if _method(meta.algorithm).needs_source and len(meta.support) != 1:
        raise ConfigError(f"meta.support: got {list(meta.support)}; {meta.algorithm} needs exactly one source "
                          "language (e.g. [en], or a language related to the target)")
    if meta.query[0] in meta.support:
        raise ConfigError(f"meta.query: {meta.query[0]!r} is also a source language (meta.support)")
    if cfg.eval.few_shot.enabled and cfg.eval.few_shot.protocol == "target-inner":
        raise ConfigError(f"eval.few_shot.protocol: target-inner is the XLA-MAML paper's few-shot protocol "
                          f"(meta-learning with the target as support); {meta.algorithm} trials fine-tune their "
                          "model: use protocol: finetune")
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
    if problem := _method(meta.algorithm).check(cfg):
        raise ConfigError(problem)
    if cfg.model.name == "tiny" and x.bottleneck >= cfg.model.tiny.hidden_size:
        raise ConfigError(f"metaxl.bottleneck: got {x.bottleneck}; expected fewer units than the encoder's "
                          f"hidden size ({cfg.model.tiny.hidden_size})")


def _answer_languages(data: DataConfig, known: tuple[str, ...]) -> None:
    """QA on real data: every language is one MLQA's official normalisation knows, or declared whitespace-tokenised.

    The synthetic benchmark's invented languages are whitespace-tokenised by construction
    (see :mod:`xlsweep.tasks.mlqa_metrics`).
    """
    declared = data.qa_whitespace_languages
    if data.benchmark == "synthetic":
        return
    if declared and data.task != "qa":
        raise ConfigError(f"data.qa_whitespace_languages: set for task {data.task!r}; it only applies to qa")
    if data.task != "qa":
        return
    from xlsweep.tasks.mlqa_metrics import OFFICIAL_LANGUAGES

    _languages("data.qa_whitespace_languages", declared, known)
    official = [lang for lang in declared if lang in OFFICIAL_LANGUAGES]
    if official:
        raise ConfigError(f"data.qa_whitespace_languages: {official} are normalised as MLQA's official script does "
                          "(with their articles and tokenisation); remove them from the list")
    unknown = [lang for lang in known if lang not in OFFICIAL_LANGUAGES and lang not in declared]
    if unknown:
        raise ConfigError(f"data.languages: {short(unknown)} are not languages MLQA's official answer normalisation "
                          f"knows ({', '.join(OFFICIAL_LANGUAGES)}), so EM/F1 would not follow it; declare them "
                          f"whitespace-tokenised (data.qa_whitespace_languages: {short(unknown)}: whitespace tokens, "
                          "no articles), or use these codes for languages the script knows")


def _validate_tiny(cfg: TrialConfig) -> None:
    """The tiny default encoder's shape (a hub or local model is checked against its config: preflight)."""
    if cfg.model.name != "tiny":
        return
    t = cfg.model.tiny
    for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
        _positive(f"model.tiny.{name}", getattr(t, name))
    if t.hidden_size % t.num_heads:
        raise ConfigError(f"model.tiny.num_heads: got {t.num_heads}; expected a divisor of model.tiny.hidden_size "
                          f"({t.hidden_size}), e.g. {', '.join(str(h) for h in (2, 4, 8) if t.hidden_size % h == 0)}")
    if t.mlm_steps < 0:
        raise ConfigError(f"model.tiny.mlm_steps: got {t.mlm_steps}; expected a number of steps >= 0")


def _validate_data(data: DataConfig) -> None:
    _positive("data.max_length", data.max_length)
    if data.task == "qa" and not 0 < data.doc_stride < data.max_length:
        raise ConfigError(f"data.doc_stride: got {data.doc_stride}; expected a positive overlap smaller than "
                          f"data.max_length ({data.max_length})")
    for key, n in data.limits.items():
        if n < 0:
            raise ConfigError(f"data.limits[{short(key)}]: got {n}; expected a number of examples >= 0 (0: all)")
    _source_keys("data.limits", data.limits)
    if data.benchmark == "synthetic":
        _validate_synthetic(data)
        for name in ("sources", "languages", "qa_whitespace_languages"):
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


def _validate_synthetic(data: DataConfig) -> None:
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
    try:
        problem = _benchmark_refuses(data.task, syn)  # once per distinct setting: ~1 ms each, and grids repeat them
    except TypeError:  # an unhashable field: not cached
        problem = _benchmark_refuses.__wrapped__(data.task, syn)
    if problem:
        raise ConfigError(f"data.synthetic: {problem}")


@functools.lru_cache(maxsize=256)
def _benchmark_refuses(task: str, synthetic: Any) -> str:
    """The synthetic benchmark's own objection to these settings (e.g. words_per_pool), or ``""``; builds no data."""
    try:
        load_benchmark(DataConfig(task=task, synthetic=synthetic))  # type: ignore[arg-type]
    except ValueError as err:
        return str(err)
    return ""


def synthetic_data(task: str, synthetic: Mapping[str, Any]) -> DataConfig:
    """The data config of the synthetic benchmark for ``task``, with ``synthetic`` overriding ``data.synthetic``'s
    defaults (type-checked and validated as in a config file): one source of the benchmark's defaults."""
    data = _convert({"task": task, "synthetic": dict(synthetic)}, DataConfig, "data")
    _validate_synthetic(data)
    return typing.cast(DataConfig, data)


def _source_keys(path: str, mapping: dict[str, Any]) -> None:
    for key in mapping:
        lang, _, split = key.partition(".")
        if not lang or (split and split not in SPLITS):
            raise ConfigError(f"{path}: bad key {short(key)}; expected '<lang>.<split>', '<lang>', '*.<split>' or '*' "
                              f"with split one of {', '.join(SPLITS)}")


def needed_splits(cfg: TrialConfig, dev_languages: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(language, split, why) of every split a trial reads; ``dev_languages``: the search objective's."""
    needed = [(cfg.data.source, "train", "stage 1 (data.source)")]
    needed += [(lang, "dev", "the search objective (search.metric)") for lang in dev_languages]
    needed += _method(cfg.meta.algorithm).reads(cfg)
    targets = cfg.eval.targets or benchmark_languages(cfg.data)
    needed += [(lang, "test", "evaluation (eval.targets)") for lang in targets]
    if cfg.eval.few_shot.enabled:
        needed += [(lang, "dev", "few-shot evaluation (eval.few_shot)") for lang in targets]
    return needed


def trained_dev_languages(cfg: TrialConfig) -> tuple[str, ...]:
    """Languages whose dev split the trial trains on: never part of its objective."""
    if cfg.meta.split != "dev":
        return ()
    if _method(cfg.meta.algorithm).family == "transfer":  # trains on the target's split, its sources on train
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


def _repeated(values: list[Any], key: Any = repr) -> list[Any]:
    """The values of ``values`` that occur more than once (by ``key``), each once, in order."""
    seen: dict[Any, int] = {}
    for value in values:
        seen[key(value)] = seen.get(key(value), 0) + 1
    return [v for v in dict.fromkeys(map(key, values)) if seen[v] > 1]


def _no_repeats(path: str, values: list[Any], key: Any = repr, shown: Any = None) -> None:
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


def _parse_aux(raw: Any) -> tuple[AuxChoice, ...]:
    path = "grid.aux"
    if isinstance(raw, Mapping):
        if set(raw) == {"product"}:
            spec = raw["product"]
            if not isinstance(spec, Mapping) or not set(spec) <= {"support", "query"} or "support" not in spec:
                raise ConfigError(f"{path}.product: got {short(spec)}; expected a mapping with 'support' (and "
                                  "optionally 'query'), each a list of languages or of language lists")
            lists = {side: _convert(spec.get(side, [()]), tuple[object, ...], f"{path}.product.{side}")
                     for side in ("support", "query")}
            sides = {side: [_convert(s, tuple[str, ...], f"{path}.product.{side}") for s in values]
                     for side, values in lists.items()}
            for side, sets in sides.items():
                _no_repeats(f"{path}.product.{side}", sets, frozenset, list)
            # a language set never pairs with itself: support [a, b] x query [a, b] gives a→b and b→a
            choices = [AuxChoice(s, q) for s, q in itertools.product(sides["support"], sides["query"])
                       if set(s) != set(q)]
        elif set(raw) == {"pairs"}:
            langs = _convert(raw["pairs"], tuple[str, ...], f"{path}.pairs")
            _no_repeats(f"{path}.pairs", list(langs))
            choices = [AuxChoice((a,), (b,)) for a, b in itertools.permutations(langs, 2)]
        else:
            raise ConfigError(f"{path}: got keys {short(sorted(map(str, raw)))}; expected 'product' "
                              "({support: [...], query: [...]}), 'pairs' ([languages]) or a list of choices")
    elif isinstance(raw, list):
        choices = [_convert(item, AuxChoice, f"{path}[{i}]") for i, item in enumerate(raw)]
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
    _no_repeats(path, choices, _aux_key, lambda c: c.label)
    return tuple(choices)


_AUX_KEYS = ("meta.support", "meta.query", "meta")  # swept only through grid.aux, which labels the rows


def _parse_grid(raw: Any) -> Grid:
    if raw is None:
        return Grid()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"grid: got {short(raw)}; expected a mapping of axes (aux, seed, meta.inner_lr, ...)")
    aux = _parse_aux(raw["aux"]) if "aux" in raw else ()
    axes = []
    for key, values in raw.items():
        if key == "aux":
            continue
        if key in _AUX_KEYS:
            raise ConfigError(f"grid.{key}: the support and query languages are swept with grid.aux, which "
                              "labels every row of the tables and heatmaps (a grid.meta.support axis would "
                              "mislabel them); write e.g. grid.aux: {product: {support: [ana], query: [bel, cor]}}")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{cut(str(key))}: got {short(values)}; expected a non-empty list of values")
        axes.append((str(key), tuple(values)))
    return Grid(aux=aux, axes=tuple(axes))


_SEARCHABLE = ("meta.", "metaxl.", "eval.few_shot.")  # stage-2 keys: every sample shares the stage-1 model


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
        combinations = math.prod(len({_canonical(v) for v in dist.choice}) for dist in search.space.values())
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
        points.setdefault(_canonical(point), point)
        if len(points) == search.num_samples:
            return list(points.values())
    raise ConfigError(f"search.num_samples: {search.num_samples} distinct points could not be drawn from search.space "
                      f"(4 significant digits) in {100 * search.num_samples} draws; widen the ranges or draw fewer")


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
        if key in _AUX_KEYS:
            raise ConfigError(f"search.space.{key}: the support and query languages are swept with grid.aux, which "
                              "labels every row of the tables and heatmaps; move them there")
        if not key.startswith(_SEARCHABLE):
            raise ConfigError(f"search.space.{key}: only stage-2 keys can be sampled ({', '.join(_SEARCHABLE)}"
                              "...), since every sample shares the stage-1 model; sweep other keys with grid")
        taken = []
        for value in dist.choice or dist.uniform or dist.loguniform:  # each bound is a value the trial must take
            try:
                taken.append(_get_path(set_path(sweep.trial, key, value, where="search.space."), key))
            except ConfigError as err:
                hint = "" if dist.choice else " (uniform and loguniform sample numbers; use choice for other keys)"
                raise ConfigError(f"{err}{hint}") from None
        if dist.choice:
            _no_repeats(f"search.space.{key}.choice", taken, _canonical)
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
        raise ConfigError(f"search.metric: got {short(search.metric)}; expected dev_avg or dev/<lang> — the objective "
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
            raise ConfigError(f"{where}search.metric: {short(metric)} is a dev split this trial trains on "
                              f"(meta.split: dev); choose a held-out language")
    _languages("search.languages", sweep.search.languages, known)
    if (_method(cfg.meta.algorithm).family == "episodes"  # (MetaXL's steps are epochs × batches: known later)
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
        raise ConfigError(f"name: got {short(sweep.name)}; expected letters, digits, '.', '_' or '-'")
    _positive("resources.cpu", sweep.resources.cpu)
    if sweep.resources.gpu < 0:
        raise ConfigError(f"resources.gpu: got {sweep.resources.gpu}; expected a number >= 0")
    if sweep.checkpoints.keep < 1:
        raise ConfigError(f"checkpoints.keep: got {sweep.checkpoints.keep}; expected at least 1 (a trial resumes "
                          "from its last checkpoint)")
    if sweep.max_failures < 0:
        raise ConfigError(f"max_failures: got {sweep.max_failures}; expected retries >= 0")
    _validate_axes(sweep)
    _validate_size(sweep)
    _validate_search(sweep, grid_cells(sweep, samples=False))
    if sweep.pair_search.enabled:  # the search's checks, and its objective: every target's dev score
        from xlsweep.pairsearch.config import check_pair_search

        try:
            sweep = check_pair_search(sweep)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    cells = expand_grid(sweep)  # validates every cell
    for cell, cfg in cells:
        _validate_objective(sweep, cfg, f"grid cell {cell}: " if cell else "")
    _distinct_x_maml_cells(cells)  # first: its message says why two X-MAML cells are one
    _no_repeated_trials(cells)
    return sweep


MAX_TRIALS = 10_000
"""The most trials a sweep may expand to (grid cells × random-search samples), counted before any is built:
validating that many costs a few seconds (the README gives the measurement); split a larger study."""


def _get_path(cfg: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        cfg = getattr(cfg, name)
    return cfg


def _canonical(value: Any) -> str:
    """A value as comparable text, after type normalisation (dict order and tuple/list do not matter)."""
    return json.dumps(to_dict(value), sort_keys=True, default=repr)


def _validate_axes(sweep: SweepConfig) -> None:
    """Each grid axis's values differ once read through the schema's type (``0.001`` equals ``1.0e-3``)."""
    for key, values in sweep.grid.axes:
        converted = [_get_path(set_path(sweep.trial, key, value, where="grid."), key) for value in values]
        _no_repeats(f"grid.{key}", converted, _canonical)


def _validate_size(sweep: SweepConfig) -> None:
    """At most :data:`MAX_TRIALS` trials, counted before any is built."""
    cells = math.prod([len(sweep.grid.aux) or 1, *(len(values) for _, values in sweep.grid.axes)])
    samples = sweep.search.num_samples if sweep.search.space and sweep.search.searcher == "random" else 1
    if cells * max(samples, 1) > MAX_TRIALS:
        detail = f"{cells:,} grid cells × {samples:,} search samples" if samples > 1 else f"{cells:,} grid cells"
        raise ConfigError(f"grid: {detail} make {cells * samples:,} trials; expected at most {MAX_TRIALS:,} per sweep "
                          "— shrink the grid or search.num_samples, or split the study into several sweeps")


def _no_repeated_trials(cells: list[tuple[dict[str, Any], TrialConfig]]) -> None:
    """No two cells resolve to the same trial config (Tune would run one of them and the sweep never ends).

    Cells share the base config and differ only at the paths they override, so the resolved values at
    those paths (``aux``: the support and query sets) identify a cell's config.
    """
    def resolved(name: str, cfg: TrialConfig) -> str:
        if name == "aux":
            return _canonical([sorted(cfg.meta.support), sorted(cfg.meta.query)])
        return _canonical(_get_path(cfg, name)) if name != SAMPLE_KEY else ""

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
        raw = read_yaml(p)
    except YamlError as err:
        raise ConfigError(f"{p}: {err}") from None
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
                raise ConfigError(f"grid.aux: no choice labelled {short(value)}; "
                                  f"have {[c.label for c in sweep.grid.aux]}")
            cfg = set_path(set_path(cfg, "meta.support", list(choice.support)), "meta.query", list(choice.query))
        else:
            cfg = set_path(cfg, name, value, where="grid.")
    cfg = _method(cfg.meta.algorithm).resolve(cfg, overrides)  # e.g. x-maml's own languages from an aux choice
    validate_trial(cfg, f"grid cell {dict(overrides)}: " if overrides else "")
    return cfg


def _distinct_x_maml_cells(cells: list[tuple[dict[str, Any], TrialConfig]]) -> None:
    """Two x-maml cells that resolve to one trial (e.g. aux ``a→b`` and ``b→a``) would run it twice."""
    seen: dict[str, dict[str, Any]] = {}
    for cell, cfg in cells:
        if not _method(cfg.meta.algorithm).same_language or "aux" not in cell:
            continue
        key = repr({k: v for k, v in cell.items() if k != "aux"} | {"languages": sorted(cfg.meta.support)})
        if key in seen:
            raise ConfigError(f"grid: the x-maml cells {seen[key]} and {cell} are the same X-MAML setting "
                              f"(on {'+'.join(cfg.meta.support)}): an x-maml cell meta-learns on its aux choice's "
                              "languages but data.source; give the aux axis choices whose language sets differ "
                              "(e.g. product: {support: [<source>], query: [...]}) or sweep X-MAML on its own")
        seen[key] = cell


SAMPLE_KEY = "sample"
"""The cell key holding the index of a random-search sample (see :func:`search_samples`)."""


def repeated_trials(cells: list[tuple[dict[str, Any], TrialConfig]]) -> list[str]:
    """A warning (one line, or none) for grid cells that repeat an earlier cell's trial: they differ only in keys
    their method does not read (``metaxl.rtn_lr`` for ``jt``: :func:`~xlsweep.methods.reads_key`) or, for a method
    without source languages (``target-only``), in the aux choice's support. Such a cell runs the same training
    again (the same seed: the same scores) and only costs compute; Tune's grid is a product of axes, so it
    cannot be left out of one sweep: the line says how many there are and why."""
    seen: set[str] = set()
    why: dict[str, set[str]] = {}
    repeats = 0
    for cell, cfg in cells:
        spec = _method(cfg.meta.algorithm)
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
