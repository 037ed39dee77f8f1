"""One trial's config checked as a whole: what types cannot say, before any work starts.

The generic ranges, the data section (benchmark, synthetic settings, sources, QA answer normalisation),
the tiny encoder's shape and the languages are checked here; each method's own rules (its language
sets, episode sizes, RTN settings) are its :attr:`~xlsweep.methods.base.Method.check`. Every problem
is one :class:`~xlsweep.config.errors.ConfigError` naming the key, the value and what is expected.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Mapping
from typing import Any

from xlsweep.config import ConfigError, DataConfig, TrialConfig
from xlsweep.config.convert import convert
from xlsweep.config.errors import fraction, positive
from xlsweep.config.yaml_reader import short
from xlsweep.data.benchmark import benchmark_languages, benchmark_sources, load_benchmark
from xlsweep.data.families import resolve_family
from xlsweep.data.sources import PRESETS, parse_source, resolve_source
from xlsweep.data.synthetic import SPLITS
from xlsweep.methods import Method, method, method_names, needed_splits

__all__ = ["known_method", "languages", "synthetic_data", "validate_trial"]


def validate_trial(cfg: TrialConfig, where: str = "") -> None:
    """Semantic checks that types cannot express; ``where`` prefixes the message (e.g. a grid cell)."""
    try:
        _validate_trial(cfg)
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None


def known_method(name: str) -> Method:
    """The method ``meta.algorithm`` names (:mod:`xlsweep.methods`); :class:`ConfigError` for an unknown name."""
    if name not in method_names():
        raise ConfigError(f"meta.algorithm: got {short(name)}; expected one of "
                          f"{', '.join(map(repr, method_names()))} (the methods of xlsweep.methods)")
    return method(name)


def languages(path: str, codes: tuple[str, ...], known: tuple[str, ...]) -> None:
    """Refuse a language ``known`` lacks, or one given twice."""
    for code in codes:
        if code not in known:
            raise ConfigError(f"{path}: unknown language {short(code)}; this benchmark has {', '.join(known)}")
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{path}: got {list(codes)}; a language may appear only once")


def _validate_trial(cfg: TrialConfig) -> None:
    meta = cfg.meta
    spec = known_method(meta.algorithm)
    for name in ("inner_lr", "meta_lr", "steps", "meta_batch", "support_size", "query_size", "inner_steps",
                 "checkpoint_every"):
        positive(f"meta.{name}", getattr(meta, name))
    for pattern in meta.adapt:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"meta.adapt: {short(pattern)} is not a regular expression ({err})") from None
    fraction("meta.warmup_ratio", meta.warmup_ratio)
    fraction("stage1.warmup_ratio", cfg.stage1.warmup_ratio)
    if meta.weight_decay < 0 or cfg.stage1.weight_decay < 0:
        raise ConfigError("weight_decay: expected a number >= 0")
    positive("stage1.lr", cfg.stage1.lr)
    for name in ("epochs", "batch_size"):
        positive(f"stage1.{name}", getattr(cfg.stage1, name))
    positive("eval.batch_size", cfg.eval.batch_size)
    fs = cfg.eval.few_shot
    for name in ("epochs", "lr", "batch_size"):
        positive(f"eval.few_shot.{name}", getattr(fs, name))
    fraction("eval.few_shot.warmup_ratio", fs.warmup_ratio)
    _validate_data(cfg.data)
    _validate_tiny(cfg)
    known = benchmark_languages(cfg.data)
    _answer_languages(cfg.data, known)
    languages("data.source", (cfg.data.source,), known)
    languages("eval.targets", cfg.eval.targets, known)
    languages("meta.support", meta.support, known)
    languages("meta.query", meta.query, known)
    spec.check(cfg)
    _data_sources(cfg)


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
    from xlsweep.tasks.mlqa_metrics import OFFICIAL_LANGUAGES  # here: the tasks package loads torch

    languages("data.qa_whitespace_languages", declared, known)
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
        positive(f"model.tiny.{name}", getattr(t, name))
    if t.hidden_size % t.num_heads:
        raise ConfigError(f"model.tiny.num_heads: got {t.num_heads}; expected a divisor of model.tiny.hidden_size "
                          f"({t.hidden_size}), e.g. {', '.join(str(h) for h in (2, 4, 8) if t.hidden_size % h == 0)}")
    if t.mlm_steps < 0:
        raise ConfigError(f"model.tiny.mlm_steps: got {t.mlm_steps}; expected a number of steps >= 0")


def _validate_data(data: DataConfig) -> None:
    positive("data.max_length", data.max_length)
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
        positive(f"data.synthetic.{name}", getattr(syn, name))
    if syn.n_topics < 3 or syn.n_topics % 3:
        raise ConfigError(f"data.synthetic.n_topics: got {syn.n_topics}; expected a positive multiple of 3")
    if not 0 < syn.purity <= 1:
        raise ConfigError(f"data.synthetic.purity: got {syn.purity}; expected a number in (0, 1]")
    try:
        resolve_family(syn)
    except ValueError as err:
        raise ConfigError(f"data.synthetic.languages{'' if str(err).startswith('[') else ': '}{err}") from None
    try:
        problem = _benchmark_refuses(data.task, syn)  # once per distinct setting: grids repeat them
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
    data = convert({"task": task, "synthetic": dict(synthetic)}, DataConfig, "data")
    _validate_synthetic(data)
    return typing.cast(DataConfig, data)


def _source_keys(path: str, mapping: dict[str, Any]) -> None:
    for key in mapping:
        lang, _, split = key.partition(".")
        if not lang or (split and split not in SPLITS):
            raise ConfigError(f"{path}: bad key {short(key)}; expected '<lang>.<split>', '<lang>', '*.<split>' or '*' "
                              f"with split one of {', '.join(SPLITS)}")


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
