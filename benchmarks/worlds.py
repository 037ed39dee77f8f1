"""A recorded pair grid ("world"): every cell's dev scores at every checkpoint and its final test deltas.

The replay benchmark (``scripts/bench_pair_search.py``) runs search strategies on such
tables instead of training: a strategy that "runs" pair ``p`` with seed ``s`` to meta-step
``r`` reads the dev scores the real trial reported at checkpoint ``r``, and is charged ``r``
meta-steps. Worlds are recorded by real sweeps (``scripts/record_grids.py``) and stored as
small JSON files under ``benchmarks/``::

    {"format": "xlsweep-pair-grid/1", "name": ..., "metric": "acc",
     "languages": [targets], "pairs": [{"support": [...], "query": [...]}], "seeds": [0, 1],
     "steps": 40, "checkpoints": [5, 10, ...],
     "relatedness": {a: {b: share of cognates}},          # the planted ground truth (synthetic worlds)
     "baseline": {lang: stage-1 test score},
     "dev": {label: {seed: [[score per language] per checkpoint]}},
     "test_delta": {label: {seed: [delta per language]}},
     "recording": {...}}                                   # how and how long it was recorded

Pure: no Ray, no MLflow, no torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xlsweep.pairsearch.pair import Pair

__all__ = ["FORMAT", "Pair", "World", "load_world", "save_world"]

FORMAT = "xlsweep-pair-grid/1"


@dataclass(frozen=True)
class World:
    """One recorded grid, as arrays.

    Attributes:
        dev: (pairs, seeds, checkpoints, languages) dev scores (NaN: not recorded).
        test_delta: (pairs, seeds, languages) final test score minus the stage-1 model's.
    """

    name: str
    languages: tuple[str, ...]
    pairs: tuple[Pair, ...]
    seeds: tuple[int, ...]
    steps: int
    checkpoints: tuple[int, ...]
    dev: np.ndarray
    test_delta: np.ndarray
    relatedness: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    baseline: Mapping[str, float] = field(default_factory=dict)
    metric: str = "acc"
    recording: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.pairs), len(self.seeds), len(self.checkpoints), len(self.languages))
        if self.dev.shape != shape:
            raise ValueError(f"{self.name}: dev has shape {self.dev.shape}; expected {shape}")
        if self.test_delta.shape != (shape[0], shape[1], shape[3]):
            raise ValueError(f"{self.name}: test_delta has shape {self.test_delta.shape}; expected "
                             f"{(shape[0], shape[1], shape[3])}")
        if not self.checkpoints or self.checkpoints[-1] != self.steps:
            raise ValueError(f"{self.name}: checkpoints {list(self.checkpoints)} must end at steps ({self.steps})")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.pairs)

    @property
    def source(self) -> str | None:
        """The stage-1 source language of the recording (``recording.config.data.source``), if it says."""
        source = self.recording.get("config", {}).get("data", {}).get("source")
        return str(source) if source in self.languages else None

    @property
    def transfer_targets(self) -> tuple[str, ...]:
        """The languages a replay scores by default: every one but the source, which stage 1 trained to its
        ceiling (the recorded worlds' ``ana``: ~100 %, every pair within ±0.2 points, its best pair test noise)."""
        return tuple(lang for lang in self.languages if lang != self.source)

    def columns(self, targets: Sequence[str] | None = None) -> list[int]:
        """Indices into :attr:`languages` of ``targets`` (default: :attr:`transfer_targets`)."""
        return [self.languages.index(t) for t in targets or self.transfer_targets]

    @property
    def grid_steps(self) -> int:
        """Meta-steps of the full grid: every pair and seed to the full length."""
        return len(self.pairs) * len(self.seeds) * self.steps

    def checkpoint_index(self, step: int) -> int:
        """Index of the checkpoint at meta-step ``step`` (it must be one)."""
        try:
            return self.checkpoints.index(step)
        except ValueError:
            raise ValueError(f"{self.name}: no checkpoint at meta-step {step}; have {list(self.checkpoints)}") from None


def save_world(world: World, path: str | Path) -> Path:
    """Write ``world`` as compact JSON (scores rounded to 4 decimals)."""

    def r(x: Any) -> Any:
        return np.round(np.asarray(x, dtype=np.float64), 4).tolist()

    data = {
        "format": FORMAT, "name": world.name, "metric": world.metric, "languages": list(world.languages),
        "pairs": [{"support": list(p.support), "query": list(p.query)} for p in world.pairs],
        "seeds": list(world.seeds), "steps": world.steps, "checkpoints": list(world.checkpoints),
        "relatedness": {a: {b: round(v, 4) for b, v in row.items()} for a, row in world.relatedness.items()},
        "baseline": {k: round(v, 4) for k, v in world.baseline.items()},
        "dev": {p.label: {str(s): r(world.dev[i, j]) for j, s in enumerate(world.seeds)}
                for i, p in enumerate(world.pairs)},
        "test_delta": {p.label: {str(s): r(world.test_delta[i, j]) for j, s in enumerate(world.seeds)}
                       for i, p in enumerate(world.pairs)},
        "recording": dict(world.recording),
    }
    out = Path(path)
    out.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n")
    return out


def load_world(path: str | Path) -> World:
    """Read a world written by :func:`save_world`.

    Raises:
        ValueError: If the file is not a recorded pair grid, or its tables do not fit its axes.
    """
    p = Path(path)
    data = json.loads(p.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{p}: format {data.get('format')!r}; expected {FORMAT!r} (a file of scripts/record_grids.py)")
    pairs = tuple(Pair(tuple(x["support"]), tuple(x["query"])) for x in data["pairs"])
    seeds = tuple(int(s) for s in data["seeds"])

    def table(key: str) -> np.ndarray:
        try:
            return np.asarray([[data[key][pair.label][str(s)] for s in seeds] for pair in pairs], dtype=np.float64)
        except KeyError as err:
            raise ValueError(f"{p}: {key} lacks {err}; expected every pair and seed") from None

    return World(name=data["name"], languages=tuple(data["languages"]), pairs=pairs, seeds=seeds,
                 steps=int(data["steps"]), checkpoints=tuple(int(c) for c in data["checkpoints"]),
                 dev=table("dev"), test_delta=table("test_delta"), relatedness=data.get("relatedness", {}),
                 baseline=data.get("baseline", {}), metric=data.get("metric", "acc"),
                 recording=data.get("recording", {}))

