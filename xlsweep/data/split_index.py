"""Splits selected by the MetaXL authors' released index file (``data/data_index.txt`` of microsoft/MetaXL).

The MetaXL paper's footnote 2 ("Details of data splits can be found at github.com/microsoft/MetaXL") points
to that file: per language and split a header line, then a Python list of row numbers, and for Telugu a
second list naming the corpus file each row comes from::

    # tir train index and file
    [187, 124, 88, ...]
    ['product_pos.txt', 'product_neg.txt', ...]

    # fa train index
    [995, 14663, 10009, ...]

``tir`` is Telugu (Sentiraama, §3.1): row ``i`` of ``product_pos.txt`` (label 1) or ``product_neg.txt``
(label 0), one review per line, in the directory the config names. ``fa`` (SentiPers) rows count the records
of one file (.jsonl/.json/.csv, in file order from 0) with ``text`` and a ``label`` (0/1) or a SentiPers
``rating`` (−2/−1 → 0, 1/2 → 1, §3.1). A ``None`` in the authors' list is a row their script did not find in
the corpus (1 of fa's 100 train rows, 16 of its 1000 dev rows, 8 of its 1000 test rows): it is left out.

``data.split_index`` holds the paths: ``{index: data/data_index.txt, te: data/sentiraama, fa: data/sentipers.jsonl}``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from xlsweep.data.files import _dataset, _records, _sentiment_label  # the sentiment readers' parsing
from xlsweep.data.schema import DataError

__all__ = ["INDEX_KEY", "IndexedBenchmark", "IndexEntry", "indexed_split", "parse_index", "split_index_problems"]

INDEX_KEY = "index"
AUTHORS_NAMES = {"tir": "te"}  # the index file's language names -> xlsweep's codes
_HEADER = re.compile(r"^#\s*(\w+)\s+(train|dev|test)\s+index(\s+and\s+file)?\s*$")
_LABELS = {"product_pos.txt": 1, "product_neg.txt": 0}


@dataclass(frozen=True)
class IndexEntry:
    """One row of a released split: its row number in the corpus (None: not found by the authors) and file."""

    row: int | None
    file: str | None = None


def parse_index(path: Path) -> dict[tuple[str, str], list[IndexEntry]]:
    """(language, split) -> the split's rows, from a file in ``data_index.txt``'s format; ``DataError`` if not."""
    if not path.is_file():
        raise DataError(f"data.split_index.index: {path}: no such file; expected the MetaXL authors' "
                        "data/data_index.txt (github.com/microsoft/MetaXL)")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    index: dict[tuple[str, str], list[IndexEntry]] = {}
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        match = _HEADER.match(lines[i])
        if not match:
            raise DataError(f"{path}, line {i + 1}: {lines[i][:60]!r}; expected a header such as "
                            "'# fa train index' or '# tir dev index and file'")
        lang, split, with_files = AUTHORS_NAMES.get(match[1], match[1]), match[2], bool(match[3])
        rows = _list(path, i + 2, lines[i + 1] if i + 1 < len(lines) else "")
        files = _list(path, i + 3, lines[i + 2] if i + 2 < len(lines) else "") if with_files else [None] * len(rows)
        if len(files) != len(rows) or any(r is not None and (not isinstance(r, int) or r < 0) for r in rows):
            raise DataError(f"{path}, line {i + 2}: expected a list of row numbers (>= 0 or None)"
                            + (f" and a list of as many file names (got {len(rows)} and {len(files)})"
                               if with_files else ""))
        index[(lang, split)] = [IndexEntry(r, f) for r, f in zip(rows, files, strict=True)]
        i += 3 if with_files else 2
    return index


def _list(path: Path, line_no: int, text: str) -> list[Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, list):
        raise DataError(f"{path}, line {line_no}: {text[:60]!r}; expected a Python list")
    return value


def _file_rows(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected Sentiraama's {path.name}, one review per line")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


def _table_rows(path: Path) -> list[tuple[str, int | None]]:
    rows: list[tuple[str, int | None]] = []
    for where, record in _records(path):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise DataError(f"{where}: no 'text' string; expected records with text and label (or rating)")
        if "rating" in record:
            rating = int(str(record["rating"]).strip())
            rows.append((text, None if rating == 0 else int(rating > 0)))
        else:
            rows.append((text, _sentiment_label(record, where)))
    return rows


def indexed_split(entries: list[IndexEntry], corpus: Path, language: str, split: str) -> datasets.Dataset:
    """The released ``split`` of ``language``: ``entries``' rows of ``corpus`` (a directory of Sentiraama's
    files when the entries name files, else one file), as the ``sentiment`` schema; ``DataError`` when a row
    number is past the corpus's end or a row has no label (the index does not match the data)."""
    where = f"data.split_index: {language}.{split}"
    named = any(e.file is not None for e in entries)
    if named and not corpus.is_dir():
        raise DataError(f"{where}: {corpus} is not a directory; the index names files in it "
                        f"({', '.join(sorted({str(e.file) for e in entries if e.file}))})")
    cache: dict[str, list[Any]] = {}
    texts: list[str] = []
    labels: list[int] = []
    for n, entry in enumerate(entries):
        if entry.row is None:
            continue  # a row the authors did not find in the corpus
        if named:
            if entry.file not in _LABELS:
                raise DataError(f"{where}: file {entry.file!r}; expected one of {sorted(_LABELS)}")
            lines = cache.setdefault(entry.file, _file_rows(corpus / entry.file))
            text, label = (lines[entry.row], _LABELS[entry.file]) if entry.row < len(lines) else ("", None)
            size = len(lines)
        else:
            table = cache.setdefault("", _table_rows(corpus))
            text, label = table[entry.row] if entry.row < len(table) else ("", None)
            size = len(table)
        if entry.row >= size:
            raise DataError(f"{where}: entry {n} is row {entry.row} of {entry.file or corpus}, which has {size} rows: "
                            "the index does not match this corpus")
        if label is None:
            raise DataError(f"{where}: entry {n}, row {entry.row} of {corpus} has no polarity (a neutral or 3-star "
                            "row): the index does not match this corpus")
        texts.append(text)
        labels.append(label)
    return _dataset({"id": [str(i) for i in range(len(texts))], "text": texts, "label": labels}, "sentiment", corpus)


