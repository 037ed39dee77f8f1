"""The synthetic benchmark's four task shapes: schema, parallelism, word order, answers and tags that hold together."""

from __future__ import annotations

import collections

import pytest

from xlsweep.data.schema import NER_TAGS, TASKS, task_features
from xlsweep.data.synthetic import SyntheticBenchmark

LANGUAGES = ("ana", "bel", "cor", "dun", "eki", "zul")


def _bench(task: str, seed: int = 0) -> SyntheticBenchmark:
    return SyntheticBenchmark(task=task, seed=seed, train_size=200, dev_size=40, test_size=40)


@pytest.fixture(scope="module", params=TASKS)
def bench(request: pytest.FixtureRequest) -> SyntheticBenchmark:
    return _bench(request.param)


def test_every_task_has_its_canonical_columns_and_shared_ids(bench: SyntheticBenchmark) -> None:
    reference = bench.load("ana", "dev")
    for lang in LANGUAGES:
        ds = bench.load(lang, "dev")
        assert ds.features == task_features(bench.task)
        assert len(ds) == 40
        assert list(ds["id"]) == list(reference["id"])  # translations share their id


def test_the_corpus_and_lexicons_do_not_depend_on_the_task() -> None:
    nli, qa = _bench("nli"), _bench("qa")
    assert nli.lexicons == qa.lexicons
    assert nli.corpus() == qa.corpus()
    words = {w for line in nli.corpus() for w in line.split()}
    for task in TASKS:  # the tokenizer sees every task's words
        for column in ("premise", "hypothesis", "text", "context", "question"):
            ds = _bench(task).load("cor", "train")
            if column in ds.column_names:
                assert {w for s in ds[column] for w in s.split()} <= words, (task, column)


def test_tasks_draw_different_examples_and_nli_keeps_its_own_stream() -> None:
    assert _bench("sentiment").load("ana", "train")["text"][:5] != _bench("nli").load("ana", "train")["premise"][:5]
    # adding tasks did not change NLI: its stream is the one NLI always had
    assert _bench("nli").examples("nli", "train") == SyntheticBenchmark(
        task="qa", seed=0, train_size=200, dev_size=40, test_size=40).examples("nli", "train")


# ----------------------------------------------------------------- sentiment
def test_sentiment_labels_are_balanced_and_parallel() -> None:
    bench = _bench("sentiment")
    labels = list(bench.load("ana", "train")["label"])
    counts = collections.Counter(labels)
    assert sorted(counts) == [0, 1] and all(70 <= counts[c] <= 130 for c in (0, 1)), counts
    assert list(bench.load("zul", "train")["label"]) == labels


# ----------------------------------------------------------------- NER
def _entities(tokens: list[str], tags: list[int]) -> list[tuple[str, str]]:
    """(type, words) of each entity, from IOB tags."""
    entities: list[tuple[str, list[str]]] = []
    for token, tag in zip(tokens, tags, strict=True):
        name = NER_TAGS[tag]
        if name.startswith("B-"):
            entities.append((name[2:], [token]))
        elif name.startswith("I-"):
            assert entities and entities[-1][0] == name[2:], f"{name} does not continue an entity: {tags}"
            entities[-1][1].append(token)
    return [(etype, " ".join(words)) for etype, words in entities]


def test_ner_tags_are_valid_iob_and_every_language_has_the_same_entities() -> None:
    bench = _bench("ner")
    types = collections.Counter()
    sentences = {lang: bench.load(lang, "train") for lang in LANGUAGES}
    for i in range(len(sentences["ana"])):
        per_language = {}
        for lang, ds in sentences.items():
            tokens, tags = list(ds[i]["tokens"]), list(ds[i]["ner_tags"])
            assert len(tokens) == len(tags)
            per_language[lang] = _entities(tokens, tags)
        ana = per_language["ana"]
        types.update(etype for etype, _ in ana)
        for lang in ("bel", "cor", "dun", "eki", "zul"):  # the same entities, maybe in another order and words
            assert sorted(t for t, _ in per_language[lang]) == sorted(t for t, _ in ana), (i, lang)
    assert all(types[t] > 20 for t in ("PER", "ORG", "LOC")), types


def test_ner_sov_language_puts_places_before_their_adposition() -> None:
    bench = _bench("ner")
    ana, cor = bench.load("ana", "train"), bench.load("cor", "train")
    prep_ana, prep_cor = (bench.lexicons[lang][bench.inventory.prep] for lang in ("ana", "cor"))
    b_loc = NER_TAGS.index("B-LOC")
    checked = 0
    for a, c in zip(ana, cor, strict=True):
        if a["tokens"].count(prep_ana) == 1 and c["tokens"].count(prep_cor) == 1:
            i, j = a["tokens"].index(prep_ana), c["tokens"].index(prep_cor)
            assert a["ner_tags"][i + 1] == b_loc  # SVO: preposition, then the place
            assert c["ner_tags"][j - 1] in (b_loc, b_loc + 1) and c["ner_tags"][j + 1] != b_loc + 1  # SOV: after it
            checked += 1
    assert checked > 20


# ----------------------------------------------------------------- QA
def test_qa_answers_sit_at_their_offsets_in_every_language() -> None:
    bench = _bench("qa")
    for lang in LANGUAGES:
        for row in bench.load(lang, "train"):
            (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
            assert row["context"][start : start + len(text)] == text
            assert text and text.split() == row["context"][start:].split()[: len(text.split())]


def test_qa_question_repeats_the_verb_of_the_answer_clause() -> None:
    bench = _bench("qa")
    lex = bench.lexicons["ana"]
    who, what = lex[bench.inventory.who], lex[bench.inventory.what]
    verbs = {lex[v] for pools in (bench.inventory.generic, *bench.inventory.topics) for v in pools["verb"]}
    kinds = collections.Counter()
    for row in bench.load("ana", "train"):
        question = row["question"].split()
        kinds[who if who in question else what] += 1
        verb = next(w for w in question if w in verbs)
        clauses = row["context"].split(f" {lex[bench.inventory.conj]} ")
        assert sum(verb in c.split() for c in clauses) == 1  # exactly one clause has the question's verb
        answer_clause = next(c for c in clauses if verb in c.split())
        assert row["answers"]["text"][0] in answer_clause
    assert kinds[who] > 50 and kinds[what] > 50, kinds
