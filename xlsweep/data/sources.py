"""Where each language's split of real data comes from: presets, source specs and :class:`RealBenchmark`.

A *source spec* is one string, resolved per (language, split):

* a local path template, e.g. ``data/ner/{lang}/{split}`` or ``data/XNLI-1.0/xnli.dev.tsv``, read by
  :func:`xlsweep.data.files.read_file` in the task's released format (relative paths are relative to the
  working directory);
* ``hub:NAME[:CONFIG][@SPLIT]``, e.g. ``hub:facebook/xnli:{lang}@validation``, loaded by
  :func:`xlsweep.data.hub.load_hub`. Without ``@SPLIT`` the hub split is ``train``, ``validation`` or
  ``test`` for xlsweep's ``train``, ``dev`` and ``test``.

``{lang}`` and ``{split}`` (xlsweep's split name) may appear anywhere in a spec, hub names included
(``hub:SetFit/amazon_reviews_multi_{lang}``). Specs and limits are looked up in a mapping keyed by
``<lang>.<split>``, ``<lang>``, ``*.<split>`` or ``*``; the most specific key wins.

The presets use the least specific keys that describe them, so that a config's own ``"*"`` (local copies
of every split) replaces the whole preset, and ``en.train`` replaces only the English training data.

Hub datasets chosen (all stored as Parquet/JSON on the hub, loadable by ``datasets`` >= 4, which no
longer runs loading scripts):

=========  ======================================================================================
xnli       ``facebook/xnli`` (one config per language; 392,702 machine-translated train pairs,
           2,490 validation, 5,010 test), ``nyu-mll/multi_nli`` for English training (MNLI).
mlqa       ``google/xtreme`` configs ``MLQA.<lang>.<lang>`` (validation, test). ``facebook/mlqa`` is
           still a loading script only, which ``datasets`` >= 4 cannot run. ``rajpurkar/squad``
           (SQuAD 1.1) for English training; MLQA has no training split.
wikiann    ``unimelb-nlp/wikiann`` (Rahimi et al.'s splits; 100/100/100 sentences for MetaXL's
           low-resource languages).
marc       ``SetFit/amazon_reviews_multi_<lang>``: the Multilingual Amazon Reviews Corpus (200k/5k/5k
           reviews per language) with ``label`` = stars - 1. The original ``amazon_reviews_multi``
           was withdrawn by its providers and cannot be downloaded any more.
=========  ======================================================================================
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import datasets
import numpy as np

from xlsweep.data import files, hub
from xlsweep.data.schema import DataError, check_columns, task_features
from xlsweep.data.synthetic import SPLITS

__all__ = [
    "HUB_SPLITS",
    "PRESETS",
    "Preset",
    "RealBenchmark",
    "Source",
    "missing_files",
    "parse_source",
    "resolve_limit",
    "resolve_source",
    "SUBSET_MODES",
    "subset_indices",
    "take",
]

HUB_PREFIX = "hub:"
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}  # a hub spec without @SPLIT
_PLACEHOLDERS = ("lang", "split")


@dataclass(frozen=True)
class Preset:
    """A benchmark of real data: its task, its languages and the source spec of each language's splits."""

    task: str
    languages: tuple[str, ...]
    sources: Mapping[str, str]


