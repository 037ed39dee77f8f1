"""Tests for :mod:`xlsweep.data.families`: the default tree unchanged, random and explicit families, config."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.config import ConfigError
from xlsweep.config.schema import DataConfig, LanguageSpec, SyntheticDataConfig
from xlsweep.data.benchmark import benchmark_languages, load_benchmark, split_key, synthetic_benchmark
from xlsweep.data.families import explicit_family, random_family, resolve_family, spoken
from xlsweep.data.synthetic import DEFAULT_FAMILY, expected_relatedness
from xlsweep.plan import parse_sweep

DEMO = Path(__file__).resolve().parents[2] / "tune_configs" / "demo.yaml"


# ----------------------------------------------------------------- the default tree, byte for byte
def test_the_default_family_gives_the_data_and_cache_keys_it_always_gave() -> None:
    # pinned from the code before families were configurable: the demo's data, features and stage-1 model
    # (cache keys) must not change, so its figures stay what the README and docs/results/demo.md show
    from xlsweep.cache import fingerprint

    data = DataConfig(synthetic=SyntheticDataConfig(train_size=40, dev_size=10, test_size=10))
    digest = hashlib.sha256()
    for task in ("nli", "ner"):
        bench = load_benchmark(dataclasses.replace(data, task=task))
        digest.update(json.dumps(bench.lexicons, sort_keys=True).encode())
        for lang in bench.languages:
            digest.update(json.dumps(bench.load(lang, "dev").to_dict(), sort_keys=True).encode())
    assert digest.hexdigest()[:16] == "596e320b5afcf9d1"
    assert fingerprint(split_key(DataConfig(), "cor", "dev")) == "4fdb1b3efc9c807c"
    assert benchmark_languages(DataConfig()) == ("ana", "bel", "cor", "dun", "eki", "zul")


def test_the_default_family_is_the_default_tree() -> None:
    assert resolve_family(SyntheticDataConfig()) is DEFAULT_FAMILY


# ----------------------------------------------------------------- random families
@pytest.mark.parametrize("n", [2, 5, 8, 10, 16, 24])
def test_a_random_family_has_n_spoken_languages_parents_first(n: int) -> None:
    family = random_family(n, seed=3)
    assert len(spoken(family)) == n and "ana" in spoken(family)
    seen: set[str] = set()
    for lang in family:
        assert lang.parent is None or lang.parent in seen
        seen.add(lang.code)
    assert family == random_family(n, seed=3)  # deterministic
    assert random_family(n, seed=3) != random_family(n, seed=4) or n == 2


def test_random_families_spread_relatedness_orders_and_isolates() -> None:
    families = [random_family(10, seed=s) for s in range(20)]
    spreads = []
    for family in families:
        langs = [lang.code for lang in family if lang.spoken and lang.script == "latin"]
        values = [expected_relatedness(a, b, family) for i, a in enumerate(langs) for b in langs[i + 1:]]
        spreads.append(max(values) - min(values))
    assert statistics.median(spreads) > 0.4  # close cousins and distant relatives in one family
    orders = {lang.order for family in families for lang in family if lang.spoken}
    assert orders == {"SVO", "SOV", "VSO"}
    with_isolate = sum(any(lang.spoken and lang.parent is None for lang in family) for family in families)
    assert 0 < with_isolate < len(families)
    assert all(next(lang for lang in f if lang.code == "ana").order == "SVO" for f in families)


def test_a_random_family_out_of_range_is_refused() -> None:
    for n in (1, 25):
        with pytest.raises(ValueError, match="2 to 24 languages"):
            random_family(n)


# ----------------------------------------------------------------- explicit families
def test_an_explicit_family_is_reordered_parents_first() -> None:
    specs = [LanguageSpec("b", parent="p", inherit=0.8), LanguageSpec("p", spoken=False),
             LanguageSpec("a", parent="p", inherit=0.5, order="SOV")]
    family = explicit_family(specs)
    assert [lang.code for lang in family] == ["p", "b", "a"]
    assert expected_relatedness("a", "b", family) == pytest.approx(0.4)


@pytest.mark.parametrize(("specs", "message"), [
    ([LanguageSpec("a"), LanguageSpec("a")], "'a' appears twice"),
    ([LanguageSpec("a", parent="x")], "'x' is not a language of the list"),
    ([LanguageSpec("a", parent="b"), LanguageSpec("b", parent="a")], "cycle"),
    ([LanguageSpec("a", inherit=1.5)], "inherit: got 1.5"),
    ([LanguageSpec("p", spoken=False)], "no spoken language"),
])
def test_a_bad_explicit_family_names_the_problem(specs: list[LanguageSpec], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        explicit_family(specs)


# ----------------------------------------------------------------- the config follows the family
def _sweep(synthetic: dict[str, object], **meta: object) -> object:
    return parse_sweep({"name": "t", "data": {"synthetic": {"train_size": 40, "dev_size": 16, "test_size": 16,
                                                            **synthetic}},
                        "meta": {"support": ["ana"], "query": ["bel"], "support_size": 8, **meta}})


def test_a_random_family_in_the_config_drives_languages_keys_and_corpus() -> None:
    sweep = _sweep({"languages": 10, "family_seed": 2}, query=["jun"])
    data = sweep.trial.data  # type: ignore[attr-defined]
    assert benchmark_languages(data) == spoken(random_family(10, seed=2))
    assert "jun" in benchmark_languages(data)
    default = dataclasses.replace(data, synthetic=dataclasses.replace(data.synthetic, languages=()))
    assert split_key(data, "ana", "dev") != split_key(default, "ana", "dev")
    other_seed = dataclasses.replace(data, synthetic=dataclasses.replace(data.synthetic, family_seed=3))
    assert split_key(data, "ana", "dev") != split_key(other_seed, "ana", "dev")
    bench = synthetic_benchmark(data.synthetic)
    words = {w for line in bench.corpus() for w in line.split()}
    assert all(set(bench.lexicons[lang][:20]) <= words for lang in bench.languages)  # every language's words


def test_an_explicit_family_in_the_config() -> None:
    sweep = _sweep({"languages": [{"code": "p", "spoken": False}, {"code": "ana", "parent": "p", "inherit": 0.9},
                                  {"code": "bel", "parent": "p", "inherit": 0.6, "order": "VSO"}]})
    assert benchmark_languages(sweep.trial.data) == ("ana", "bel")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("synthetic", "meta", "message"), [
    ({"languages": 30}, {}, "data.synthetic.languages: a random family has 2 to 24 languages, got 30"),
    ({"languages": [{"code": "ana"}, {"code": "bel", "parent": "x"}]}, {},
     "data.synthetic.languages[1].parent: 'x' is not a language"),
    ({"languages": [{"code": "ana", "order": "OSV"}]}, {}, "order"),
    ({"languages": 6}, {"query": ["kel"]}, "meta.query: unknown language 'kel'; this benchmark has ana, bel"),
])
def test_a_bad_family_is_one_config_error(synthetic: dict[str, object], meta: dict[str, object],
                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _sweep(synthetic, **meta)


# ----------------------------------------------------------------- xlsweep languages
runner = CliRunner()


def test_languages_prints_a_random_family_and_a_configs_family(tmp_path: Path) -> None:
    result = runner.invoke(app, ["languages", "--languages", "10", "--family-seed", "2"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split()[3:] == list(spoken(random_family(10, seed=2)))
    assert all(row.split()[3 + i] == "1.00" for i, row in enumerate(rows))
    config = tmp_path / "c.yaml"
    config.write_text("name: c\ndata: {synthetic: {languages: 8, family_seed: 5}}\n"
                      "meta: {support: [ana], query: [bel]}\n")
    result = runner.invoke(app, ["languages", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[3:] == list(spoken(random_family(8, seed=5)))
    result = runner.invoke(app, ["languages", "--languages", "40"])
    assert result.exit_code == 2 and "2 to 24 languages, got 40" in result.output
