"""The synthetic benchmark's concepts, its per-task example generators and their rendering into columns.

An example is language-independent: segments of :class:`Clause` s whose words are
concept ids, each with a tag (an NER tag id, or 1 on the words of a QA answer).
:func:`render` puts a segment's words in a language's word order, and
:func:`columns` turns rendered examples into the task's canonical columns
(:mod:`xlsweep.data.schema`). :class:`SyntheticBenchmark` owns the lexicons that
map concepts to words; see :mod:`xlsweep.data.synthetic` for the whole design.

A clause has a subject, a verb, an object and an optional place (a location name
with its adposition). The word orders put them as

=====  =====================================
SVO    subject verb object [prep place]
SOV    subject [place prep] object verb
VSO    verb subject object [prep place]
=====  =====================================

so an SOV language has postpositions and its verbs last, and every phrase (entity
names, answers) moves with its clause role.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from xlsweep.data.schema import NER_TAGS, NLI_LABELS, SENTIMENT_LABELS

__all__ = [
    "ENTITY_TYPES",
    "QA_CLAUSES",
    "Clause",
    "Example",
    "ExampleGenerator",
    "Inventory",
    "Word",
    "build_inventory",
    "columns",
    "render",
    "segment_lines",
]

Word = tuple[int, int]  # (concept id, tag); the tag is an NER tag id, or 1 on the words of a QA answer
ENTITY_TYPES = ("PER", "ORG", "LOC")
ANSWER = 1  # the tag of a QA answer's words

_NER_ENTITY_SUBJECT = 0.5  # NER: probability that a subject is a PER/ORG name (else a noun phrase)
_NER_ENTITY_OBJECT = 0.4  # NER: probability that an object is a name of any type
_NER_PLACE = 0.5  # NER: probability that a clause has a place (a LOC name)
QA_CLAUSES = (2, 3, 4)  # QA: clauses per context
_TWO_WORD_NAME = 0.5  # probability that a name has a second word


@dataclass(frozen=True)
class Inventory:
    """Concept ids of every pool; ids below ``n_core`` are the NLI benchmark's original concepts.

    Attributes:
        det, conj: The determiner and the clause conjunction.
        generic: Topic-free pools of adjectives, nouns and verbs.
        topics: Each topic's pools (same kinds as ``generic``).
        n_core: Concepts of the function words and the pools above.
        prep, who, what: The place adposition and the two question words.
        names: Per entity type, the pools of a name's first and second words.
        n_concepts: All concepts.
    """

    det: int
    conj: int
    generic: dict[str, tuple[int, ...]]
    topics: tuple[dict[str, tuple[int, ...]], ...]
    n_core: int
    prep: int
    who: int
    what: int
    names: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    n_concepts: int


def build_inventory(n_topics: int, words_per_pool: int, names_per_pool: int) -> Inventory:
    """Number the concepts: function words, generic and topic pools, then question words and names.

    Args:
        n_topics: Topics, each with its own adjective, noun and verb pools.
        words_per_pool: Words in each of those pools.
        names_per_pool: Words in each entity type's first-word and second-word pools.
    """
    ids = itertools.count()
    det, conj = next(ids), next(ids)

    def pools() -> dict[str, tuple[int, ...]]:
        return {kind: tuple(next(ids) for _ in range(words_per_pool)) for kind in ("adj", "noun", "verb")}

    generic = pools()
    topics = tuple(pools() for _ in range(n_topics))
    n_core = next(ids)
    prep, who, what = n_core, next(ids), next(ids)
    names = {
        etype: (tuple(next(ids) for _ in range(names_per_pool)), tuple(next(ids) for _ in range(names_per_pool)))
        for etype in ENTITY_TYPES
    }
    return Inventory(det, conj, generic, topics, n_core, prep, who, what, names, next(ids))


@dataclass(frozen=True)
class Clause:
    """One clause, by role; every phrase is a tuple of tagged concepts."""

    subj: tuple[Word, ...]
    verb: Word
    obj: tuple[Word, ...]
    place: tuple[Word, ...] = ()  # a LOC name; its adposition is added when rendered


@dataclass(frozen=True)
class Example:
    """A language-independent example.

    Attributes:
        segments: ``(premise, hypothesis)`` for NLI, ``(text,)`` for sentiment and NER,
            ``(context, question)`` for QA; each a tuple of clauses joined by the conjunction.
        label: The class (NLI, sentiment); 0 otherwise.
    """

    segments: tuple[tuple[Clause, ...], ...]
    label: int = 0


def _untagged(phrase: tuple[Word, ...]) -> tuple[Word, ...]:
    return tuple((concept, 0) for concept, _ in phrase)


def _tagged(phrase: tuple[Word, ...], tag: int) -> tuple[Word, ...]:
    return tuple((concept, tag) for concept, _ in phrase)


class ExampleGenerator:
    """Draws the examples of every task from one random stream.

    Args:
        inventory: The concepts.
        purity: Probability that a content word comes from its clause's topic rather
            than from the generic pools.
        rng: The random stream; equal streams give equal examples.
    """

    def __init__(self, inventory: Inventory, purity: float, rng: random.Random) -> None:
        self.inv, self.purity, self.rng = inventory, purity, rng
        self._verbs = tuple(sorted({v for pools in (inventory.generic, *inventory.topics) for v in pools["verb"]}))

    def example(self, task: str) -> Example:
        """One example of ``task`` (``nli``, ``sentiment``, ``ner`` or ``qa``)."""
        return {"nli": self.nli, "sentiment": self.sentiment, "ner": self.ner, "qa": self.qa}[task]()

    # ------------------------------------------------------------- words and phrases
    def word(self, topic: int, kind: str) -> int:
        """A word of ``kind`` from ``topic``'s pool (probability ``purity``) or the generic one."""
        pools = self.inv.topics[topic] if self.rng.random() < self.purity else self.inv.generic
        return self.rng.choice(pools[kind])

    def clause(self, topic: int) -> Clause:
        """The NLI clause shape: ``det adj noun verb det noun``, content words about ``topic``."""
        det = (self.inv.det, 0)
        adj, subj, verb, obj = (self.word(topic, kind) for kind in ("adj", "noun", "verb", "noun"))
        return Clause(subj=(det, (adj, 0), (subj, 0)), verb=(verb, 0), obj=(det, (obj, 0)))

    def noun_phrase(self, topic: int) -> tuple[Word, ...]:
        """``det adj noun`` about ``topic``."""
        return (self.inv.det, 0), (self.word(topic, "adj"), 0), (self.word(topic, "noun"), 0)

    def name(self, etype: str, first: int | None = None) -> tuple[Word, ...]:
        """A one- or two-word name of ``etype``, tagged B-/I-; ``first`` fixes its first word."""
        firsts, seconds = self.inv.names[etype]
        begin = NER_TAGS.index(f"B-{etype}")
        words = [(self.rng.choice(firsts) if first is None else first, begin)]
        if self.rng.random() < _TWO_WORD_NAME:
            words.append((self.rng.choice(seconds), begin + 1))
        return tuple(words)

    # ------------------------------------------------------------- tasks
    def nli(self) -> Example:
        """Premise (two clauses on one topic) and hypothesis (one clause), all on the label's topic family."""
        label = self.rng.randrange(len(NLI_LABELS))
        family = range(label, len(self.inv.topics), len(NLI_LABELS))
        topic = self.rng.choice(family)
        premise = (self.clause(topic), self.clause(topic))
        hypothesis = (self.clause(self.rng.choice(family)),)
        return Example((premise, hypothesis), label)

    def sentiment(self) -> Example:
        """One or two clauses on one topic of the label's polarity family (topic ``t`` has polarity ``t % 2``)."""
        label = self.rng.randrange(len(SENTIMENT_LABELS))
        topic = self.rng.choice(range(label, len(self.inv.topics), len(SENTIMENT_LABELS)))
        return Example((tuple(self.clause(topic) for _ in range(self.rng.choice((1, 2)))),), label)

    def ner(self) -> Example:
        """One or two clauses whose subjects, objects and places may be names."""
        clauses = []
        for _ in range(self.rng.choice((1, 2))):
            topic = self.rng.randrange(len(self.inv.topics))
            rng = self.rng
            subj = self.name(rng.choice(("PER", "ORG"))) if rng.random() < _NER_ENTITY_SUBJECT else None
            verb = (self.word(topic, "verb"), 0)
            obj = self.name(rng.choice(ENTITY_TYPES)) if rng.random() < _NER_ENTITY_OBJECT else None
            place = self.name("LOC") if rng.random() < _NER_PLACE else ()
            clauses.append(Clause(subj or self.noun_phrase(topic), verb, obj or self.noun_phrase(topic), place))
        return Example((tuple(clauses),))

    def qa(self) -> Example:
        """A context with one person, one organisation and one place, and a question asking for one of them.

        The context has two to four clauses, each with its own verb; the person is
        one clause's subject, the organisation one clause's object and the place one
        clause's location (any clause may hold several, the other subjects and
        objects are noun phrases). The question restates the answer's clause with
        a question word in the asked role: ``who verb object`` (the person),
        ``subject verb what`` (the organisation) or ``subject verb object prep what``
        (the place). The answer's words carry the tag ``1``.

        The asked entity is the only one of its type in the context, so the answer
        follows from the question's form and the entity types; the clause the
        question restates need not be matched word by word. (Contexts with one
        person per clause and ``who``/``what`` questions that only the restated
        verb disambiguates are beyond the tiny encoder.)
        """
        rng, inv = self.rng, self.inv
        n = rng.choice(QA_CLAUSES)
        topics = [rng.randrange(len(inv.topics)) for _ in range(n)]
        verbs: list[int] = []
        for topic in topics:  # distinct verbs: the question restates exactly one clause
            verb = self.word(topic, "verb")
            while verb in verbs:
                verb = rng.choice(self._verbs)
            verbs.append(verb)
        holder = {etype: rng.randrange(n) for etype in ENTITY_TYPES}  # the clause of each entity
        asked = rng.choice(ENTITY_TYPES)
        clauses = []
        for i, (topic, verb) in enumerate(zip(topics, verbs, strict=True)):
            def entity(etype: str, i: int = i) -> tuple[Word, ...] | None:
                if holder[etype] != i:
                    return None
                name = _untagged(self.name(etype))
                return _tagged(name, ANSWER) if etype == asked else name

            subj = entity("PER") or self.noun_phrase(topic)
            obj = entity("ORG") or self.noun_phrase(topic)
            clauses.append(Clause(subj, (verb, 0), obj, entity("LOC") or ()))
        clause = _untagged_clause(clauses[holder[asked]])
        what = ((inv.what, 0),)
        question = {
            "PER": Clause(((inv.who, 0),), clause.verb, clause.obj),
            "ORG": Clause(clause.subj, clause.verb, what),
            "LOC": Clause(clause.subj, clause.verb, clause.obj, what),
        }[asked]
        return Example((tuple(clauses), (question,)))


