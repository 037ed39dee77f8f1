"""Readers of local benchmark files in their released formats, each returning the task's canonical schema.

=========  ===========================================================================================
task       formats read (see :data:`FORMATS`)
=========  ===========================================================================================
nli        XNLI's TSV (``xnli.dev.tsv``, ``xnli.test.tsv``): every language in one file, the rows whose
           ``language`` is the requested one are kept and ``pairID`` (shared by translations) is the
           id. MNLI's GLUE TSV (``train.tsv``, ``dev_matched.tsv``): no language column, every row is
           kept, rows without a consensus label (``gold_label`` ``-``) are dropped. XNLI-MT's translated
           training TSVs (``multinli.train.de.tsv``: ``premise``, ``hypo``, ``label`` with
           ``contradictory``) are read too; files without ``pairID`` number their rows, which are
           parallel line by line in XNLI-MT.
qa         SQuAD 1.1 / MLQA JSON: ``{"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
           "answers": [{"text", "answer_start"}]}]}]}]}``.
ner        CoNLL / WikiAnn text: one ``token<TAB>tag`` per line (a space-separated last column works
           too), blank lines between sentences, ``-DOCSTART-`` lines skipped; the id is the sentence
           index. Rahimi et al.'s WikiAnn splits, as MetaXL uses them, prefix every token with its
           language (``en:Paris``): the prefix ``<language>:`` is stripped, and so is any other
           ``xx:`` prefix (2-12 lowercase letters or ``-``) that *every* token of the file carries.
           A prefix on only some tokens is kept, so tokens such as ``http://...`` survive.
sentiment  ``.csv`` (a header with ``text`` and ``label``), ``.jsonl`` or ``.json`` (records, or an
           array of them). Labels are 0/1, negative/positive or neg/pos; MARC records (``stars``
           1-5, ``review_body``) become 1-2 negative, 4-5 positive, 3 dropped (``review_title`` is
           ignored, as in the hub copy). The id is ``id`` or ``review_id``, else the row index.
=========  ===========================================================================================
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import datasets

from xlsweep.data.schema import NER_TAGS, DataError, check_qa_rows, task_features

__all__ = ["FORMATS", "NO_CONSENSUS", "THREE_STARS", "Skipped", "read_conll", "read_file", "read_nli", "read_sentiment",
           "read_squad"]

FORMATS = {
    "nli": "XNLI's TSV (columns language, gold_label, sentence1, sentence2, pairID), MNLI's GLUE TSV "
           "(columns sentence1, sentence2, gold_label) or XNLI-MT's TSV (columns premise, hypo, label)",
    "qa": 'SQuAD/MLQA JSON ({"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers"}]}]}]})',
    "ner": "CoNLL/WikiAnn text: one 'token<TAB>tag' per line, a blank line between sentences",
    "sentiment": "a .csv with text and label columns, or .jsonl/.json records with text and label "
                 "(or MARC's stars and review_body)",
}
_NLI_LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}
_NLI_COLUMNS = {"premise": ("sentence1", "premise"), "hypothesis": ("sentence2", "hypothesis", "hypo"),
                "label": ("gold_label", "label")}  # canonical column: its names in XNLI/GLUE, XNLI-MT
_TAGS = {tag: i for i, tag in enumerate(NER_TAGS)}
_PREFIX = re.compile(r"^([a-z][a-z-]{1,11}):(?=.)")
_BINARY = {"0": 0, "1": 1, "negative": 0, "positive": 1, "neg": 0, "pos": 1}


Skipped = dict[str, int]
"""Rows a reader skipped by its format's rule, counted by reason (e.g. ``{"3-star reviews (...)": 12}``)."""

NO_CONSENSUS = "rows with gold_label '-' (no consensus)"
THREE_STARS = "3-star reviews (neither negative nor positive)"


def read_file(path: Path, task: str, language: str, *, split: str | None = None,
              skipped: Skipped | None = None) -> datasets.Dataset:
    """``language``'s data in the file at ``path``, in ``task``'s canonical schema.

    ``split`` only names the data in errors. Every problem (missing file, unparseable content, missing
    columns, no rows for ``language``, a row whose language code differs from ``language`` only in case) is a
    :class:`DataError` naming the file and what was expected. Rows the format's rule skips (MNLI's ``-``
    label, a 3-star review) are counted by reason into ``skipped``; no other row is ever dropped.
    """
    readers = {"nli": read_nli, "qa": read_squad, "ner": read_conll, "sentiment": read_sentiment}
    task_features(task)  # an unknown task is a ValueError naming the tasks
    path = Path(path)
    if not path.is_file():
        what = f"{language}.{split}" if split else language
        state = "a directory" if path.is_dir() else "no such file"
        raise DataError(f"{path}: {state}; expected the {task} data of {what} as {FORMATS[task]}")
    try:
        return readers[task](path, language, skipped=skipped)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err}); expected {FORMATS[task]}") from None


