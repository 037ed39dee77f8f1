"""Episodes for X-MAML and XLA-MAML: which rows of which language form the support and query sets.

An episode pairs a support batch (K rows of a support language) with a query
batch (N rows of a query language). The sampler draws the language pair
uniformly from ``pairs``:

* XLA-MAML: ``pairs = S × Q``, support and query in different languages;
* X-MAML: ``pairs = [(l, l) for l in A]``, support and query disjoint rows of one
  language (in cover mode the rows of a pass are cut into K + N blocks; the last
  block of a pass absorbs the remainder, so its query set is larger).

``mode="random"`` draws fresh rows for every episode; ``mode="cover"`` walks
through pre-built batches that cover every support row exactly once per pass
(a new permutation each pass). ``parallel=True`` makes the query the translations
of the support examples (rows must be aligned by ``example_id``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from xlsweep.data.features import Features, num_rows

__all__ = ["Episode", "EpisodeSampler", "language_pairs"]


def language_pairs(algorithm: str, support: Sequence[str], query: Sequence[str]) -> list[tuple[str, str]]:
    """The (support, query) language pairs episodes are drawn from."""
    if algorithm == "x-maml":
        return [(lang, lang) for lang in support]
    return [(s, q) for s in support for q in query if s != q]


@dataclass(frozen=True)
class Episode:
    support_language: str
    query_language: str
    support_rows: Tensor  # (K,)
    query_rows: Tensor  # (N,)


class EpisodeSampler:
    """Draws episodes; deterministic for a seed, and resumable through ``state_dict``."""

    def __init__(
        self,
        data: Mapping[str, Features],
        pairs: Sequence[tuple[str, str]],
        *,
        support_size: int,
        query_size: int,
        mode: Literal["random", "cover"] = "random",
        parallel: bool = False,
        seed: int = 0,
    ) -> None:
        if not pairs:
            raise ValueError("no (support, query) language pairs: expected at least one")
        for s, q in pairs:
            for lang in (s, q):
                if lang not in data:
                    raise ValueError(f"no data for language {lang!r}; have {sorted(data)}")
            if parallel and s == q:
                raise ValueError(f"parallel episodes need two languages, got the pair ({s!r}, {q!r})")
            if parallel and not torch.equal(data[s]["example_id"], data[q]["example_id"]):
                raise ValueError(f"parallel episodes need rows aligned by example_id; {s!r} and {q!r} are not")
            need = support_size + query_size if s == q else max(support_size, query_size if parallel else 0)
            if need > num_rows(data[s]):
                raise ValueError(f"an episode needs {need} rows of {s!r}, which has {num_rows(data[s])}")
            if s != q and not parallel and query_size > num_rows(data[q]):  # the query rows come from q
                raise ValueError(f"an episode needs {query_size} rows of {q!r}, which has {num_rows(data[q])}")
        if mode not in ("random", "cover"):
            raise ValueError(f"sampling mode {mode!r}; expected 'random' or 'cover'")
        self.pairs = list(pairs)
        self.sizes = {lang: num_rows(f) for lang, f in data.items()}
        self.support_size, self.query_size = support_size, query_size
        self.mode, self.parallel = mode, parallel
        self._rng = random.Random(seed)
        self._queues: dict[str, list[list[int]]] = {}  # cover mode: remaining batches per stream

    # ------------------------------------------------------------------ drawing
    def sample(self) -> Episode:
        s, q = self.pairs[self._rng.randrange(len(self.pairs))]
        k, n = self.support_size, self.query_size
        if s == q:  # one language: support and query are disjoint rows
            rows = self._draw(f"{s}|{s}", s, k + n, whole=True)
            return Episode(s, q, torch.tensor(rows[:k]), torch.tensor(rows[k:]))
        if self.parallel:  # translations: the query rows are (a prefix of) the support rows
            rows = self._draw(f"{s}>{q}", s, max(k, n))
            return Episode(s, q, torch.tensor(rows[:k]), torch.tensor(rows[:n]))
        support = self._draw(f"{s}>", s, k)
        query = self._draw(f">{q}", q, n)
        return Episode(s, q, torch.tensor(support), torch.tensor(query))

    def _draw(self, stream: str, lang: str, size: int, *, whole: bool = False) -> list[int]:
        """``size`` rows of ``lang``; in cover mode the next batch of ``stream``'s current pass.

        With ``whole``, a pass's short remainder is folded into its last batch, so no
        batch is smaller than ``size`` (x-maml splits it into support and query).
        """
        if self.mode == "random":
            return self._rng.sample(range(self.sizes[lang]), size)
        queue = self._queues.setdefault(stream, [])
        if not queue:  # a new pass: every row once, in batches of ``size`` (the last one may be short)
            order = list(range(self.sizes[lang]))
            self._rng.shuffle(order)
            queue.extend(order[i : i + size] for i in range(0, len(order), size))
            if whole and len(queue) > 1 and len(queue[-1]) < size:
                queue[-2].extend(queue.pop())  # x-maml needs k + n rows; fold the remainder in
        return queue.pop(0)

    # ------------------------------------------------------------------ resuming
    def state_dict(self) -> dict[str, Any]:
        return {"rng": self._rng.getstate(), "queues": {k: [list(b) for b in v] for k, v in self._queues.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        rng_state = state["rng"]
        self._rng.setstate((rng_state[0], tuple(rng_state[1]), rng_state[2]))
        self._queues = {k: [list(b) for b in v] for k, v in state["queues"].items()}
