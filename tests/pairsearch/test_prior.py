"""Tests for :mod:`xlsweep.pairsearch.prior`: the planted prior, ISO 639 mapping and URIEL+ (offline, bundled data)."""

from __future__ import annotations

import pytest

from xlsweep.data.sources import PRESETS
from xlsweep.data.synthetic import SyntheticBenchmark
from xlsweep.pairsearch.prior import ISO639_3, Prior, PriorError, planted_prior, uriel_code, uriel_prior


def test_the_planted_prior_is_the_benchmarks_relatedness() -> None:
    bench = SyntheticBenchmark(train_size=1, dev_size=1, test_size=1)
    prior = planted_prior(bench.relatedness, bench.languages)
    assert prior.similarity("dun", "eki") == bench.relatedness("dun", "eki")
    assert prior.similarity("ana", "ana") == 1.0 and prior.similarity("ana", "zul") == 0.0
    assert prior.set_similarity(["zul", "bel"], "ana") == bench.relatedness("bel", "ana")
    with pytest.raises(PriorError, match="the planted prior has no language 'en'"):
        prior.check(["ana", "en"])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_language_has_an_iso_639_3_code(preset: str) -> None:
    for lang in PRESETS[preset].languages:
        code = uriel_code(lang)
        assert len(code) == 3 and code.isalpha()


def test_iso_codes_map_to_individual_languages_and_bad_codes_are_named() -> None:
    assert [uriel_code(c) for c in ("en", "sw", "zh", "ar", "cdo")] == ["eng", "swh", "cmn", "arb", "cdo"]
    assert set(ISO639_3.values()) >= {"eng", "deu", "hin"}
    with pytest.raises(PriorError, match="no ISO 639-3 code known for language 'xx'"):
        uriel_code("xx")
    with pytest.raises(PriorError, match="unknown kind 'lexical'"):
        uriel_prior(["en", "de"], distances=["lexical"])


@pytest.fixture(scope="module")
def xnli_prior() -> Prior:
    pytest.importorskip("urielplus", reason="the uriel extra (pip install 'xlsweep[uriel]')")
    return uriel_prior(["en", "de", "fr", "es", "sw", "zh", "cdo"])


def test_uriel_distances_order_languages_as_linguists_would(xnli_prior: Prior) -> None:
    p = xnli_prior
    assert p.similarity("en", "en") == 1.0
    assert p.similarity("en", "de") == p.similarity("de", "en")
    assert p.similarity("es", "fr") > p.similarity("es", "zh")  # Romance vs Sino-Tibetan
    assert p.similarity("en", "de") > p.similarity("en", "sw")
    assert min(p.similarity(a, b) for a in p.languages for b in p.languages) >= 0.0
    assert p.similarity("zh", "cdo") > p.similarity("en", "cdo")  # no syntactic data for cdo: other kinds decide


def test_a_language_uriel_lacks_is_one_clear_error(xnli_prior: Prior) -> None:
    with pytest.raises(PriorError, match="URIEL\\+ does not know language 'qqq'"):
        uriel_prior(["en", "qqq"])