def _dataset(columns: dict[str, list[Any]], task: str, path: Path) -> datasets.Dataset:
    """The canonical dataset of ``columns``; text Arrow cannot store (a lone surrogate from a JSON escape such
    as ``\\ud800``) is a :class:`DataError` naming the record."""
    try:
        return datasets.Dataset.from_dict(columns, features=task_features(task))
    except (UnicodeEncodeError, OverflowError) as err:
        for column, values in columns.items():
            for i, value in enumerate(values):
                texts = value if isinstance(value, list) else [value]
                if any(isinstance(t, str) and not t.isascii() and _unencodable(t) for t in texts):
                    raise DataError(f"{path}: record {i} (id {columns['id'][i]!r}): its {column} is not valid "
                                    "Unicode (a lone surrogate, e.g. a JSON escape \\ud800); expected UTF-8 "
                                    "text") from None
        raise DataError(f"{path}: cannot be stored ({type(err).__name__}: {err}); expected {FORMATS[task]}") from None


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _open(path: Path) -> TextIO:
    return path.open(encoding="utf-8-sig", newline="")  # -sig: a byte-order mark is not part of the header


_FIELD_LIMIT = 2**31 - 1  # csv's default limit (131,072 characters) is below a long review or MLQA context


def _csv_rows(path: Path, *, delimiter: str,
              quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every row of a CSV/TSV file; a malformed row is a :class:`DataError` naming its line.

    Fields of any length are read (csv's field size limit is lifted while the file is read).
    """
    limit = csv.field_size_limit(_FIELD_LIMIT)
    try:
        with _open(path) as f:
            reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as err:
                    raise DataError(f"{path}, line {reader.line_num}: not a readable "
                                    f"{'TSV' if delimiter == chr(9) else 'CSV'} row ({err})") from None
                yield reader.line_num, row
    finally:
        csv.field_size_limit(limit)


def _json(text: str, where: str, expected: str, what: str = "JSON") -> Any:
    """``json.loads(text)``; invalid or absurdly nested JSON is a :class:`DataError` at ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: not {what} ({err}); expected {expected}") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply to read; expected {expected}") from None


# --------------------------------------------------------------------- NLI
def _nli_columns(path: Path, header: list[str]) -> dict[str, int]:
    """The position of premise, hypothesis and label (and language, pairID when present) in ``header``."""
    col = {name: i for i, name in enumerate(header)}
    missing = [names[0] for names in _NLI_COLUMNS.values() if not any(n in col for n in names)]
    if missing:
        raise DataError(f"{path}: header {header[:12]} lacks {missing}; expected {FORMATS['nli']}")
    at = {c: next(col[n] for n in names if n in col) for c, names in _NLI_COLUMNS.items()}
    return at | {c: col[c] for c in ("language", "pairID") if c in col}


def _blank(row: list[str]) -> bool:
    """A blank line (whitespace only, tabs included): a separator, not a row with missing fields."""
    return not "".join(row).strip()


def _other_case(path: Path, language: str, found: list[tuple[int, str]]) -> DataError:
    """The error for rows whose language code is ``language`` in another case (``ANA`` for ``ana``)."""
    line, value = found[0]
    return DataError(f"{path}, line {line}: language {value!r}; expected {language!r} as written elsewhere "
                     f"({len(found)} rows write it in another case, e.g. {value!r}): codes are compared exactly, so "
                     f"these rows would be dropped; write every row's language as {language!r}")


def read_nli(path: Path, language: str, *, skipped: Skipped | None = None) -> datasets.Dataset:
    """An XNLI TSV (``language``'s rows), MNLI's GLUE TSV or an XNLI-MT TSV (every row) as the ``nli`` schema.

    A row whose language is ``language`` in another case is refused (a file exported with ``ANA`` beside
    ``ana``): it is neither ``language``'s row nor another language's.
    """
    columns: dict[str, list[Any]] = {"id": [], "premise": [], "hypothesis": [], "label": []}
    languages: set[str] = set()
    other_case: list[tuple[int, str]] = []
    skipped = {} if skipped is None else skipped
    rows = _csv_rows(path, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, (0, []))[1]
    at = _nli_columns(path, header)
    for line_num, row in rows:
        if _blank(row):
            continue
        where = f"{path}, line {line_num}"
        if len(row) <= max(at.values()) or len(row) > len(header):
            raise DataError(f"{where}: {len(row)} tab-separated fields; the header has {len(header)} (a tab inside "
                            "a sentence, or another delimiter?)")
        if "language" in at:
            code = row[at["language"]]
            languages.add(code)
            if code != language:
                if code.strip().casefold() == language.casefold():
                    other_case.append((line_num, code))
                continue
        gold = row[at["label"]].strip()
        if gold == "-":  # MNLI: the annotators reached no consensus
            skipped[NO_CONSENSUS] = skipped.get(NO_CONSENSUS, 0) + 1
            continue
        if gold not in _NLI_LABELS:
            raise DataError(f"{where}: {header[at['label']]} {gold!r}; expected entailment, neutral or "
                            "contradiction")
        columns["id"].append(row[at["pairID"]] if "pairID" in at else str(line_num - 2))
        columns["premise"].append(row[at["premise"]])
        columns["hypothesis"].append(row[at["hypothesis"]])
        columns["label"].append(_NLI_LABELS[gold])
    if other_case:
        raise _other_case(path, language, other_case)
    if not columns["id"]:
        if "language" in at:
            raise DataError(f"{path}: no rows of language {language!r}; the file has "
                            f"{', '.join(sorted(languages)) or 'no rows'}")
        raise DataError(f"{path}: no labelled rows; expected {FORMATS['nli']}")
    return _dataset(columns, "nli", path)


# --------------------------------------------------------------------- QA
def _field(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]``, checked to be of ``kind``; a :class:`DataError` at ``where`` otherwise."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: got {type(obj).__name__}; expected an object with {key!r}")
    if key not in obj:
        raise DataError(f"{where}: missing {key!r}; has {sorted(obj)}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: {key!r} is {type(value).__name__}; expected {names}")
    return value


