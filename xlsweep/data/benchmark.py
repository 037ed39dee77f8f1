"""The one interface every benchmark offers: per-language, per-split ``datasets.Dataset``s.

The synthetic benchmark (the embedded default) and :class:`~xlsweep.data.sources.RealBenchmark`
(XNLI, MLQA, WikiAnn, MARC presets or your own files and hub names) implement the
same protocol, so nothing downstream knows which one it reads. Rows follow the
task's canonical schema (:mod:`xlsweep.data.schema`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import datasets

from xlsweep.cache import file_digest
from xlsweep.config.convert import to_dict
from xlsweep.config.schema import DataConfig, SyntheticDataConfig
from xlsweep.data.families import resolve_family, spoken
from xlsweep.data.sources import PRESETS, RealBenchmark, parse_source, resolve_limit, resolve_source
from xlsweep.data.split_index import INDEX_KEY, IndexedBenchmark
from xlsweep.data.synthetic import SyntheticBenchmark

__all__ = ["Benchmark", "benchmark_languages", "benchmark_sources", "load_benchmark", "split_key",
           "synthetic_benchmark", "synthetic_key"]


class Benchmark(Protocol):
    languages: tuple[str, ...]

    def load(self, language: str, split: str) -> datasets.Dataset: ...

    def skipped_lines(self, language: str, split: str) -> list[str]: ...


def benchmark_sources(data: DataConfig) -> dict[str, str]:
    """Real data: the preset's sources overridden by the config's own (empty for synthetic data)."""
    if data.benchmark == "synthetic":
        return {}
    preset = dict(PRESETS[data.benchmark].sources) if data.benchmark in PRESETS else {}
    return {**preset, **data.sources}


def benchmark_languages(data: DataConfig) -> tuple[str, ...]:
    """The languages a data config offers, known without loading any data."""
    if data.benchmark == "synthetic":
        return spoken(resolve_family(data.synthetic))
    if data.languages:
        return data.languages
    if data.benchmark in PRESETS:
        return tuple(PRESETS[data.benchmark].languages)
    raise ValueError("data.languages: empty; a custom benchmark needs its list of languages")


def split_key(data: DataConfig, language: str, split: str, memo_dir: Path | None = None) -> dict[str, Any]:
    """What determines one language's split: part of the cache key of its features.

    A local file counts by its content (sha256, memoised in ``memo_dir``, see
    :func:`xlsweep.cache.file_digest`), so a file edited in place is featurised again. A hub
    source counts by its name, config and split only: a new revision of a hub dataset is not
    detected (nothing about it is known offline before loading it).
    """
    key = {"task": data.task, "language": language, "split": split,
           "limit": resolve_limit(data.limits, language, split), "mode": data.limit_mode, "seed": data.limit_seed}
    if data.benchmark == "synthetic":
        return {**key, "synthetic": synthetic_key(data.synthetic)}
    spec = resolve_source(benchmark_sources(data), language, split)
    key["source"] = spec
    try:
        source = parse_source(spec, language, split) if spec is not None else None
    except ValueError:  # malformed: loading the split says so
        source = None
    if source is not None and source.kind == "file" and source.path is not None and source.path.is_file():
        key["sha256"] = file_digest(source.path, memo_dir)
    if language in data.split_index and language != INDEX_KEY:  # read through the released index instead
        index, corpus = Path(data.split_index.get(INDEX_KEY, "")).expanduser(), Path(data.split_index[language])
        corpus_files = sorted(corpus.glob("*.txt")) if corpus.is_dir() else [corpus]
        key["split_index"] = {"index": file_digest(index, memo_dir) if index.is_file() else str(index),
                              "corpus": {p.name: file_digest(p, memo_dir) for p in corpus_files if p.is_file()}}
    return key


def synthetic_key(synthetic: SyntheticDataConfig) -> dict[str, Any]:
    """What determines the synthetic data (part of cache keys); the default family adds nothing to it."""
    key = to_dict(synthetic)
    if not synthetic.languages:
        key.pop("languages")
        key.pop("family_seed")
    return dict(key)


def synthetic_benchmark(synthetic: SyntheticDataConfig, task: str = "nli") -> SyntheticBenchmark:
    """The synthetic benchmark a ``data.synthetic`` section describes, its language family included."""
    s = synthetic
    return SyntheticBenchmark(task=task, seed=s.seed, train_size=s.train_size, dev_size=s.dev_size,
                              test_size=s.test_size, n_topics=s.n_topics, words_per_pool=s.words_per_pool,
                              purity=s.purity, family=resolve_family(s))


def load_benchmark(data: DataConfig) -> Benchmark:
    if data.benchmark == "synthetic":
        return synthetic_benchmark(data.synthetic, data.task)
    # limits are applied by the caller, the same way for every benchmark (xlsweep.prepare)
    real = RealBenchmark(task=data.task, languages=benchmark_languages(data), sources=benchmark_sources(data))
    return IndexedBenchmark(real, data.split_index) if data.split_index else real
