"""A synthetic multilingual benchmark, in every task shape, with a planted relatedness structure.

The benchmark stands in for XNLI, MLQA, WikiAnn and a sentiment corpus when no data
can be downloaded. It is built from three deterministic ingredients, all derived
from one seed:

1. **A family tree of languages.** Every concept has a word in the tree's root; a
   child language keeps its parent's word with probability ``inherit`` (a cognate)
   and coins a fresh word otherwise. Two languages therefore share a word for a
   concept with probability equal to the product of ``inherit`` along the path that
   joins them: that is the planted relatedness, exposed by
   :meth:`SyntheticBenchmark.relatedness` (realised) and
   :func:`expected_relatedness` (in expectation). One language uses another word
   order and one isolate shares no ancestry (and no script) with the others. Every
   task shares the lexicons, so every task sees the same relatedness.
2. **Language-independent examples** (:mod:`xlsweep.data.synthetic_tasks`), made of
   clauses whose content words come from a *topic*'s word pools, or, with
   probability ``1 - purity``, from topic-free generic pools:

   - *nli*: a premise (two clauses) and a hypothesis (one clause). Topics fall into
     three label families (topic ``t`` belongs to label ``t % 3``) and both segments
     are about topics of the label's family, so every content word of either
     segment carries a little evidence for the label. (Labels that need a
     *comparison* across segments -- same topic vs another topic, same polarity
     vs opposite -- are beyond a small encoder trained from scratch.)
   - *sentiment*: one or two clauses on a topic of the label's polarity (``t % 2``).
   - *ner*: clauses whose subjects, objects and places may be names of persons,
     organisations and locations (per-type name pools), tagged in IOB.
   - *qa*: a context of three or four clauses, each with its own person and verb,
     and a who/what question that repeats one clause's verb; the answer is that
     clause's subject or object.

   Zero-shot transfer therefore degrades smoothly with the share of cognate words.
3. **Rendering.** Every example is rendered in every language (the data are
   parallel, as XNLI and MLQA are), through that language's lexicon and word order
   (phrases such as names and answers move with their clause role).

Nothing downstream knows the data are synthetic: :meth:`SyntheticBenchmark.load`
returns an ordinary :class:`datasets.Dataset` in the task's canonical columns
(:mod:`xlsweep.data.schema`) with an ``id`` shared by the translations of an example.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache, cached_property

import datasets

from xlsweep.data.schema import NLI_LABELS, TASKS, task_features
from xlsweep.data.synthetic_tasks import (
    QA_CLAUSES,
    Example,
    ExampleGenerator,
    build_inventory,
    columns,
    segment_lines,
)

__all__ = [
    "DEFAULT_FAMILY",
    "LABELS",
    "SPLITS",
    "Language",
    "SyntheticBenchmark",
    "expected_relatedness",
]

LABELS = NLI_LABELS  # XNLI's label ids 0, 1, 2
SPLITS = ("train", "dev", "test")

_LATIN_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_LATIN_VOWELS = ["a", "e", "i", "o", "u"]
_OTHER_ONSETS = ["β", "δ", "φ", "γ", "κ", "λ", "μ", "ν", "π", "ρ", "σ", "τ", "θ", "ζ"]  # the isolate's own script
_OTHER_VOWELS = ["α", "ε", "ι", "ο", "υ"]


@dataclass(frozen=True)
class Language:
    """One node of the family tree.

    Args:
        code: Short name used everywhere (configs, metrics, heatmaps).
        parent: Code of the parent node, or ``None`` for a root.
        inherit: Probability that a concept keeps the parent's word.
        order: Clause word order: ``"SVO"``, ``"SOV"`` or ``"VSO"``.
        script: ``"latin"`` or ``"other"``; fresh words use that script's letters.
        spoken: ``False`` for proto-languages, which have no data of their own.
    """

    code: str
    parent: str | None
    inherit: float
    order: str = "SVO"
    script: str = "latin"
    spoken: bool = True


DEFAULT_FAMILY: tuple[Language, ...] = (
    Language("proto", None, 0.0, spoken=False),
    Language("west", "proto", 0.9, spoken=False),
    Language("east", "proto", 0.5, spoken=False),
    Language("ana", "west", 0.95),  # the source language (English's role)
    Language("bel", "west", 0.85),
    Language("cor", "west", 0.65, order="SOV"),  # related, but another word order
    Language("dun", "east", 0.9),
    Language("eki", "east", 0.7, order="VSO"),
    Language("zul", None, 0.0, script="other"),  # an isolate: no shared ancestry
)


def _path_to_root(family: dict[str, Language], code: str) -> list[str]:
    path = [code]
    while family[path[-1]].parent is not None:
        path.append(family[path[-1]].parent)  # type: ignore[arg-type]
    return path


def expected_relatedness(
    a: str, b: str, family: tuple[Language, ...] = DEFAULT_FAMILY
) -> float:
    """Probability that ``a`` and ``b`` share the word for a concept.

    It is the product of ``inherit`` over the edges that join the two languages
    through their lowest common ancestor, and 0 for languages of different trees.
    """
    nodes = {lang.code: lang for lang in family}
    for code in (a, b):
        if code not in nodes:
            raise ValueError(f"unknown language {code!r}; expected one of {sorted(nodes)}")
    if a == b:
        return 1.0
    path_a, path_b = _path_to_root(nodes, a), _path_to_root(nodes, b)
    common = set(path_a) & set(path_b)
    if not common:
        return 0.0
    lca = next(code for code in path_a if code in common)
    edges = path_a[: path_a.index(lca)] + path_b[: path_b.index(lca)]
    return math.prod(nodes[code].inherit for code in edges)


class SyntheticBenchmark:
    """The benchmark: languages, their lexicons and parallel splits of one task's examples.

    Args:
        task: The task shape: ``nli`` (sentence pairs), ``sentiment`` (sentences),
            ``ner`` (tagged tokens) or ``qa`` (context, question, answer span).
        seed: Seeds everything (lexicons and examples); equal seeds give equal data,
            and every task shares the lexicons (so one tokenizer and encoder serve all).
        train_size, dev_size, test_size: Examples per split (the same in every language).
        n_topics: Topics, a multiple of 3 (each NLI label family gets ``n_topics / 3``;
            each sentiment polarity every other topic).
        words_per_pool: Words per pool (each topic's nouns, verbs and adjectives;
            the generic pools; each entity type's first and second name words).
        purity: Probability that a content word comes from the clause's topic
            rather than from the generic pools; lower is harder.
        family: The language tree.
    """

    def __init__(
        self,
        *,
        task: str = "nli",
        seed: int = 0,
        train_size: int = 4000,
        dev_size: int = 500,
        test_size: int = 500,
        n_topics: int = 6,
        words_per_pool: int = 12,
        purity: float = 0.35,  # as data.synthetic.purity (xlsweep.config.schema): one benchmark, one default
        family: tuple[Language, ...] = DEFAULT_FAMILY,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; the synthetic benchmark has {list(TASKS)}")
        for name, size in (("train_size", train_size), ("dev_size", dev_size), ("test_size", test_size)):
            if size < 1:
                raise ValueError(f"{name} must be a positive number of examples, got {size}")
        if n_topics < 3 or n_topics % 3:
            raise ValueError(f"n_topics must be a positive multiple of 3 (one family per label), got {n_topics}")
        if words_per_pool < max(QA_CLAUSES):
            raise ValueError(f"words_per_pool must be at least {max(QA_CLAUSES)} (people in a QA context), "
                             f"got {words_per_pool}")
        if not 0.0 < purity <= 1.0:
            raise ValueError(f"purity must be in (0, 1], got {purity}")
        self.task = task
        self.seed = seed
        self.sizes = {"train": train_size, "dev": dev_size, "test": test_size}
        self.n_topics = n_topics
        self.words_per_pool = words_per_pool
        self.purity = purity
        self.family = family
        self._nodes = {lang.code: lang for lang in family}
        self.languages: tuple[str, ...] = tuple(lang.code for lang in family if lang.spoken)
        self.inventory = build_inventory(n_topics, words_per_pool, names_per_pool=words_per_pool)
        self.n_concepts = self.inventory.n_concepts

    # ----------------------------------------------------------------- lexicons
    @cached_property
    def lexicons(self) -> dict[str, tuple[str, ...]]:
        """Word of every concept in every node of the tree (spoken or not).

        The NLI benchmark's concepts (ids below ``inventory.n_core``) are coined from
        one random stream and the later ones (adposition, question words, names) from
        another, so adding concepts never changes the words of the first ones.
        """
        used: set[str] = set()
        core = self._coin(range(self.inventory.n_core), random.Random(f"lexicon-{self.seed}"), used)
        extra = self._coin(range(self.inventory.n_core, self.n_concepts),
                           random.Random(f"lexicon-extra-{self.seed}"), used)
        return {code: core[code] + extra[code] for code in core}

    def _coin(self, concepts: range, rng: random.Random, used: set[str]) -> dict[str, tuple[str, ...]]:
        """Words of ``concepts`` down the tree: inherited from the parent or freshly coined."""

        def fresh(script: str) -> str:
            onsets, vowels = (
                (_LATIN_ONSETS, _LATIN_VOWELS) if script == "latin" else (_OTHER_ONSETS, _OTHER_VOWELS)
            )
            while True:
                word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.choice((2, 2, 3))))
                if word not in used:
                    used.add(word)
                    return word

        lexicons: dict[str, tuple[str, ...]] = {}
        for lang in self.family:  # parents precede children in the family tuple
            if lang.parent is None:
                words = [fresh(lang.script) for _ in concepts]
            else:
                if lang.parent not in lexicons:
                    raise ValueError(f"language {lang.code!r} is listed before its parent {lang.parent!r}")
                words = [w if rng.random() < lang.inherit else fresh(lang.script) for w in lexicons[lang.parent]]
            lexicons[lang.code] = tuple(words)
        return lexicons

    def relatedness(self, a: str, b: str) -> float:
        """Realised fraction of concepts for which ``a`` and ``b`` use the same word."""
        la, lb = self.lexicons[self._check_language(a)], self.lexicons[self._check_language(b)]
        return sum(x == y for x, y in zip(la, lb, strict=True)) / self.n_concepts

    def relatedness_matrix(self) -> dict[str, dict[str, float]]:
        return {a: {b: self.relatedness(a, b) for b in self.languages} for a in self.languages}

    def _check_language(self, code: str) -> str:
        if code not in self.languages:
            raise ValueError(f"unknown language {code!r}; the synthetic benchmark has {list(self.languages)}")
        return code

    # ----------------------------------------------------------------- examples
    def examples(self, task: str, split: str) -> tuple[Example, ...]:
        """The language-independent examples of one task's split (cached per task)."""
        return self._examples(task)[split]

    @cache  # noqa: B019 -- one benchmark object lives as long as its data are used
    def _examples(self, task: str) -> dict[str, tuple[Example, ...]]:
        # NLI keeps the stream it always had, so its data do not change with the other tasks
        rng = random.Random(f"examples-{self.seed}" if task == "nli" else f"examples-{task}-{self.seed}")
        generator = ExampleGenerator(self.inventory, self.purity, rng)
        return {split: tuple(generator.example(task) for _ in range(n)) for split, n in self.sizes.items()}

    # ----------------------------------------------------------------- interface
    def skipped_lines(self, language: str, split: str) -> list[str]:
        """Nothing: generated splits skip no rows."""
        return []

    def load(self, language: str, split: str) -> datasets.Dataset:
        """One language's split as a ``datasets.Dataset`` in the task's canonical columns.

        Translations of an example share its ``id`` in every language.
        """
        lang = self._nodes[self._check_language(language)]
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
        examples = self.examples(self.task, split)
        cols = columns(self.task, examples, lang.order, self.lexicons[lang.code], self.inventory)
        return datasets.Dataset.from_dict({"id": [str(i) for i in range(len(examples))], **cols},
                                          features=task_features(self.task))

    def corpus(self) -> list[str]:
        """Every segment of every task's train split in every spoken language: the tokenizer's training text.

        It does not depend on :attr:`task`, so the encoder built from it serves every task.
        """
        lines = []
        for code in self.languages:
            lang = self._nodes[code]
            for task in TASKS:
                lines += segment_lines(self.examples(task, "train"), lang.order, self.lexicons[code], self.inventory)
        return lines
