"""No reader drops a row without saying so: a language code in another case is refused, and rows a format's
rule skips (MNLI's no-consensus label, a 3-star review) are counted per file for ``validate`` and the log."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from xlsweep.data.files import read_file
from xlsweep.data.hub import load_hub
from xlsweep.data.schema import DataError
from xlsweep.data.sources import RealBenchmark

HEADER = "language\tgold_label\tsentence1\tsentence2\tpairID"


def _xnli(path: Path, langs: list[str]) -> Path:
    rows = [f"{lang}\tentailment\tp{i}\th{i}\t{i}" for i, lang in enumerate(langs)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_language_code_in_another_case_is_refused_naming_file_line_value_and_code(tmp_path: Path) -> None:
    path = _xnli(tmp_path / "xnli.test.tsv", ["ana", "ANA", "ana", "ANA", "bel", "Bel"])
    with pytest.raises(DataError, match=r"xnli\.test\.tsv, line 3: language 'ANA'; expected 'ana' as written "
                                        r"elsewhere \(2 rows write it in another case"):
        read_file(path, "nli", "ana")
    with pytest.raises(DataError, match=r"line 7: language 'Bel'; expected 'bel'"):
        read_file(path, "nli", "bel")


def test_a_file_with_only_another_case_names_the_expected_code(tmp_path: Path) -> None:
    path = _xnli(tmp_path / "x.tsv", ["EN", "EN", "de"])
    with pytest.raises(DataError, match=r"x\.tsv, line 2: language 'EN'; expected 'en'"):
        read_file(path, "nli", "en")


def test_a_trailing_whitespace_only_line_is_a_blank_line_not_a_short_row(tmp_path: Path) -> None:
    path = _xnli(tmp_path / "x.tsv", ["en", "en"])
    path.write_text(path.read_text() + "   \n \t \n", encoding="utf-8")
    assert len(read_file(path, "nli", "en")) == 2
    csv = tmp_path / "en.csv"
    csv.write_text("text,label\ngood,1\nbad,0\n  \n", encoding="utf-8")
    assert len(read_file(csv, "sentiment", "en")) == 2


def test_rows_a_format_skips_are_counted(tmp_path: Path) -> None:
    mnli = tmp_path / "train.tsv"
    mnli.write_text("sentence1\tsentence2\tgold_label\na\tb\tneutral\nc\td\t-\ne\tf\t-\n", encoding="utf-8")
    skipped: dict[str, int] = {}
    assert len(read_file(mnli, "nli", "en", skipped=skipped)) == 1
    assert skipped == {"rows with gold_label '-' (no consensus)": 2}
    marc = tmp_path / "de.jsonl"
    marc.write_text("\n".join(json.dumps({"review_body": f"r{s}", "stars": s}) for s in (1, 3, 3, 3, 5)),
                    encoding="utf-8")
    skipped = {}
    assert len(read_file(marc, "sentiment", "de", skipped=skipped)) == 2
    assert skipped == {"3-star reviews (neither negative nor positive)": 3}


def test_hub_rows_skipped_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    label = datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])
    raw = datasets.Dataset.from_dict({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, -1, 2]},
                                     features=datasets.Features({"premise": datasets.Value("string"),
                                                                 "hypothesis": datasets.Value("string"),
                                                                 "label": label}))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: raw)
    skipped: dict[str, int] = {}
    assert len(load_hub("nyu-mll/multi_nli", None, "train", "nli", "en", skipped=skipped)) == 2
    assert skipped == {"rows labelled -1 (no consensus)": 1}


def test_a_benchmark_says_what_each_split_skipped(tmp_path: Path) -> None:
    mnli = tmp_path / "train.tsv"
    mnli.write_text("sentence1\tsentence2\tgold_label\na\tb\tneutral\nc\td\t-\n", encoding="utf-8")
    bench = RealBenchmark("nli", ["en"], {"*": str(mnli)})
    bench.load("en", "train")
    assert bench.skipped_lines("en", "train") == [
        f"en.train: {mnli}: 1 row kept, 1 skipped: rows with gold_label '-' (no consensus)"]
    assert bench.skipped_lines("en", "dev") == []
