"""The MetaXL authors' released split index (data/data_index.txt): its format read, its rows selected from the
corpora, and an index that does not match the data refused with one clear error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from xlsweep.data.schema import DataError
from xlsweep.data.split_index import IndexEntry, indexed_split, parse_index, split_index_problems

_SPEC = importlib.util.spec_from_file_location("paper_presets", Path(__file__).parents[1] / "config" /
                                               "test_paper_presets.py")
assert _SPEC is not None and _SPEC.loader is not None
presets = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(presets)


@pytest.fixture
def released(tmp_path: Path) -> Path:
    presets.write_released_splits(tmp_path)  # the same small index file the preset tests validate with
    return tmp_path / "data"


def test_the_authors_format_is_read_with_tir_as_telugu_and_none_kept(released: Path) -> None:
    index = parse_index(released / "data_index.txt")
    assert sorted(index) == sorted((lang, split) for lang in ("te", "fa") for split in ("train", "dev", "test"))
    assert index[("te", "train")] == [IndexEntry(0, "product_pos.txt"), IndexEntry(1, "product_neg.txt"),
                                      IndexEntry(2, "product_pos.txt")]
    assert index[("fa", "train")] == [IndexEntry(0), IndexEntry(1), IndexEntry(None), IndexEntry(2)]


def test_telugu_rows_come_from_the_named_file_with_its_polarity(released: Path) -> None:
    entries = parse_index(released / "data_index.txt")[("te", "train")]
    ds = indexed_split(entries, released / "sentiraama", "te", "train")
    assert ds["text"] == ["pos review 0", "neg review 1", "pos review 2"] and ds["label"] == [1, 0, 1]


def test_persian_rows_count_the_table_s_records_and_rows_the_authors_did_not_find_are_left_out(released: Path) -> None:
    ds = indexed_split(parse_index(released / "data_index.txt")[("fa", "train")], released / "sentipers.jsonl", "fa",
                       "train")
    assert ds["text"] == ["nazar 0", "nazar 1", "nazar 2"] and ds["label"] == [0, 0, 1]  # ratings -2, -1, 1


def test_an_index_past_the_corpus_end_is_a_mismatch(released: Path) -> None:
    (released / "sentiraama" / "product_pos.txt").write_text("only one review\n")
    with pytest.raises(DataError, match=r"te\.train: entry 2 is row 2 of product_pos.txt, which has 1 rows: the "
                                        r"index does not match this corpus"):
        indexed_split(parse_index(released / "data_index.txt")[("te", "train")], released / "sentiraama", "te",
                      "train")


def test_what_is_missing_is_named_before_any_work(released: Path, tmp_path: Path) -> None:
    config = {"index": str(released / "data_index.txt"), "te": str(released / "sentiraama"),
              "fa": str(released / "sentipers.jsonl")}
    assert split_index_problems(config, [("te", "train"), ("fa", "test"), ("en", "train")]) == []
    missing = split_index_problems({**config, "index": str(tmp_path / "nope.txt")}, [("te", "train")])
    assert len(missing) == 1 and "nope.txt: no such file" in missing[0] and "data_index.txt" in missing[0]
    uncovered = split_index_problems({**config, "hi": str(released / "sentipers.jsonl")}, [("hi", "dev")])
    assert uncovered == [f"data.split_index: hi.dev is not in {config['index']} (it has "
                         "['fa.dev', 'fa.test', 'fa.train', 'te.dev', 'te.test', 'te.train'])"]


def test_a_malformed_index_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "index.txt").write_text("# fa train index\nnot a list\n")
    with pytest.raises(DataError, match=r"index.txt, line 2: 'not a list'; expected a Python list"):
        parse_index(tmp_path / "index.txt")


def test_the_rows_the_index_leaves_out_are_counted_not_dropped_silently(released: Path) -> None:
    from xlsweep.data.split_index import IndexedBenchmark

    class Inner:
        languages = ("en", "te", "fa")

        def skipped_lines(self, language: str, split: str) -> list[str]:
            return [f"inner {language}.{split}"]

    bench = IndexedBenchmark(Inner(), {"index": str(released / "data_index.txt"),
                                       "fa": str(released / "sentipers.jsonl"),
                                       "te": str(released / "sentiraama")})
    assert bench.skipped_lines("en", "train") == ["inner en.train"]  # not indexed: the inner benchmark says
    assert len(bench.load("fa", "train")) == 3
    [line] = bench.skipped_lines("fa", "train")
    assert "3 rows kept, 1 skipped" in line and "not found" in line
    bench.load("te", "train")
    assert bench.skipped_lines("te", "train") == []
