"""Source specs, key precedence, limits, presets, RealBenchmark over local files (and a fake hub), missing files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from xlsweep.data.schema import DataError
from xlsweep.data.sources import (
    PRESETS,
    RealBenchmark,
    Source,
    missing_files,
    parse_source,
    resolve_limit,
    resolve_source,
    take,
)
from xlsweep.data.synthetic import SPLITS

XNLI = ("language\tgold_label\tsentence1\tsentence2\tpairID\n"
        "en\tentailment\tA cat sleeps.\tA cat rests.\t1\nde\tentailment\tEine Katze schläft.\tEine Katze ruht.\t1\n"
        "en\tneutral\tA man reads.\tA man reads a book.\t2\nde\tneutral\tEin Mann liest.\tEr liest ein Buch.\t2\n")
MNLI = ("index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label\n"
        "0\t1\t1e\tfiction\tIt rains.\tIt is wet.\tentailment\tentailment\n")


# --------------------------------------------------------------------- parse_source
def test_file_spec_fills_placeholders() -> None:
    source = parse_source("data/ner/{lang}/{split}", "qu", "dev")
    assert source == Source(kind="file", path=Path("data/ner/qu/dev"))
    assert source.describe() == "data/ner/qu/dev"


@pytest.mark.parametrize(("spec", "split", "name", "config", "hub_split"), [
    ("hub:facebook/xnli:{lang}", "dev", "facebook/xnli", "de", "validation"),  # default split names
    ("hub:facebook/xnli:{lang}", "train", "facebook/xnli", "de", "train"),
    ("hub:nyu-mll/multi_nli@train", "train", "nyu-mll/multi_nli", None, "train"),
    ("hub:google/xtreme:MLQA.{lang}.{lang}@validation", "dev", "google/xtreme", "MLQA.de.de", "validation"),
    ("hub:SetFit/amazon_reviews_multi_{lang}", "test", "SetFit/amazon_reviews_multi_de", None, "test"),
    ("hub:me/data:{lang}@{split}", "dev", "me/data", "de", "dev"),  # {split} is xlsweep's split name
])
def test_hub_spec(spec: str, split: str, name: str, config: str | None, hub_split: str) -> None:
    source = parse_source(spec, "de", split)
    assert (source.kind, source.path, source.name, source.config, source.hub_split) == (
        "hub", None, name, config, hub_split)


def test_describe_hub() -> None:
    assert parse_source("hub:facebook/xnli:{lang}", "sw", "test").describe() == "hub:facebook/xnli:sw@test"
    assert parse_source("hub:rajpurkar/squad", "en", "train").describe() == "hub:rajpurkar/squad@train"


@pytest.mark.parametrize(("spec", "message"), [
    ("data/{language}.tsv", r"path 'data/\{language\}\.tsv': unknown placeholder \{language\}; the placeholders "
                            r"are \{lang\} and \{split\}"),
    ("data/{lang!r}.tsv", r"unknown placeholder \{lang\}"),
    ("data/{lang.tsv", r"path 'data/\{lang\.tsv': .*literal brace"),
    ("", r"empty source; expected a path template or 'hub:NAME\[:CONFIG\]\[@SPLIT\]'"),
    ("hub:", r"hub source 'hub:': empty dataset name"),
    ("hub::xx", r"empty dataset name"),
    ("hub:a/b@train@test", r"more than one '@'"),
    ("hub:a/b:c:d", r"more than one ':'"),
    ("hub:a/b:", r"empty config after ':'"),
    ("hub:a/b@", r"empty split after '@'"),
    ("hub:a/b:{language}", r"hub source 'hub:a/b:\{language\}': config .*unknown placeholder \{language\}"),
])
def test_malformed_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_source(spec, "de", "dev")


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match=r"unknown split 'validation'; expected one of train, dev, test"):
        parse_source("data/{split}.tsv", "de", "validation")


# --------------------------------------------------------------------- precedence
MAPPING = {"*": "all", "*.dev": "every dev", "de": "german", "de.test": "german test"}


@pytest.mark.parametrize(("language", "split", "expected"), [
    ("de", "test", "german test"),  # <lang>.<split>
    ("de", "dev", "german"),  # <lang> beats *.<split>
    ("fr", "dev", "every dev"),  # *.<split> beats *
    ("fr", "train", "all"),
])
def test_most_specific_key_wins(language: str, split: str, expected: str) -> None:
    assert resolve_source(MAPPING, language, split) == expected
    limits = {k: len(v) for k, v in MAPPING.items()}
    assert resolve_limit(limits, language, split) == len(expected)


def test_no_key() -> None:
    assert resolve_source({"en.train": "x"}, "de", "train") is None
    assert resolve_limit({}, "de", "train") == 0
    assert resolve_limit({"en.train": 5000, "*.train": 100}, "en", "train") == 5000
    assert resolve_limit({"en.train": 5000, "*.train": 100}, "qu", "train") == 100


# --------------------------------------------------------------------- take
@pytest.fixture()
def numbers() -> datasets.Dataset:
    return datasets.Dataset.from_dict({"n": list(range(50))})


def test_take_first_and_seeded(numbers: datasets.Dataset) -> None:
    assert list(take(numbers, 5)["n"]) == [0, 1, 2, 3, 4]
    drawn = list(take(numbers, 10, mode="seeded", seed=3)["n"])
    assert drawn == list(take(numbers, 10, mode="seeded", seed=3)["n"])  # same seed, same rows
    assert drawn == sorted(drawn) and len(set(drawn)) == 10  # original order, no repeats
    assert drawn != list(range(10))
    assert drawn != list(take(numbers, 10, mode="seeded", seed=4)["n"])


@pytest.mark.parametrize("n", [0, -1, 50, 80])
def test_take_unchanged(numbers: datasets.Dataset, n: int) -> None:
    assert take(numbers, n, mode="seeded") is numbers


def test_take_unknown_mode(numbers: datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"unknown subset mode 'random'; expected one of first, seeded, numpy"):
        take(numbers, 3, mode="random")


# --------------------------------------------------------------------- presets
def test_presets_configure_their_languages() -> None:
    assert {name: p.task for name, p in PRESETS.items()} == {"xnli": "nli", "mlqa": "qa", "wikiann": "ner",
                                                              "marc": "sentiment"}
    assert len(PRESETS["xnli"].languages) == 15
    assert {"en", "qu", "cdo", "ilo", "xmf", "mi", "mhr", "tk", "gn"} <= set(PRESETS["wikiann"].languages)
    assert set(PRESETS["marc"].languages) == {"de", "en", "es", "fr", "ja", "zh"}
    for preset in PRESETS.values():
        for lang in preset.languages:
            for split in SPLITS:
                spec = resolve_source(preset.sources, lang, split)
                if spec is not None:
                    assert parse_source(spec, lang, split).kind == "hub"
    assert resolve_source(PRESETS["xnli"].sources, "en", "train") == "hub:nyu-mll/multi_nli@train"
    assert parse_source(resolve_source(PRESETS["xnli"].sources, "sw", "dev") or "", "sw", "dev").describe() == (
        "hub:facebook/xnli:sw@validation")
    assert resolve_source(PRESETS["mlqa"].sources, "de", "train") is None  # MLQA has no training data


def test_a_configs_star_replaces_the_whole_preset() -> None:
    from xlsweep.config.schema import DataConfig
    from xlsweep.data.benchmark import benchmark_sources

    data = DataConfig(task="ner", benchmark="wikiann", source="en", sources={"*": "data/ner/{lang}/{split}"})
    for split in SPLITS:
        assert resolve_source(benchmark_sources(data), "qu", split) == "data/ner/{lang}/{split}"


# --------------------------------------------------------------------- RealBenchmark
@pytest.fixture()
def nli_files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "xnli.dev.tsv").write_text(XNLI, encoding="utf-8")
    (tmp_path / "mnli.tsv").write_text(MNLI, encoding="utf-8")
    xnli = str(tmp_path / "xnli.{split}.tsv")  # only the dev file exists
    return {"*.dev": xnli, "*.test": xnli, "en.train": str(tmp_path / "mnli.tsv")}


def test_real_benchmark_reads_files_and_caches(nli_files: dict[str, str]) -> None:
    bench = RealBenchmark("nli", ["en", "de"], nli_files)
    assert bench.languages == ("en", "de") and bench.task == "nli"
    de = bench.load("de", "dev")
    assert list(de["id"]) == ["1", "2"] and de[0]["premise"] == "Eine Katze schläft."
    assert bench.load("de", "dev") is de
    assert list(bench.load("en", "train")["id"]) == ["1e"]


def test_real_benchmark_errors(nli_files: dict[str, str], tmp_path: Path) -> None:
    bench = RealBenchmark("nli", ["en", "de"], nli_files)
    with pytest.raises(DataError, match=r"unknown language 'fr'; this nli benchmark has en, de"):
        bench.load("fr", "dev")
    with pytest.raises(DataError, match=r"de: unknown split 'validation'; expected one of train, dev, test"):
        bench.load("de", "validation")
    with pytest.raises(DataError, match=r"de\.train: no source configured; set one of the data\.sources keys "
                                        r"'de\.train', 'de', '\*\.train', '\*'"):
        bench.load("de", "train")
    with pytest.raises(DataError, match=r"xnli\.test\.tsv: no such file; expected the nli data of de\.test"):
        bench.load("de", "test")
    bad = RealBenchmark("nli", ["de"], {"*": "data/{language}.tsv"})
    with pytest.raises(DataError, match=r"de\.dev: path 'data/\{language\}\.tsv': unknown placeholder"):
        bad.load("de", "dev")
    with pytest.raises(ValueError, match="unknown task 'pos'"):
        RealBenchmark("pos", ["de"], {})


def test_real_benchmark_hub_source(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def load_dataset(name: str, config: str | None = None, *, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        return datasets.Dataset.from_dict({"id": ["r1"], "text": ["gut"], "label": [4]})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    bench = RealBenchmark("sentiment", PRESETS["marc"].languages, PRESETS["marc"].sources)
    ds = bench.load("de", "dev")
    assert calls == [("SetFit/amazon_reviews_multi_de", None, "validation")]
    assert list(ds["label"]) == [1]


def test_real_benchmark_checks_the_loaded_rows(tmp_path: Path) -> None:
    (tmp_path / "de.jsonl").write_text(json.dumps({"review_body": "so so", "stars": 3}) + "\n", encoding="utf-8")
    bench = RealBenchmark("sentiment", ["de"], {"*": str(tmp_path / "{lang}.jsonl")})
    with pytest.raises(DataError, match=r"de\.jsonl: no examples \(1 rows, all 3-star reviews"):
        bench.load("de", "train")


# --------------------------------------------------------------------- missing_files
def test_missing_files_reports_each_missing_file_once(tmp_path: Path) -> None:
    (tmp_path / "here.tsv").write_text(MNLI, encoding="utf-8")
    sources = {"*.dev": str(tmp_path / "xnli.dev.tsv"), "*.test": "hub:facebook/xnli:{lang}",
               "en.train": "data/MNLI/train.tsv", "de.train": str(tmp_path / "here.tsv")}
    needed = [("en", "train", "stage 1 (data.source)"), ("de", "train", "stage 1 (data.source)"),
              ("de", "dev", "meta-learning (meta.support/query)"), ("es", "dev", "meta-learning (meta.support/query)"),
              ("de", "dev", "few-shot evaluation (eval.few_shot)"), ("de", "test", "evaluation (eval.targets)"),
              ("fr", "train", "never configured")]
    problems = missing_files(sources, needed)
    assert problems == [
        "en.train (stage 1 (data.source)): data/MNLI/train.tsv: no such file",
        f"de.dev, es.dev (meta-learning (meta.support/query); few-shot evaluation (eval.few_shot)): "
        f"{tmp_path / 'xnli.dev.tsv'}: no such file",
    ]
    assert missing_files({"*": str(tmp_path)}, [("de", "dev", "x")]) == [f"de.dev (x): {tmp_path}: a directory, "
                                                                          "expected a file"]


def test_numpy_subsets_select_exactly_what_the_authors_read_data_selects() -> None:
    """MetaXL's mtrain.py read_data: np.random.seed(seed); np.random.choice(np.arange(0, N), n, replace=False)."""
    import numpy as np

    from xlsweep.data.sources import subset_indices

    np.random.seed(42)
    expected = np.random.choice(np.arange(0, 5000), 100, replace=False).tolist()
    assert subset_indices(5000, 100, mode="numpy", seed=42) == expected
    assert subset_indices(5000, 100, mode="seeded", seed=42) != expected  # random.Random draws other rows
    ds = datasets.Dataset.from_dict({"i": list(range(50))})
    assert take(ds, 7, mode="numpy", seed=3)["i"] == subset_indices(50, 7, mode="numpy", seed=3)
