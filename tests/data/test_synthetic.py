"""Tests for :mod:`xlsweep.data.synthetic`: determinism, planted structure, word order, parallelism, errors."""

from __future__ import annotations

import collections
import itertools

import pytest

from xlsweep.data.synthetic import LABELS, SyntheticBenchmark, expected_relatedness

SIZES = {"train": 60, "dev": 30, "test": 30}
LATIN = set("bdfgklmnprstvz" + "aeiou")


def _bench(seed: int = 0, **kwargs: object) -> SyntheticBenchmark:
    sizes = {"train_size": 60, "dev_size": 30, "test_size": 30}
    return SyntheticBenchmark(seed=seed, **{**sizes, **kwargs})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bench() -> SyntheticBenchmark:
    return _bench(seed=0)


def _concepts(bench: SyntheticBenchmark, sentence: str, language: str = "ana") -> list[int]:
    """Concept ids of a rendered sentence (each word of a lexicon names exactly one concept)."""
    index = {word: concept for concept, word in enumerate(bench.lexicons[language])}
    assert len(index) == bench.n_concepts  # words are unique within a lexicon
    return [index[word] for word in sentence.split()]


# ----------------------------------------------------------------- determinism
def test_same_seed_gives_identical_lexicons_and_data() -> None:
    a, b = _bench(seed=3), _bench(seed=3)
    assert a.lexicons == b.lexicons
    for lang in ("ana", "cor", "zul"):
        for split in SIZES:
            assert a.load(lang, split).to_dict() == b.load(lang, split).to_dict()


def test_different_seed_gives_different_lexicons_and_data() -> None:
    a, b = _bench(seed=0), _bench(seed=1)
    assert a.lexicons["ana"] != b.lexicons["ana"]
    assert a.load("ana", "train")["premise"] != b.load("ana", "train")["premise"]


# ----------------------------------------------------------------- planted relatedness
def test_lexicon_size_is_function_words_plus_pools(bench: SyntheticBenchmark) -> None:
    # NLI's 2 function words + (generic + 6 topics) × (adj, noun, verb) × 12 words, then the adposition,
    # the two question words and (PER, ORG, LOC) × (first, second) name words × 12
    assert bench.inventory.n_core == 2 + 7 * 3 * 12 == 254
    assert bench.n_concepts == 254 + 3 + 3 * 2 * 12 == 329
    assert all(len(words) == 329 for words in bench.lexicons.values())


def test_realised_relatedness_is_close_to_expected(bench: SyntheticBenchmark) -> None:
    # 254 concepts: the binomial standard deviation is at most 0.5 / sqrt(254) ≈ 0.031, so 0.1 is > 3 sd.
    for a in bench.languages:
        for b in bench.languages:
            assert bench.relatedness(a, b) == pytest.approx(expected_relatedness(a, b), abs=0.1), (a, b)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("ana", "ana", 1.0),
        ("ana", "bel", 0.95 * 0.85),
        ("ana", "cor", 0.95 * 0.65),
        ("ana", "dun", 0.95 * 0.9 * 0.5 * 0.9),
        ("ana", "eki", 0.95 * 0.9 * 0.5 * 0.7),
        ("dun", "eki", 0.9 * 0.7),
        ("bel", "zul", 0.0),
    ],
)
def test_expected_relatedness_is_product_of_inherit_along_path(a: str, b: str, expected: float) -> None:
    assert expected_relatedness(a, b) == pytest.approx(expected, abs=1e-12)
    assert expected_relatedness(b, a) == pytest.approx(expected, abs=1e-12)


def test_relatedness_to_source_decreases_down_the_tree(bench: SyntheticBenchmark) -> None:
    order = ["bel", "cor", "dun", "eki", "zul"]
    expected = [expected_relatedness("ana", lang) for lang in order]
    realised = [bench.relatedness("ana", lang) for lang in order]
    assert all(x > y for x, y in itertools.pairwise(expected)), expected
    assert all(x > y for x, y in itertools.pairwise(realised)), realised  # holds for seed 0


def test_isolate_shares_no_word_and_no_letter_with_latin_languages(bench: SyntheticBenchmark) -> None:
    zul_letters = set("".join(bench.lexicons["zul"]))
    for lang in bench.languages:
        if lang == "zul":
            continue
        assert bench.relatedness("zul", lang) == 0.0
        assert expected_relatedness("zul", lang) == 0.0
        assert set("".join(bench.lexicons[lang])) <= LATIN
        assert not zul_letters & set("".join(bench.lexicons[lang]))
    zul_text = " ".join(bench.load("zul", "dev")["premise"])
    assert not set(zul_text) & LATIN


