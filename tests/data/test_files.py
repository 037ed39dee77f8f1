"""Local files in their released formats: XNLI/MNLI TSV, SQuAD JSON, WikiAnn text, sentiment CSV/JSON(L).

Each fixture is a few rows written in the real format; every error names the file (and line) and what
was expected. Two loaded datasets are featurised end to end with the real tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlsweep.data.files import read_file
from xlsweep.data.schema import NER_TAGS, DataError, task_features

XNLI_HEADER = ("language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
               "sentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\tgenre\tlabel1\tlabel2\tlabel3\tlabel4\t"
               "label5")


def _xnli_row(lang: str, gold: str, premise: str, hypothesis: str, pair: str) -> str:
    return "\t".join([lang, gold, "(x)", "(y)", "(ROOT x)", "(ROOT y)", premise, hypothesis, "1", pair,
                      "facetoface", gold, gold, gold, gold, gold])


XNLI_ROWS = [
    _xnli_row("en", "entailment", '"Well," he said, "I was there."', "He was there.", "1"),
    _xnli_row("de", "entailment", '"Nun", sagte er, "ich war da."', "Er war da.", "1"),
    _xnli_row("en", "contradiction", "The cat sleeps.", "The cat is running.", "2"),
    _xnli_row("de", "contradictory", "Die Katze schläft.", "Die Katze rennt.", "2"),
    _xnli_row("en", "neutral", "A man reads.", "A man reads a novel.", "3"),
]
MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")
MNLI_ROWS = [
    "0\t31193\t31193n\tgovernment\t(a)\t(b)\t(ROOT a)\t(ROOT b)\tConceptually cream skimming works.\t"
    "Product and geography are what make it work.\tneutral\tneutral",
    "1\t101457\t101457e\ttelephone\t(a)\t(b)\t(ROOT a)\t(ROOT b)\tyou know during the season\t"
    "You lose the things.\tentailment\tentailment",
    "2\t134793\t134793c\tfiction\t(a)\t(b)\t(ROOT a)\t(ROOT b)\tOne of our number will help.\t"
    "We have no one free.\tcontradiction\t-",
]
SQUAD = {"version": "1.1", "data": [{"title": "Normans", "paragraphs": [
    {"context": "The Normans were in Normandy, a region in France.",
     "qas": [{"id": "56ddde6b9a695914005b9628", "question": "In what country is Normandy?",
              "answers": [{"text": "France", "answer_start": 42}, {"text": "France", "answer_start": 42}]},
             {"id": "56ddde6b9a695914005b9629", "question": "Who was in Normandy?",
              "answers": [{"text": "The Normans", "answer_start": 0}]}]}]}]}
WIKIANN = "en:Paris\tB-LOC\nen:is\tO\nen:nice\tO\n\nen:Barack\tB-PER\nen:Obama\tI-PER\nen:http://x.org\tO\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def xnli(tmp_path: Path) -> Path:
    return _write(tmp_path / "XNLI-1.0" / "xnli.dev.tsv", "\n".join([XNLI_HEADER, *XNLI_ROWS]) + "\n")


# --------------------------------------------------------------------- NLI
def test_xnli_keeps_the_rows_of_one_language(xnli: Path) -> None:
    en, de = read_file(xnli, "nli", "en"), read_file(xnli, "nli", "de")
    assert en.features == task_features("nli")
    assert list(en["id"]) == ["1", "2", "3"] and list(de["id"]) == ["1", "2"]  # pairID, shared by translations
    assert list(en["label"]) == [0, 2, 1]
    assert list(de["label"]) == [0, 2]  # "contradictory" as some copies write it
    assert en[0]["premise"] == '"Well," he said, "I was there."'  # quotes are text (QUOTE_NONE)
    assert de[1]["hypothesis"] == "Die Katze rennt."


def test_xnli_without_the_language_names_those_present(xnli: Path) -> None:
    with pytest.raises(DataError, match=r"xnli\.dev\.tsv: no rows of language 'sw'; the file has de, en"):
        read_file(xnli, "nli", "sw")


def test_mnli_glue_tsv_reads_every_row_and_drops_no_consensus(tmp_path: Path) -> None:
    path = _write(tmp_path / "MNLI" / "train.tsv", "\n".join([MNLI_HEADER, *MNLI_ROWS]) + "\n")
    ds = read_file(path, "nli", "en")
    assert list(ds["id"]) == ["31193n", "101457e"]
    assert list(ds["label"]) == [1, 0]
    assert ds[1]["premise"] == "you know during the season"


def test_xnli_mt_translated_train_tsv(tmp_path: Path) -> None:
    text = "premise\thypo\tlabel\nEs regnet .\tEs ist nass .\tentailment\n\"Nein\tJa\tcontradictory\n"
    ds = read_file(_write(tmp_path / "multinli.train.de.tsv", text), "nli", "de")
    assert list(ds["id"]) == ["0", "1"]  # the row index: XNLI-MT's files are parallel line by line
    assert list(ds["label"]) == [0, 2]
    assert ds[1]["premise"] == '"Nein'


def test_nli_unknown_label_names_file_line_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.tsv", "\n".join([XNLI_HEADER, XNLI_ROWS[0], _xnli_row("en", "maybe", "a", "b", "9")]))
    with pytest.raises(DataError, match=r"x\.tsv, line 3: gold_label 'maybe'; expected entailment, neutral"):
        read_file(path, "nli", "en")


def test_nli_wrong_columns_and_short_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.tsv", "premise\thypothesis_text\tlabel\na\tb\t0\n")
    with pytest.raises(DataError, match=r"bad\.tsv: header .* lacks \['sentence2'\]; expected XNLI's TSV"):
        read_file(path, "nli", "en")
    short = _write(tmp_path / "short.tsv", f"{XNLI_HEADER}\nen\tentailment\tonly three\n")
    with pytest.raises(DataError, match=r"short\.tsv, line 2: 3 tab-separated fields; the header has 16"):
        read_file(short, "nli", "en")


# --------------------------------------------------------------------- QA
def test_squad_json(tmp_path: Path) -> None:
    ds = read_file(_write(tmp_path / "dev-v1.1.json", json.dumps(SQUAD)), "qa", "en")
    assert ds.features == task_features("qa")
    assert list(ds["id"]) == ["56ddde6b9a695914005b9628", "56ddde6b9a695914005b9629"]
    first = ds[0]
    assert first["answers"] == {"text": ["France", "France"], "answer_start": [42, 42]}
    assert first["context"][42:48] == "France"
    assert ds[1]["question"] == "Who was in Normandy?"


def test_squad_errors_name_the_record(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(SQUAD))
    del broken["data"][0]["paragraphs"][0]["qas"][1]["question"]
    path = _write(tmp_path / "broken.json", json.dumps(broken))
    with pytest.raises(DataError, match=r"broken\.json: data\[0\]\.paragraphs\[0\]\.qas\[1\]: missing 'question'"):
        read_file(path, "qa", "en")
    with pytest.raises(DataError, match=r"notjson\.json: not JSON .*expected SQuAD/MLQA JSON"):
        read_file(_write(tmp_path / "notjson.json", "{oops"), "qa", "en")
    with pytest.raises(DataError, match=r"list\.json: got list; expected an object with 'data'"):
        read_file(_write(tmp_path / "list.json", "[]"), "qa", "en")


# --------------------------------------------------------------------- NER
def test_wikiann_strips_the_language_prefix(tmp_path: Path) -> None:
    ds = read_file(_write(tmp_path / "ner" / "en" / "train", WIKIANN), "ner", "en")
    assert ds.features == task_features("ner")
    assert list(ds["id"]) == ["0", "1"]
    assert list(ds[0]["tokens"]) == ["Paris", "is", "nice"]
    assert list(ds[1]["tokens"]) == ["Barack", "Obama", "http://x.org"]
    assert [NER_TAGS[t] for t in ds[1]["ner_tags"]] == ["B-PER", "I-PER", "O"]


def test_conll_prefixes_and_columns(tmp_path: Path) -> None:
    # a prefix every token carries is stripped even when it is not the configured code ...
    other = read_file(_write(tmp_path / "a", "qu:Lima\tB-LOC\nqu:llaqta\tO\n"), "ner", "quechua")
    assert list(other[0]["tokens"]) == ["Lima", "llaqta"]
    # ... one that only some tokens carry is text; space-separated CoNLL with -DOCSTART- works too
    conll = "-DOCSTART- -X- -X- O\n\nhttp://x.org NN O\nBerlin NNP B-LOC\n"
    plain = read_file(_write(tmp_path / "b.txt", conll), "ner", "de")
    assert list(plain[0]["tokens"]) == ["http://x.org", "Berlin"]
    assert [NER_TAGS[t] for t in plain[0]["ner_tags"]] == ["O", "B-LOC"]


def test_ner_unknown_tag_names_file_line_tag_and_expected(tmp_path: Path) -> None:
    path = _write(tmp_path / "train", "en:Paris\tB-LOC\n\nen:Siemens\tB-MISC\n")
    with pytest.raises(DataError, match=r"train, line 3: unknown tag 'B-MISC'; expected one of O, B-PER, I-PER"):
        read_file(path, "ner", "en")
    with pytest.raises(DataError, match=r"notag, line 1: 'Paris'; expected 'token<TAB>tag'"):
        read_file(_write(tmp_path / "notag", "Paris\n"), "ner", "en")
    with pytest.raises(DataError, match=r"blank: no sentences; expected CoNLL/WikiAnn text"):
        read_file(_write(tmp_path / "blank", "\n\n"), "ner", "en")


# --------------------------------------------------------------------- sentiment
def test_sentiment_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "en.csv", 'text,label\n"Great, really great",positive\nAwful,0\nFine,pos\n')
    ds = read_file(csv_path, "sentiment", "en")
    assert ds.features == task_features("sentiment")
    assert list(ds["id"]) == ["0", "1", "2"] and list(ds["label"]) == [1, 0, 1]
    assert ds[0]["text"] == "Great, really great"
    lines = [{"id": "a", "text": "Bien", "label": 1}, {"id": "b", "text": "Mal", "label": "negative"}]
    jsonl = read_file(_write(tmp_path / "es.jsonl", "\n".join(map(json.dumps, lines))), "sentiment", "es")
    assert list(jsonl["id"]) == ["a", "b"] and list(jsonl["label"]) == [1, 0]
    array = read_file(_write(tmp_path / "es.json", json.dumps(lines)), "sentiment", "es")
    assert list(array["text"]) == ["Bien", "Mal"]


def test_marc_records_map_stars_and_drop_three(tmp_path: Path) -> None:
    records = [{"review_id": f"de_{i}", "product_id": "p", "reviewer_id": "r", "stars": stars,
                "review_body": f"body {stars}", "review_title": "title", "language": "de",
                "product_category": "home"} for i, stars in enumerate([1, 2, 3, 4, 5])]
    path = _write(tmp_path / "marc" / "de" / "dev.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    ds = read_file(path, "sentiment", "de")
    assert list(ds["id"]) == ["de_0", "de_1", "de_3", "de_4"]
    assert list(ds["label"]) == [0, 0, 1, 1]
    assert ds[0]["text"] == "body 1"


def test_sentiment_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: label 3; expected 0/1, negative/positive or neg/pos"):
        read_file(_write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 3}\n'),
                  "sentiment", "en")
    with pytest.raises(DataError, match=r"cols\.csv, line 2: no 'text' or 'review_body' string \(has \['body', "
                                        r"'label'\]\)"):
        read_file(_write(tmp_path / "cols.csv", "body,label\nx,1\n"), "sentiment", "en")
    with pytest.raises(DataError, match=r"three\.jsonl: no examples \(1 rows, all 3-star reviews"):
        read_file(_write(tmp_path / "three.jsonl", '{"review_body": "meh", "stars": 3}\n'), "sentiment", "en")
    with pytest.raises(DataError, match=r"x\.tsv: unknown sentiment file type '\.tsv'; expected \.csv, \.jsonl"):
        read_file(_write(tmp_path / "x.tsv", "text\tlabel\n"), "sentiment", "en")
    with pytest.raises(DataError, match=r"broken\.jsonl, line 1: not a JSON record"):
        read_file(_write(tmp_path / "broken.jsonl", "{text\n"), "sentiment", "en")


# --------------------------------------------------------------------- every task
@pytest.mark.parametrize("task", ["nli", "qa", "ner", "sentiment"])
def test_missing_file_says_what_is_expected(tmp_path: Path, task: str) -> None:
    path = tmp_path / "data" / "hi" / "dev.txt"
    with pytest.raises(DataError, match=rf"dev\.txt: no such file; expected the {task} data of hi\.dev as "):
        read_file(path, task, "hi", split="dev")


def test_non_utf8_and_unknown_task(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    path.write_bytes(f"{XNLI_HEADER}\n".encode() + "en\tentailment\tcaf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.tsv: not UTF-8 text"):
        read_file(path, "nli", "en")
    with pytest.raises(ValueError, match="unknown task 'pos'"):
        read_file(path, "pos", "en")


# --------------------------------------------------------------------- end to end with the tasks
@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from xlsweep.models.tiny import _train_tokenizer

    corpus = [line for row in XNLI_ROWS for line in row.split("\t")[6:8]] + ["Paris is nice Barack Obama"]
    return _train_tokenizer(corpus * 5, vocab_size=200)


def test_loaded_nli_featurises(xnli: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.tasks import get_task

    ds = read_file(xnli, "nli", "en")
    features, references = get_task("nli").featurize(ds, tokenizer, max_length=32, doc_stride=8)
    assert references is None
    assert features["input_ids"].shape[0] == 3 and features["input_ids"].shape[1] <= 32
    assert features["labels"].tolist() == [0, 2, 1]


def test_loaded_ner_featurises(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.tasks import get_task

    ds = read_file(_write(tmp_path / "train", WIKIANN), "ner", "en")
    features, references = get_task("ner").featurize(ds, tokenizer, max_length=32, doc_stride=8)
    assert references == [["B-LOC", "O", "O"], ["B-PER", "I-PER", "O"]]
    first_subtokens = features["labels"][0][features["labels"][0] != -100].tolist()
    assert first_subtokens == [NER_TAGS.index("B-LOC"), 0, 0]


# ----------------------------------------------------------------- QA answers must be spans (issue 12, point 4)
def _squad(path: Path, context: str, answers: list[dict[str, object]], *, extra: int = 0) -> Path:
    good = {"id": "ok", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 0}]}
    paragraphs = [{"context": "Paris is big.", "qas": [good]}] * extra
    paragraphs.append({"context": context, "qas": [{"id": "q7", "question": "Who?", "answers": answers}]})
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    return path


@pytest.mark.parametrize(("context", "answers", "problem"), [
    ("Ada wrote it.", [{"text": "Grace", "answer_start": 0}], "answer 0 'Grace' at answer_start 0 does not match the "
                                                             "context there ('Ada w'; the text is nowhere in the "
                                                             "context)"),
    ("Ada wrote it.", [{"text": "Ada", "answer_start": 1}], "answer 0 'Ada' at answer_start 1 does not match the "
                                                           "context there ('da '; the text occurs at 0)"),
    ("Ada wrote it.", [{"text": "Ada", "answer_start": 11}], "answer 0 'Ada' at answer_start 11 does not fit in the "
                                                            "context (13 characters)"),
    ("Ada wrote it.", [{"text": "Ada", "answer_start": -1}], "answer_start -1 does not fit"),
    ("Ada wrote it.", [{"text": "Ada", "answer_start": 10**20}], "does not fit in the context"),
    ("Ada wrote it.", [{"text": "Ada", "answer_start": 0}, {"text": "it", "answer_start": 3}],
     "answer 1 'it' at answer_start 3"),
    ("Ada wrote it.", [], "no answer; extractive QA here needs at least one per question"),
    ("Ada wrote it.", [{"text": "", "answer_start": 0}], "answer 0 has an empty text"),
    ("", [{"text": "", "answer_start": 0}], "the context is empty"),
    ("   ", [{"text": " ", "answer_start": 0}], "the context is empty"),
])
def test_squad_answers_that_are_not_spans_of_their_context_are_refused(tmp_path: Path, context: str,
                                                                      answers: list[dict[str, object]],
                                                                      problem: str) -> None:
    path = _squad(tmp_path / "mlqa.json", context, answers, extra=2)
    with pytest.raises(DataError) as info:
        read_file(path, "qa", "en")
    message = str(info.value)
    assert message.startswith(f"{path}: question id 'q7' (data[0].paragraphs[2].qas[0]): ")
    assert problem in message
    assert message.endswith("; expected every answer to be context[answer_start:answer_start + len(text)]")


def test_the_number_of_bad_questions_is_given_with_the_first(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    qas = [{"id": f"q{i}", "question": "?", "answers": [{"text": "x", "answer_start": 0}]} for i in range(3)]
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "Ada", "qas": qas}]}]}))
    with pytest.raises(DataError, match=r"bad\.json: 3 questions have bad answers or contexts; the first, question "
                                        r"id 'q0' \(data\[0\]\.paragraphs\[0\]\.qas\[0\]\): answer 0 'x'"):
        read_file(path, "qa", "en")


# ----------------------------------------------------------------- long fields, malformed rows (issue 12, point 11)
LONG = "word " * 40_000  # 200,000 characters: more than csv's default field limit of 131,072


def test_csv_and_tsv_fields_longer_than_csvs_default_limit_are_read(tmp_path: Path) -> None:
    ds = read_file(_write(tmp_path / "long.csv", f'text,label\n"{LONG}",1\nshort,0\n'), "sentiment", "en")
    assert ds[0]["text"] == LONG and ds[1]["text"] == "short"
    tsv = _write(tmp_path / "long.tsv", "sentence1\tsentence2\tgold_label\n" + f"{LONG}\tx\tneutral\n")
    assert read_file(tsv, "nli", "en")[0]["premise"] == LONG
    import csv

    assert csv.field_size_limit() == 131_072  # the process-wide limit is restored


@pytest.mark.parametrize(("content", "message"), [
    ("body,label\nfine,1,extra\n", r"x\.csv, line 2: 3 comma-separated fields; the header \['body', 'label'\] has 2"),
    ("text,label\nhello, world,1\n", r"x\.csv, line 2: 3 comma-separated fields"),
    ("text,label\nhello\n", r"x\.csv, line 2: 1 comma-separated fields"),
    ("text,label,label\nhi,1,0\n", r"x\.csv, line 1: the header repeats \['label'\]"),
    ('text,label\n"unterminated,1\n', r"x\.csv, line 2: 1 comma-separated fields|not a readable CSV row"),
    ("text\tlabel\nhi\t1\n", r"x\.csv, line 2: no 'text' or 'review_body' string \(has \['text\\tlabel'\]\)"),
])
def test_malformed_sentiment_csv_rows_are_one_error_naming_the_line(tmp_path: Path, content: str,
                                                                    message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_file(_write(tmp_path / "x.csv", content), "sentiment", "en")


def test_an_nli_row_with_an_extra_tab_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.tsv", "sentence1\tsentence2\tgold_label\na\tb\tc\tneutral\n")
    with pytest.raises(DataError, match=r"x\.tsv, line 2: 4 tab-separated fields; the header has 3 \(a tab inside"):
        read_file(path, "nli", "en")


@pytest.mark.parametrize(("name", "task", "content", "message"), [
    ("deep.json", "qa", "[" * 100_000, r"deep\.json: JSON nested too deeply to read; expected SQuAD"),
    ("deep.jsonl", "sentiment", "[" * 100_000 + "\n", r"deep\.jsonl, line 1: JSON nested too deeply"),
    ("deep.json", "sentiment", "[" * 100_000, r"deep\.json: JSON nested too deeply"),
    ("half.json", "qa", '{"data": [{"paragraphs": [{"cont', r"half\.json: not JSON \(Unterminated string"),
    ("surrogate.json", "qa", json.dumps({"data": [{"paragraphs": [{"context": "Ada\ud800", "qas": [
        {"id": "q1", "question": "Who?", "answers": [{"text": "Ada", "answer_start": 0}]}]}]}]}),
     r"surrogate\.json: record 0 \(id 'q1'\): its context is not valid Unicode \(a lone surrogate"),
    ("surrogate.jsonl", "sentiment", '{"text": "ok\\udc00", "label": 1}\n', r"record 0 \(id '0'\): its text is not "),
    ("garbage.json", "qa", b"\x00\x9f\xff\xfe", r"garbage\.json: not UTF-8 text"),
    ("garbage.tsv", "nli", b"\x00\x9f\xff\xfe", r"garbage\.tsv: not UTF-8 text"),
    ("garbage.txt", "ner", b"\x00\x9f\xff\xfe", r"garbage\.txt: not UTF-8 text"),
    ("garbage.csv", "sentiment", b"\x00\x9f\xff\xfe", r"garbage\.csv: not UTF-8 text"),
    ("empty.json", "qa", "", r"empty\.json: not JSON"),
    ("empty.tsv", "nli", "", r"empty\.tsv: header \[\] lacks"),
    ("empty.txt", "ner", "", r"empty\.txt: no sentences"),
    ("empty.csv", "sentiment", "", r"empty\.csv: no examples"),
    ("header.tsv", "nli", "language\tgold_label\tsentence1\tsentence2\tpairID\n", r"header\.tsv: no rows of language"),
    ("header.csv", "sentiment", "text,label\n", r"header\.csv: no examples"),
    ("commas.tsv", "nli", "sentence1,sentence2,gold_label\na,b,neutral\n", r"commas\.tsv: header \['sentence1,"),
    ("types.json", "qa", '{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "a", "question": "q", '
     '"answers": [{"text": "c", "answer_start": "0"}]}]}]}]}', r"answers\[0\]: 'answer_start' is str; expected int"),
    ("list.json", "qa", "[]", r"list\.json: got list; expected an object with 'data'"),
    ("records.jsonl", "sentiment", '"text"\n', r"records\.jsonl, line 1: got str; expected an object"),
])
def test_malformed_files_are_one_data_error_naming_the_file(tmp_path: Path, name: str, task: str,
                                                            content: str | bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    with pytest.raises(DataError, match=message):
        read_file(path, task, "en")