def read_squad(path: Path, language: str, *, skipped: Skipped | None = None) -> datasets.Dataset:
    """A SQuAD 1.1 or MLQA JSON file as the ``qa`` schema; every answer must be a span of its context
    (:func:`~xlsweep.data.schema.check_qa_rows`), so SQuAD 2.0's unanswerable questions are refused."""
    data = _json(path.read_text(encoding="utf-8-sig"), str(path), FORMATS["qa"])
    articles = _field(data, "data", list, str(path))
    columns: dict[str, list[Any]] = {"id": [], "context": [], "question": [], "answers": []}
    records: list[str] = []  # where each question is in the file
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, where)
            for q, qa in enumerate(_field(paragraph, "qas", list, where)):
                at = f"{where}.qas[{q}]"
                records.append(f"data[{a}].paragraphs[{p}].qas[{q}]")
                answers = [(_field(ans, "text", str, f"{at}.answers[{i}]"),
                            _field(ans, "answer_start", int, f"{at}.answers[{i}]"))
                           for i, ans in enumerate(_field(qa, "answers", list, at))]
                columns["id"].append(str(_field(qa, "id", (str, int), at)))
                columns["context"].append(context)
                columns["question"].append(_field(qa, "question", str, at))
                columns["answers"].append({"text": [t for t, _ in answers], "answer_start": [s for _, s in answers]})
    if not columns["id"]:
        raise DataError(f"{path}: no questions; expected {FORMATS['qa']}")
    check_qa_rows(columns, str(path), lambda i: f"question id {columns['id'][i]!r} ({records[i]})")
    return _dataset(columns, "qa", path)


