"""The one interface every benchmark offers: per-language, per-split ``datasets.Dataset``s.

The synthetic benchmark implements it today; the XNLI/MLQA/WikiAnn loaders
implement the same protocol, so nothing downstream knows which one it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import datasets

from xlsweep.data.synthetic import DEFAULT_FAMILY, SyntheticBenchmark

if TYPE_CHECKING:
    from xlsweep.config.schema import DataConfig

__all__ = ["Benchmark", "benchmark_languages", "load_benchmark"]


class Benchmark(Protocol):
    languages: tuple[str, ...]

    def load(self, language: str, split: str) -> datasets.Dataset: ...


def benchmark_languages(data: DataConfig) -> tuple[str, ...]:
    """The languages a data config offers, known without building any data."""
    if data.benchmark == "synthetic":
        return tuple(lang.code for lang in DEFAULT_FAMILY if lang.spoken)
    raise ValueError(f"data.benchmark: unknown benchmark {data.benchmark!r}; expected 'synthetic'")


def load_benchmark(data: DataConfig) -> Benchmark:
    if data.benchmark == "synthetic":
        s = data.synthetic
        return SyntheticBenchmark(
            seed=s.seed,
            train_size=s.train_size,
            dev_size=s.dev_size,
            test_size=s.test_size,
            n_topics=s.n_topics,
            words_per_pool=s.words_per_pool,
            purity=s.purity,
        )
    raise ValueError(f"data.benchmark: unknown benchmark {data.benchmark!r}; expected 'synthetic'")