def _untagged_clause(clause: Clause) -> Clause:
    return Clause(_untagged(clause.subj), (clause.verb[0], 0), _untagged(clause.obj), _untagged(clause.place))


# ----------------------------------------------------------------- rendering
def _ordered(clause: Clause, order: str, prep: int) -> tuple[Word, ...]:
    if order == "SOV":
        place = (*clause.place, (prep, 0)) if clause.place else ()
        return (*clause.subj, *place, *clause.obj, clause.verb)
    place = ((prep, 0), *clause.place) if clause.place else ()
    if order == "VSO":
        return (clause.verb, *clause.subj, *clause.obj, *place)
    return (*clause.subj, clause.verb, *clause.obj, *place)


def render(segment: tuple[Clause, ...], order: str, inventory: Inventory) -> list[Word]:
    """A segment's tagged concepts in a word order (``SVO``, ``SOV`` or ``VSO``), clauses joined by the conjunction."""
    words: list[Word] = []
    for i, clause in enumerate(segment):
        if i:
            words.append((inventory.conj, 0))
        words.extend(_ordered(clause, order, inventory.prep))
    return words


def _text(words: list[Word], lexicon: tuple[str, ...]) -> str:
    return " ".join(lexicon[concept] for concept, _ in words)


def _answer(context: list[Word], lexicon: tuple[str, ...]) -> dict[str, list[Any]]:
    """The answer's text and its character offset in the rendered context."""
    marked = [i for i, (_, tag) in enumerate(context) if tag == ANSWER]
    first, last = marked[0], marked[-1]
    if marked != list(range(first, last + 1)):
        raise AssertionError(f"the answer's words are not contiguous: positions {marked}")
    start = sum(len(lexicon[concept]) + 1 for concept, _ in context[:first])
    return {"text": [_text(context[first : last + 1], lexicon)], "answer_start": [start]}


