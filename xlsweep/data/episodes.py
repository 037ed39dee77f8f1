"""Episodes for X-MAML and XLA-MAML: which rows of which languages form the support and query sets.

An episode pairs a support batch (K rows) with a query batch (N rows). The sampler
draws a (support languages, query languages) pair uniformly from ``pairs`` and takes
the support rows from the *union* of the pair's support languages' data, the query
rows from the union of its query languages' (a batch may mix languages). Which pairs
:func:`language_pairs` builds is ``meta.episode_languages``:

* ``"one"`` (xlsweep's default): one language per set. XLA-MAML: ``pairs = S × Q`` (one
  support and one query language per episode, different); X-MAML: ``[(l, l) for l in A]``.
* ``"union"`` (the XLA-MAML paper, Algorithm 1: "sample S = {(x_k, y_k)} ⊂ ⋃_{l ∈ {l_i}_S} D_l,
  Q = {(x_n, y_n)} ⊂ ⋃_{l ∈ {l_i}_Q} D_l"; §3.1, step 2): the one pair ``(S, Q)``, so each
  batch is drawn from the pooled rows of all its languages. X-MAML: ``(A, A)``.

When a pair's support and query sets are the same (X-MAML), support and query are
disjoint rows of their pooled data (in cover mode the rows of a pass are cut into
K + N blocks; the last block of a pass absorbs the remainder, so its query set is
larger).

``mode="random"`` draws fresh rows for every episode; ``mode="cover"`` walks through
pre-built batches that cover every pooled support row exactly once per pass (a new
permutation each pass). ``parallel=True`` makes the query the translations of the
support examples (rows must be aligned by ``example_id``): the same rows in a query
language, drawn per row when the query set has several.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from xlsweep.data.features import Features, batch_of, num_rows

__all__ = ["Episode", "EpisodeSampler", "episode_batch", "language_pairs"]

Languages = tuple[str, ...]
Part = tuple[str, Tensor]  # (language, its rows (k_l,)) in a batch


def language_pairs(support: Sequence[str], query: Sequence[str], languages: Literal["one", "union"] = "one", *,
                   same_language: bool = False) -> list[tuple[Any, Any]]:
    """The (support, query) pairs episodes are drawn from: single languages (``one``) or language sets (``union``).

    ``same_language`` (X-MAML, :attr:`xlsweep.methods.Method.same_language`): each support language is its own
    query language and ``query`` is not read; otherwise every support language with every other query language.
    """
    if languages == "union":
        own = tuple(support)
        return [(own, own)] if same_language else [(own, tuple(query))]
    if languages != "one":
        raise ValueError(f"episode languages {languages!r}; expected 'one' or 'union'")
    if same_language:
        return [(lang, lang) for lang in support]
    return [(s, q) for s in support for q in query if s != q]


@dataclass(frozen=True)
class Episode:
    """Support and query rows, grouped by language in the order the languages first occur."""

    support: tuple[Part, ...]
    query: tuple[Part, ...]

    @property
    def support_language(self) -> str:
        """The support language of a one-language episode ("a+b" lists a mixed batch's languages)."""
        return "+".join(lang for lang, _ in self.support)

    @property
    def query_language(self) -> str:
        return "+".join(lang for lang, _ in self.query)

    @property
    def support_rows(self) -> Tensor:
        """The support rows, every language's in turn (meaningful alone for a one-language episode)."""
        return torch.cat([rows for _, rows in self.support])

    @property
    def query_rows(self) -> Tensor:
        return torch.cat([rows for _, rows in self.query])


def episode_batch(data: Mapping[str, Features], parts: Sequence[Part], device: torch.device | str = "cpu",
                  ) -> dict[str, Tensor]:
    """The model inputs of a batch whose rows come from one or several languages (concatenated in order)."""
    if len(parts) == 1:
        lang, rows = parts[0]
        return batch_of(data[lang], rows, device)
    keys = list(data[parts[0][0]])
    merged = {}
    for key in keys:
        pieces = [data[lang][key][rows] for lang, rows in parts]
        if any(p.shape[1:] != pieces[0].shape[1:] for p in pieces):
            raise ValueError(f"cannot mix {', '.join(lang for lang, _ in parts)} in one batch: their {key!r} "
                             f"features have shapes {[tuple(p.shape[1:]) for p in pieces]} per row")
        merged[key] = torch.cat(pieces)
    return batch_of(merged, torch.arange(sum(len(rows) for _, rows in parts)), device)


def _set(languages: str | Sequence[str]) -> Languages:
    return (languages,) if isinstance(languages, str) else tuple(languages)


def _label(languages: Languages) -> str:
    return "+".join(languages)


class EpisodeSampler:
    """Draws episodes; deterministic for a seed, and resumable through ``state_dict``."""

    def __init__(
        self,
        data: Mapping[str, Features],
        pairs: Sequence[tuple[str | Sequence[str], str | Sequence[str]]],
        *,
        support_size: int,
        query_size: int,
        mode: Literal["random", "cover"] = "random",
        parallel: bool = False,
        seed: int = 0,
    ) -> None:
        if not pairs:
            raise ValueError("no (support, query) language pairs: expected at least one")
        self.pairs = [(_set(s), _set(q)) for s, q in pairs]
        for s, q in self.pairs:
            self._check_pair(data, s, q, support_size, query_size, parallel)
        if mode not in ("random", "cover"):
            raise ValueError(f"sampling mode {mode!r}; expected 'random' or 'cover'")
        self.sizes = {lang: num_rows(f) for lang, f in data.items()}
        self.support_size, self.query_size = support_size, query_size
        self.mode, self.parallel = mode, parallel
        self._rng = random.Random(seed)
        self._queues: dict[str, list[list[int]]] = {}  # cover mode: remaining batches per stream

    @staticmethod
    def _check_pair(data: Mapping[str, Features], s: Languages, q: Languages, k: int, n: int,
                    parallel: bool) -> None:
        for lang in (*s, *q):
            if lang not in data:
                raise ValueError(f"no data for language {lang!r}; have {sorted(data)}")
        pooled = {langs: sum(num_rows(data[lang]) for lang in langs) for langs in (s, q)}
        shared = [lang for lang in q if lang in s]
        if parallel and shared:
            which = "" if s == q else f": {', '.join(shared)} in both"
            raise ValueError(f"parallel episodes need two languages, got the pair ({_label(s)!r}, {_label(q)!r})"
                             f"{which}")
        if parallel:
            first = s[0]
            for lang in (*s, *q)[1:]:
                if not torch.equal(data[first]["example_id"], data[lang]["example_id"]):
                    raise ValueError(f"parallel episodes need rows aligned by example_id; {first!r} and {lang!r} "
                                     "are not")
        need = k + n if s == q else max(k, n if parallel else 0)
        if need > pooled[s]:
            raise ValueError(f"an episode needs {need} rows of {_label(s)!r}, which has {pooled[s]}")
        if s != q and not parallel and n > pooled[q]:  # the query rows come from q
            raise ValueError(f"an episode needs {n} rows of {_label(q)!r}, which has {pooled[q]}")

    # ------------------------------------------------------------------ drawing
    def sample(self) -> Episode:
        s, q = self.pairs[self._rng.randrange(len(self.pairs))]
        k, n = self.support_size, self.query_size
        if s == q:  # one language set: support and query are disjoint rows
            rows = self._draw(f"{_label(s)}|{_label(s)}", s, k + n, whole=True)
            return Episode(self._parts(s, rows[:k]), self._parts(s, rows[k:]))
        if self.parallel:  # translations: the query rows are (a prefix of) the support rows, in a query language
            drawn = [self._locate(s, i) for i in self._draw(f"{_label(s)}>{_label(q)}", s, max(k, n))]
            targets = [q[0]] * n if len(q) == 1 else [q[self._rng.randrange(len(q))] for _ in range(n)]
            query = [(t, row) for t, (_, row) in zip(targets, drawn[:n], strict=True)]
            return Episode(_grouped(drawn[:k]), _grouped(query))
        support_rows = self._draw(f"{_label(s)}>", s, k)
        query_rows = self._draw(f">{_label(q)}", q, n)
        return Episode(self._parts(s, support_rows), self._parts(q, query_rows))

    def _locate(self, languages: Languages, index: int) -> tuple[str, int]:
        """(language, row) of position ``index`` in the languages' pooled rows (each language's in turn)."""
        for lang in languages:
            if index < self.sizes[lang]:
                return lang, index
            index -= self.sizes[lang]
        raise IndexError(f"row {index} is past the pooled rows of {_label(languages)}")

    def _parts(self, languages: Languages, pooled: list[int]) -> tuple[Part, ...]:
        return _grouped([self._locate(languages, i) for i in pooled])

    def _draw(self, stream: str, languages: Languages, size: int, *, whole: bool = False) -> list[int]:
        """``size`` positions in the pooled rows of ``languages``; in cover mode the next batch of ``stream``.

        With ``whole``, a pass's short remainder is folded into its last batch, so no
        batch is smaller than ``size`` (x-maml splits it into support and query).
        """
        total = sum(self.sizes[lang] for lang in languages)
        if self.mode == "random":
            return self._rng.sample(range(total), size)
        queue = self._queues.setdefault(stream, [])
        if not queue:  # a new pass: every row once, in batches of ``size`` (the last one may be short)
            order = list(range(total))
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


def _grouped(located: Sequence[tuple[str, int]]) -> tuple[Part, ...]:
    """(language, row) pairs grouped by language, in the order the languages first occur, rows in order."""
    groups: dict[str, list[int]] = {}
    for lang, row in located:
        groups.setdefault(lang, []).append(row)
    return tuple((lang, torch.tensor(rows)) for lang, rows in groups.items())
