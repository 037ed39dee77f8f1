"""MLQA's official EM/F1: per-language articles, Unicode punctuation, Chinese segmentation, hand-computed values."""

from __future__ import annotations

import pytest

from xlsweep.tasks.mlqa_metrics import exact_match, f1, mlqa_scores, normalize_answer

WHITESPACE = "whitespace"  # xlsweep.tasks.mlqa_metrics.WHITESPACE: the named rule for other languages


@pytest.mark.parametrize(("prediction", "gold", "language"), [
    ("the cat", "cat", "en"),
    ("A Cat.", "cat", "en"),
    ("el gato", "gato", "es"),
    ("Los gatos", "gatos", "es"),
    ("der Hund", "Hund", "de"),
    ("einem Hund", "hund", "de"),
    ("cái bàn", "bàn", "vi"),
    ("những con mèo", "con mèo", "vi"),
    ("الكتاب", "كتاب", "ar"),
])
def test_articles_are_removed_per_language(prediction: str, gold: str, language: str) -> None:
    assert exact_match(prediction, gold, language) == 1.0
    assert f1(prediction, gold, language) == 1.0


@pytest.mark.parametrize(("prediction", "gold", "language"), [
    ("the cat", "cat", "hi"),  # Hindi has no article list
    ("the cat", "cat", "zh"),  # nor has Chinese
    ("el gato", "gato", "en"),  # Spanish articles are Spanish only
    ("le chat", "chat", WHITESPACE),  # xlsweep's rule for other languages: no articles
    ("the cat", "cat", WHITESPACE),
])
def test_articles_are_kept_elsewhere(prediction: str, gold: str, language: str) -> None:
    assert exact_match(prediction, gold, language) == 0.0
    # pred tokens [x, y], gold [y]: precision 1/2, recall 1, F1 2/3
    assert f1(prediction, gold, language) == pytest.approx(2 / 3)


def test_arabic_removes_al_anywhere_as_the_official_script_does() -> None:
    # the official pattern '\sال^|ال' removes every "ال", also inside a word
    assert normalize_answer("مالك", "ar") == "م ك"
    assert normalize_answer("البيت", "ar") == "بيت"


@pytest.mark.parametrize(("prediction", "gold", "language"), [
    ("«hola»", "hola", "es"),
    ("¿Dónde?", "dónde", "es"),
    ("U.S.A.", "usa", "en"),
    ("Berlin—Mitte", "berlinmitte", "de"),  # em dash is Unicode punctuation (Pd)
    ("北京。", "北京", "zh"),
    ("北京、上海", "北京上海", "zh"),
    ("「上海」", "上海", "zh"),
    ("कमल।", "कमल", "hi"),  # danda
])
def test_unicode_punctuation_is_removed(prediction: str, gold: str, language: str) -> None:
    assert exact_match(prediction, gold, language) == 1.0


def test_the_whitespace_rule_uses_whitespace_tokens() -> None:
    assert normalize_answer("  Le   CHAT, noir! ", WHITESPACE) == "le chat noir"
    assert normalize_answer("北京大学", WHITESPACE) == "北京大学"  # one whitespace token outside zh
    assert f1("北京大学", "北京", WHITESPACE) == 0.0


@pytest.mark.parametrize("language", ["fr", "ru", "ana", "EN", ""])
def test_an_unknown_language_is_refused_as_the_official_script_does(language: str) -> None:
    for score in (normalize_answer, lambda s, lang: mlqa_scores([s], [[s]], lang)):
        with pytest.raises(ValueError, match=f"unknown language {language!r}.*en, es, hi, vi, de, ar, zh"):
            score("le chat", language)


def test_normalization_maps_official_codes_to_themselves_and_others_to_whitespace() -> None:
    from xlsweep.tasks.mlqa_metrics import normalization

    assert [normalization(lang) for lang in ("en", "zh", "ar", "fr", "ana")] == ["en", "zh", "ar", WHITESPACE,
                                                                                 WHITESPACE]


def test_chinese_is_scored_per_character() -> None:
    assert normalize_answer("北京大学", "zh") == "北 京 大 学"
    # pred 4 characters, gold 2, 2 shared: precision 2/4, recall 2/2, F1 = 2 * 0.5 * 1 / 1.5
    assert f1("北京大学", "北京", "zh") == pytest.approx(2 / 3)
    assert exact_match("北京大学", "北京", "zh") == 0.0
    assert exact_match("北 京", "北京", "zh") == 1.0  # spaces between characters do not matter


def test_chinese_mixed_with_latin_words() -> None:
    assert normalize_answer("北京University of 科学", "zh") == "北 京 university of 科 学"
    # pred [北, 京, university], gold [北, 京, 大, 学, university]: 3 shared, P 3/3, R 3/5, F1 = 2*0.6/1.6
    assert f1("北京 University", "北京大学 university", "zh") == pytest.approx(0.75)


def test_f1_hand_computed_and_degenerate_cases() -> None:
    # pred [big, cat] vs gold [cat]: P 1/2, R 1, F1 2/3
    assert f1("the big cat", "a cat", "en") == pytest.approx(2 / 3)
    # repeated tokens count with multiplicity: pred [cat, cat, dog], gold [cat, dog, dog]: 2 shared, F1 2/3
    assert f1("cat cat dog", "cat dog dog", "en") == pytest.approx(2 / 3)
    assert f1("", "cat", "en") == 0.0
    # both normalise to "": equal (EM 1) but no shared token (F1 0), as in the official script
    assert exact_match("the", "...", "en") == 1.0
    assert f1("the", "...", "en") == 0.0


def test_scores_take_the_best_gold_and_average_examples() -> None:
    predictions = ["the cat", "big cat", "北京大学", "nothing"]
    golds = [["dog", "Cat"], ["cat", "small dog"], ["上海", "北京"], ["something"]]
    scores = mlqa_scores(predictions[:2], golds[:2], "en")
    # example 1: EM max(0, 1) = 1, F1 1; example 2: EM 0, F1 max(2/3, 0) = 2/3
    assert scores == {"em": pytest.approx(0.5), "f1": pytest.approx((1 + 2 / 3) / 2)}
    zh = mlqa_scores(predictions[2:], golds[2:], "zh")
    assert zh == {"em": 0.0, "f1": pytest.approx((2 / 3 + 0) / 2)}
    assert mlqa_scores(["the cat"], [["cat"]], "en") == {"em": 1.0, "f1": 1.0}  # fractions, not percentages


def test_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 lists"):
        mlqa_scores(["a", "b"], [["a"]], "en")
    with pytest.raises(ValueError, match="no predictions"):
        mlqa_scores([], [], "en")
    with pytest.raises(ValueError, match=r"examples \[1\] have no gold answer"):
        mlqa_scores(["a", "b"], [["a"], []], "en")
    with pytest.raises(ValueError, match="not a bare string"):
        mlqa_scores(["cat"], ["cat"], "en")