PRESETS: dict[str, Preset] = {
    "xnli": Preset(
        task="nli",
        languages=("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
        sources={"*": "hub:facebook/xnli:{lang}", "en.train": "hub:nyu-mll/multi_nli@train"},
    ),
    "mlqa": Preset(
        task="qa",
        languages=("en", "ar", "de", "es", "hi", "vi", "zh"),
        sources={"*.dev": "hub:google/xtreme:MLQA.{lang}.{lang}@validation",
                 "*.test": "hub:google/xtreme:MLQA.{lang}.{lang}@test",
                 "en.train": "hub:rajpurkar/squad@train"},
    ),
    "wikiann": Preset(
        task="ner",
        languages=("en", "ar", "de", "es", "fr", "hi", "ja", "ru", "zh",  # high-resource
                   "qu", "cdo", "ilo", "xmf", "mi", "mhr", "tk", "gn"),  # MetaXL's low-resource targets
        sources={"*": "hub:unimelb-nlp/wikiann:{lang}"},
    ),
    "marc": Preset(
        task="sentiment",
        languages=("en", "de", "es", "fr", "ja", "zh"),
        sources={"*": "hub:SetFit/amazon_reviews_multi_{lang}"},
    ),
}


@dataclass(frozen=True)
class Source:
    """One resolved source: a local file, or a hub dataset (name, config, split)."""

    kind: Literal["file", "hub"]
    path: Path | None = None
    name: str | None = None
    config: str | None = None
    hub_split: str | None = None

    def describe(self) -> str:
        """The source as a user wrote it, placeholders filled: a path or ``hub:NAME[:CONFIG]@SPLIT``."""
        if self.kind == "file":
            return str(self.path)
        config = f":{self.config}" if self.config else ""
        return f"{HUB_PREFIX}{self.name}{config}@{self.hub_split}"


def _fill(template: str, language: str, split: str, what: str) -> str:
    """``template`` with ``{lang}`` and ``{split}`` filled; any other placeholder is an error."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ValueError(f"{what} {template!r}: {err} (write a literal brace as '{{{{' or '}}}}')") from None
    for name, spec, conv in fields:
        if name not in _PLACEHOLDERS or spec or conv:
            raise ValueError(f"{what} {template!r}: unknown placeholder {{{name}}}; "
                             "the placeholders are {lang} and {split}")
    return template.format(lang=language, split=split)


def parse_source(spec: str, language: str, split: str) -> Source:
    """The :class:`Source` that ``spec`` names for ``language``'s ``split``; ``ValueError`` if malformed."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if not spec.strip():
        raise ValueError("empty source; expected a path template or 'hub:NAME[:CONFIG][@SPLIT]'")
    if not spec.startswith(HUB_PREFIX):
        return Source(kind="file", path=Path(_fill(spec, language, split, "path")).expanduser())
    body = spec[len(HUB_PREFIX):]
    if body.count("@") > 1:
        raise ValueError(f"hub source {spec!r}: more than one '@'; expected 'hub:NAME[:CONFIG][@SPLIT]'")
    body, at, hub_split = body.partition("@")
    if at and not hub_split:
        raise ValueError(f"hub source {spec!r}: empty split after '@'; expected e.g. '@validation' (or no '@')")
    if body.count(":") > 1:
        raise ValueError(f"hub source {spec!r}: more than one ':' after 'hub:'; expected 'hub:NAME[:CONFIG][@SPLIT]'")
    name, colon, config = body.partition(":")
    if not name:
        raise ValueError(f"hub source {spec!r}: empty dataset name; expected e.g. 'hub:facebook/xnli:{{lang}}'")
    if colon and not config:
        raise ValueError(f"hub source {spec!r}: empty config after ':'; expected e.g. ':{{lang}}' (or no ':')")
    return Source(
        kind="hub",
        name=_fill(name, language, split, f"hub source {spec!r}: name"),
        config=_fill(config, language, split, f"hub source {spec!r}: config") if config else None,
        hub_split=_fill(hub_split, language, split, f"hub source {spec!r}: split") if at else HUB_SPLITS[split],
    )


def _keys(language: str, split: str) -> tuple[str, ...]:
    """The keys that may configure ``language``'s ``split``, most specific first."""
    return (f"{language}.{split}", language, f"*.{split}", "*")


def resolve_source(sources: Mapping[str, str], language: str, split: str) -> str | None:
    """The spec of the most specific key for (``language``, ``split``), or ``None`` when no key matches."""
    return next((sources[key] for key in _keys(language, split) if key in sources), None)


def resolve_limit(limits: Mapping[str, int], language: str, split: str) -> int:
    """The example limit of the most specific key for (``language``, ``split``); 0 (no limit) when none."""
    return next((limits[key] for key in _keys(language, split) if key in limits), 0)


SUBSET_MODES = ("first", "seeded", "numpy")
"""How ``n`` of a split's rows are chosen (:func:`subset_indices`)."""


def subset_indices(total: int, n: int, *, mode: str = "first", seed: int = 0) -> list[int]:
    """The row numbers that keep ``n`` of ``total`` rows; all of them (in order) when ``n <= 0`` or ``n >= total``.

    * ``first``: rows ``0 .. n-1``.
    * ``seeded``: ``sorted(random.Random(seed).sample(range(total), n))``, in the data's order.
    * ``numpy``: exactly what MetaXL's code selects (``mtrain.py`` ``read_data``: ``np.random.seed(seed)``,
      then ``np.random.choice(np.arange(0, N), train_size, replace=False)``), in the order drawn, as there.
    """
    if mode not in SUBSET_MODES:
        raise ValueError(f"unknown subset mode {mode!r}; expected one of {', '.join(SUBSET_MODES)}")
    if n <= 0 or n >= total:
        return list(range(total))
    if mode == "first":
        return list(range(n))
    if mode == "seeded":
        return sorted(random.Random(seed).sample(range(total), n))
    # np.random.seed(s) reseeds the legacy global RandomState: a fresh RandomState(s) draws the same numbers
    return [int(i) for i in np.random.RandomState(seed).choice(np.arange(0, total), n, replace=False)]


def take(ds: datasets.Dataset, n: int, *, mode: str = "first", seed: int = 0) -> datasets.Dataset:
    """``n`` rows of ``ds`` chosen as :func:`subset_indices` says; ``n <= 0`` or ``n >= len(ds)``: ``ds`` itself."""
    if n <= 0 or n >= len(ds):
        subset_indices(len(ds), n, mode=mode, seed=seed)  # an unknown mode is an error either way
        return ds
    return ds.select(subset_indices(len(ds), n, mode=mode, seed=seed))


class RealBenchmark:
    """Real data of one task: per-language splits from local files or the hub, cached once loaded."""

    def __init__(self, task: str, languages: Iterable[str], sources: Mapping[str, str]) -> None:
        task_features(task)  # an unknown task fails here, not at the first load
        self.task = task
        self.languages = tuple(languages)
        self.sources = dict(sources)
        self._cache: dict[tuple[str, str], datasets.Dataset] = {}
        self._skipped: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}

    def source(self, language: str, split: str) -> Source:
        """Where ``language``'s ``split`` comes from; ``DataError`` if it is unknown or not configured."""
        if language not in self.languages:
            raise DataError(f"unknown language {language!r}; this {self.task} benchmark has "
                            f"{', '.join(self.languages)}")
        if split not in SPLITS:
            raise DataError(f"{language}: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        spec = resolve_source(self.sources, language, split)
        if spec is None:
            keys = ", ".join(repr(k) for k in _keys(language, split))
            raise DataError(f"{language}.{split}: no source configured; set one of the data.sources keys {keys}")
        try:
            return parse_source(spec, language, split)
        except ValueError as err:
            raise DataError(f"{language}.{split}: {err}") from None

    def load(self, language: str, split: str) -> datasets.Dataset:
        """``language``'s ``split`` in the task's canonical schema (see :mod:`xlsweep.data.schema`)."""
        key = (language, split)
        if key not in self._cache:
            source = self.source(language, split)
            skipped: dict[str, int] = {}
            if source.kind == "file":
                assert source.path is not None
                ds = files.read_file(source.path, self.task, language, split=split, skipped=skipped)
            else:
                assert source.name is not None and source.hub_split is not None
                ds = hub.load_hub(source.name, source.config, source.hub_split, self.task, language, skipped=skipped)
            check_columns(ds, self.task, f"{source.describe()} ({language}.{split})")
            self._cache[key] = ds
            if skipped:
                self._skipped[key] = (source.describe(), skipped)
        return self._cache[key]

    def skipped_lines(self, language: str, split: str) -> list[str]:
        """What loading ``language``'s ``split`` skipped by its format's rule: one line naming the source, the rows
        kept and each reason's count; empty when nothing was skipped (or the split is not loaded yet)."""
        key = (language, split)
        if key not in self._skipped:
            return []
        where, counts = self._skipped[key]
        kept, total = len(self._cache[key]), sum(counts.values())
        reasons = "; ".join(f"{n} {reason}" if len(counts) > 1 else reason for reason, n in counts.items())
        return [f"{language}.{split}: {where}: {kept} row{'' if kept == 1 else 's'} kept, {total} skipped: {reasons}"]


def missing_files(sources: Mapping[str, str], needed: Iterable[tuple[str, str, str]]) -> list[str]:
    """One problem per local file that ``needed`` (language, split, why) reads and that does not exist.

    Hub sources are not checked (that needs the network); unconfigured or malformed sources are left to
    config validation. Splits that share a file (XNLI's one TSV for all languages) share one problem.
    """
    readers: dict[Path, list[tuple[str, str]]] = {}
    for language, split, why in needed:
        spec = resolve_source(sources, language, split)
        if spec is None:
            continue
        try:
            source = parse_source(spec, language, split)
        except ValueError:
            continue
        if source.kind == "file" and source.path is not None and not source.path.is_file():
            readers.setdefault(source.path, []).append((f"{language}.{split}", why))
    problems = []
    for path, users in readers.items():
        splits = ", ".join(dict.fromkeys(s for s, _ in users))
        whys = "; ".join(dict.fromkeys(w for _, w in users))
        state = "a directory, expected a file" if path.is_dir() else "no such file"
        problems.append(f"{splits} ({whys}): {path}: {state}")
    return problems