# ----------------------------------------------------------------- word order
@pytest.mark.parametrize(
    ("language", "order"),
    [
        ("ana", (0, 1, 2, 3, 4, 5)),  # SVO: det adj subj verb det obj
        ("bel", (0, 1, 2, 3, 4, 5)),
        ("cor", (0, 1, 2, 4, 5, 3)),  # SOV: the verb comes last, after the object
        ("eki", (3, 0, 1, 2, 4, 5)),  # VSO: the verb comes first
    ],
)
def test_hypothesis_is_rendered_in_the_language_word_order(
    bench: SyntheticBenchmark, language: str, order: tuple[int, ...]
) -> None:
    source = bench.load("ana", "train")["hypothesis"]
    target = bench.load(language, "train")["hypothesis"]
    lexicon = bench.lexicons[language]
    for ana_sentence, sentence in zip(source[:10], target[:10], strict=True):
        clause = _concepts(bench, ana_sentence)  # ana is SVO: (det, adj, subj, verb, det, obj)
        assert len(clause) == 6
        assert sentence.split() == [lexicon[clause[i]] for i in order]


def test_cor_puts_the_verb_after_the_object(bench: SyntheticBenchmark) -> None:
    ana = bench.load("ana", "train")[0]["hypothesis"].split()
    cor = bench.load("cor", "train")[0]["hypothesis"].split()
    clause = _concepts(bench, " ".join(ana))
    verb, obj = clause[3], clause[5]
    words = bench.lexicons["cor"]
    assert cor.index(words[verb]) > cor.index(words[obj])
    assert ana.index(bench.lexicons["ana"][verb]) < ana.index(bench.lexicons["ana"][obj])


# ----------------------------------------------------------------- parallel data
@pytest.mark.parametrize("split", list(SIZES))
def test_every_language_has_the_same_ids_and_labels(bench: SyntheticBenchmark, split: str) -> None:
    reference = bench.load("ana", split)
    assert list(reference["id"]) == [str(i) for i in range(SIZES[split])]
    for lang in bench.languages:
        ds = bench.load(lang, split)
        assert list(ds["id"]) == list(reference["id"])
        assert list(ds["label"]) == list(reference["label"])


def test_bel_matches_ana_word_for_word_on_cognates(bench: SyntheticBenchmark) -> None:
    ana_lex, bel_lex = bench.lexicons["ana"], bench.lexicons["bel"]
    ana, bel = bench.load("ana", "train"), bench.load("bel", "train")
    shared = differing = 0
    for column in ("premise", "hypothesis"):
        for ana_sentence, bel_sentence in zip(ana[column], bel[column], strict=True):
            ana_words, bel_words = ana_sentence.split(), bel_sentence.split()
            assert len(ana_words) == len(bel_words)  # same word order, one word per concept
            for concept, bel_word in zip(_concepts(bench, ana_sentence), bel_words, strict=True):
                assert bel_word == bel_lex[concept]
                if ana_lex[concept] == bel_lex[concept]:
                    shared += 1
                else:
                    differing += 1
    assert shared > 0 and differing > 0


def test_premise_is_two_clauses_joined_by_the_conjunction(bench: SyntheticBenchmark) -> None:
    premise = bench.load("ana", "dev")[0]["premise"].split()
    hypothesis = bench.load("ana", "dev")[0]["hypothesis"].split()
    assert len(premise) == 13 and len(hypothesis) == 6
    assert premise[0] == premise[4] == premise[7] == premise[11] == hypothesis[0]  # the determiner


# ----------------------------------------------------------------- splits and labels
@pytest.mark.parametrize(("split", "size"), list(SIZES.items()))
def test_split_sizes_and_columns(bench: SyntheticBenchmark, split: str, size: int) -> None:
    ds = bench.load("dun", split)
    assert len(ds) == size
    assert ds.column_names == ["id", "premise", "hypothesis", "label"]
    assert ds.features["label"].names == ["entailment", "neutral", "contradiction"]
    assert list(LABELS) == ["entailment", "neutral", "contradiction"]


def test_labels_are_roughly_balanced() -> None:
    counts = collections.Counter(_bench(train_size=900).load("ana", "train")["label"])
    assert sorted(counts) == [0, 1, 2]
    assert all(250 <= counts[label] <= 350 for label in range(3)), counts


def test_languages_are_the_spoken_ones(bench: SyntheticBenchmark) -> None:
    assert bench.languages == ("ana", "bel", "cor", "dun", "eki", "zul")


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_topics": 4}, "n_topics.*got 4"),
        ({"n_topics": 0}, "n_topics.*got 0"),
        ({"purity": 0.0}, r"purity.*got 0\.0"),
        ({"purity": 1.5}, r"purity.*got 1\.5"),
        ({"train_size": 0}, "train_size.*got 0"),
        ({"dev_size": -1}, "dev_size.*got -1"),
        ({"words_per_pool": 0}, "words_per_pool.*got 0"),
        ({"words_per_pool": 3}, "words_per_pool.*at least 4.*got 3"),
        ({"task": "pos"}, "unknown task .pos."),
    ],
)
def test_invalid_arguments_raise_naming_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _bench(**kwargs)


def test_unknown_language_raises(bench: SyntheticBenchmark) -> None:
    with pytest.raises(ValueError, match="unknown language 'xyz'"):
        bench.load("xyz", "train")
    with pytest.raises(ValueError, match="unknown language 'proto'"):  # not spoken: no data
        bench.load("proto", "train")
    with pytest.raises(ValueError, match="unknown language 'xyz'"):
        expected_relatedness("ana", "xyz")


def test_unknown_split_raises(bench: SyntheticBenchmark) -> None:
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        bench.load("ana", "validation")