# --------------------------------------------------------------------- NER
def _sentences(path: Path) -> list[list[tuple[str, str]]]:
    """The (token, tag) sentences of a CoNLL-style file, tags checked against :data:`NER_TAGS`."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    with _open(path) as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                if current:
                    sentences.append(current)
                    current = []
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            token, tag = fields[0].strip(), fields[-1].strip()
            if len(fields) < 2 or not token:
                raise DataError(f"{path}, line {line_no}: {line!r}; expected 'token<TAB>tag' "
                                "(or a blank line between sentences)")
            if tag not in _TAGS:
                raise DataError(f"{path}, line {line_no}: unknown tag {tag!r}; expected one of {', '.join(NER_TAGS)}")
            current.append((token, tag))
    if current:
        sentences.append(current)
    return sentences


def _file_prefix(tokens: list[str]) -> str | None:
    """The ``xx:`` language prefix that every token carries, if there is one."""
    first = _PREFIX.match(tokens[0]) if tokens else None
    if first is None:
        return None
    prefix = first.group(0)
    return prefix if all(t.startswith(prefix) and len(t) > len(prefix) for t in tokens) else None


def read_conll(path: Path, language: str, *, skipped: Skipped | None = None) -> datasets.Dataset:
    """A CoNLL/WikiAnn file as the ``ner`` schema, language prefixes (``en:Paris``) stripped."""
    sentences = _sentences(path)
    if not sentences:
        raise DataError(f"{path}: no sentences; expected {FORMATS['ner']}")
    own = f"{language}:"
    prefix = _file_prefix([token for sentence in sentences for token, _ in sentence])

    def strip(token: str) -> str:
        for p in (own, prefix):
            if p and token.startswith(p) and len(token) > len(p):
                return token[len(p):]
        return token

    return _dataset({"id": [str(i) for i in range(len(sentences))],
                     "tokens": [[strip(token) for token, _ in s] for s in sentences],
                     "ner_tags": [[_TAGS[tag] for _, tag in s] for s in sentences]}, "ner", path)


# --------------------------------------------------------------------- sentiment
def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of every row of a .csv, .jsonl or .json file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, delimiter=",")
        header = next(rows, (0, []))[1]
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise DataError(f"{path}, line 1: the header repeats {repeated}; expected each column once")
        for line_num, row in rows:
            if _blank(row):
                continue
            if len(row) != len(header):
                raise DataError(f"{path}, line {line_num}: {len(row)} comma-separated fields; the header "
                                f"{header[:8]} has {len(header)} (quote a text that contains a comma)")
            yield f"{path}, line {line_num}", dict(zip(header, row, strict=True))
        return
    if suffix not in (".jsonl", ".json"):
        raise DataError(f"{path}: unknown sentiment file type {suffix!r}; expected .csv, .jsonl or .json")
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".json" and text.lstrip().startswith("["):
        records = _json(text, str(path), FORMATS["sentiment"])
        yield from ((f"{path}, record {i}", r) for i, r in enumerate(records))
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{path}, line {line_no}", _json(line, f"{path}, line {line_no}", "one object per line",
                                                        "a JSON record")


def _sentiment_label(record: dict[str, Any], where: str) -> int | None:
    """0 negative, 1 positive, or ``None`` for a dropped 3-star review."""
    if "stars" in record:
        try:
            stars = int(str(record["stars"]).strip())
        except ValueError:
            stars = 0
        if stars not in range(1, 6):
            raise DataError(f"{where}: stars {record['stars']!r}; expected 1 to 5")
        return None if stars == 3 else int(stars > 3)
    if "label" not in record:
        raise DataError(f"{where}: no 'label' or 'stars' field (has {sorted(record)}); expected {FORMATS['sentiment']}")
    label = _BINARY.get(str(record["label"]).strip().lower())
    if label is None:
        raise DataError(f"{where}: label {record['label']!r}; expected 0/1, negative/positive or neg/pos "
                        "(star ratings go in a 'stars' field: 1-2 negative, 4-5 positive, 3 dropped)")
    return label


def read_sentiment(path: Path, language: str, *, skipped: Skipped | None = None) -> datasets.Dataset:
    """A .csv, .jsonl or .json file of reviews as the ``sentiment`` schema (3-star reviews counted in ``skipped``)."""
    columns: dict[str, list[Any]] = {"id": [], "text": [], "label": []}
    skipped = {} if skipped is None else skipped
    rows = 0
    for where, record in _records(path):
        if not isinstance(record, dict):
            raise DataError(f"{where}: got {type(record).__name__}; expected an object with text and label")
        text = record.get("text", record.get("review_body"))
        if not isinstance(text, str):
            raise DataError(f"{where}: no 'text' or 'review_body' string (has {sorted(record)}); "
                            f"expected {FORMATS['sentiment']}")
        label = _sentiment_label(record, where)
        rows += 1
        if label is None:
            skipped[THREE_STARS] = skipped.get(THREE_STARS, 0) + 1
            continue
        columns["id"].append(str(record.get("id", record.get("review_id", rows - 1))))
        columns["text"].append(text)
        columns["label"].append(label)
    if not columns["id"]:
        dropped = f" ({rows} rows, all 3-star reviews, which are dropped)" if rows else ""
        raise DataError(f"{path}: no examples{dropped}; expected {FORMATS['sentiment']}")
    return _dataset(columns, "sentiment", path)