def split_index_problems(split_index: Mapping[str, str], needed: Iterable[tuple[str, str]]) -> list[str]:
    """What stops ``split_index`` from giving the (language, split) pairs ``needed`` that it covers: a missing or
    malformed index file, a language with no entry in it, a missing corpus. Empty when nothing is wrong."""
    if not split_index:
        return []
    if INDEX_KEY not in split_index:
        return [f"data.split_index: no '{INDEX_KEY}' key; expected {{index: <path to data_index.txt>, "
                "<lang>: <corpus>}}"]
    try:
        index = parse_index(Path(split_index[INDEX_KEY]).expanduser())
    except DataError as err:
        return [str(err)]
    problems = []
    for lang, split in needed:
        if lang in split_index and (lang, split) not in index:
            have = sorted({f"{lang_}.{split_}" for lang_, split_ in index})
            problems.append(f"data.split_index: {lang}.{split} is not in {split_index[INDEX_KEY]} (it has {have})")
    for lang, corpus in split_index.items():
        if lang != INDEX_KEY and not Path(corpus).expanduser().exists():
            problems.append(f"data.split_index.{lang}: {corpus}: no such file or directory")
    return problems


class IndexedBenchmark:
    """A benchmark whose languages named in ``split_index`` read their splits through the released index."""

    def __init__(self, inner: Any, split_index: Mapping[str, str]) -> None:
        self.inner, self.split_index = inner, dict(split_index)
        self.languages: tuple[str, ...] = inner.languages
        self._index: dict[tuple[str, str], list[IndexEntry]] | None = None

    def load(self, language: str, split: str) -> datasets.Dataset:
        if language == INDEX_KEY or language not in self.split_index:
            return self.inner.load(language, split)
        if self._index is None:
            self._index = parse_index(Path(self.split_index[INDEX_KEY]).expanduser())
        if (language, split) not in self._index:
            raise DataError(f"data.split_index: {language}.{split} is not in {self.split_index[INDEX_KEY]}")
        return indexed_split(self._index[(language, split)], Path(self.split_index[language]).expanduser(),
                             language, split)

    def skipped_lines(self, language: str, split: str) -> list[str]:
        """Rows the index lists as not found by the authors (``None``), left out; else the inner benchmark's."""
        if language == INDEX_KEY or language not in self.split_index:
            return self.inner.skipped_lines(language, split)
        if self._index is None or (language, split) not in self._index:
            return []
        entries = self._index[(language, split)]
        missing = sum(e.row is None for e in entries)
        if not missing:
            return []
        return [f"{language}.{split}: {self.split_index[INDEX_KEY]}: {len(entries) - missing} rows kept, {missing} "
                "skipped: listed as not found (None) in the released index"]