def columns(
    task: str, examples: tuple[Example, ...], order: str, lexicon: tuple[str, ...], inventory: Inventory
) -> dict[str, list[Any]]:
    """The task's canonical columns (all but ``id``) of ``examples`` rendered in one language.

    Args:
        task: ``nli``, ``sentiment``, ``ner`` or ``qa``.
        examples: Examples of that task.
        order: The language's word order.
        lexicon: The language's word for every concept.
        inventory: The concepts.
    """

    def segments(index: int) -> Iterator[list[Word]]:
        return (render(ex.segments[index], order, inventory) for ex in examples)

    if task == "nli":
        return {
            "premise": [_text(words, lexicon) for words in segments(0)],
            "hypothesis": [_text(words, lexicon) for words in segments(1)],
            "label": [ex.label for ex in examples],
        }
    if task == "sentiment":
        return {"text": [_text(words, lexicon) for words in segments(0)], "label": [ex.label for ex in examples]}
    if task == "ner":
        rendered = list(segments(0))
        return {
            "tokens": [[lexicon[concept] for concept, _ in words] for words in rendered],
            "ner_tags": [[tag for _, tag in words] for words in rendered],
        }
    if task == "qa":
        contexts = list(segments(0))
        return {
            "context": [_text(words, lexicon) for words in contexts],
            "question": [_text(words, lexicon) for words in segments(1)],
            "answers": [_answer(words, lexicon) for words in contexts],
        }
    raise ValueError(f"unknown task {task!r}")


def segment_lines(
    examples: tuple[Example, ...], order: str, lexicon: tuple[str, ...], inventory: Inventory
) -> list[str]:
    """Every segment of ``examples`` as a line of text in one language (a tokenizer's training text)."""
    return [_text(render(segment, order, inventory), lexicon) for ex in examples for segment in ex.segments]
