"""MLQA's official exact match and F1, with its language-specific answer normalisation.

A port of ``mlqa_evaluation_v1.py`` (facebookresearch/MLQA). An answer is
normalised as the official script does, in its order: lower-case, remove
punctuation (every Unicode ``P*`` character and ``string.punctuation``), remove
the language's articles, then re-tokenise and join with single spaces. Chinese is
segmented per CJK character ("mixed segmentation"); en, es, hi, vi, de and ar are
split on whitespace. F1 is the token-level overlap of the two normalised answers.

Languages: like the official script, an unknown language is an error. The one
deliberate departure is a named rule, :data:`WHITESPACE` (``"whitespace"``):
whitespace tokens and no articles, the official treatment minus the article list.
Which languages use it is decided from the config, where the data are known
(:func:`normalization` maps a language the official script does not know to it;
validation admits such a language only in the synthetic benchmark, whose invented
languages are whitespace-tokenised by construction, or when a custom benchmark
declares it in ``data.qa_whitespace_languages``).

Scores are fractions in [0, 1], not percentages.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = ["OFFICIAL_LANGUAGES", "WHITESPACE", "exact_match", "f1", "mlqa_scores", "normalization", "normalize_answer",
           "question_scores"]

# The official patterns, verbatim; Arabic's first alternative can never match, so every "ال" goes.
ARTICLES: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile(r"\sال^|ال"),
}
MIXED_SEGMENTATION_LANGS = ("zh",)
WHITESPACE_LANGS = ("en", "es", "hi", "vi", "de", "ar")
OFFICIAL_LANGUAGES = WHITESPACE_LANGS + MIXED_SEGMENTATION_LANGS
"""The languages ``mlqa_evaluation_v1.py`` knows; it raises for any other."""
WHITESPACE = "whitespace"
"""xlsweep's named rule for other languages: whitespace tokens, no articles."""
_CJK_FIRST, _CJK_LAST = "\u4e00", "\u9fa5"  # the official script's CJK range


def _is_punct(ch: str) -> bool:
    """Whether ``ch`` is in the official PUNCT set (Unicode category ``P*`` or ``string.punctuation``)."""
    return unicodedata.category(ch).startswith("P") or ch in string.punctuation


def _mixed_segmentation(text: str) -> list[str]:
    """CJK characters and punctuation are tokens of their own; the runs between them split on whitespace."""
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK_FIRST <= ch <= _CJK_LAST or _is_punct(ch):
            tokens.extend(run.split())
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def normalization(language: str) -> str:
    """The rule ``language``'s answers are normalised with: itself when the official script knows it, else
    :data:`WHITESPACE` (config validation admits only languages declared, or known, to be whitespace-tokenised)."""
    return language if language in OFFICIAL_LANGUAGES else WHITESPACE


def normalize_answer(s: str, language: str) -> str:
    """Lower-case, remove punctuation and ``language``'s articles, and re-join its tokens with single spaces.

    ``language`` is one of :data:`OFFICIAL_LANGUAGES` or :data:`WHITESPACE`; anything else is a ``ValueError``
    (as the official script's ``Unknown Language``).
    """
    if language not in OFFICIAL_LANGUAGES and language != WHITESPACE:
        raise ValueError(f"unknown language {language!r} for MLQA's answer normalisation; the official script knows "
                         f"{', '.join(OFFICIAL_LANGUAGES)}; use {WHITESPACE!r} for whitespace tokens without articles")
    text = "".join(ch for ch in s.lower() if not _is_punct(ch))
    articles = ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _mixed_segmentation(text) if language in MIXED_SEGMENTATION_LANGS else text.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match(prediction: str, gold: str, language: str) -> float:
    """1.0 when the normalised answers are equal, else 0.0."""
    return float(normalize_answer(prediction, language) == normalize_answer(gold, language))


def f1(prediction: str, gold: str, language: str) -> float:
    """Token-level F1 of the normalised answers (0.0 when they share no token, even if both are empty)."""
    predicted = normalize_answer(prediction, language).split()
    expected = normalize_answer(gold, language).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def mlqa_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]], language: str) -> dict[str, float]:
    """Mean over examples of the best EM and F1 against any of the example's gold answers, as fractions."""
    em, f = question_scores(predictions, golds, language)
    return {"em": sum(em) / len(predictions), "f1": sum(f) / len(predictions)}


def question_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]], language: str
                    ) -> tuple[list[float], list[float]]:
    """Per question, the best EM and the best F1 against any of its gold answers (checked as :func:`mlqa_scores`)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} lists of gold answers")
    if not predictions:
        raise ValueError("no predictions to score; expected at least one example")
    if any(isinstance(answers, str) for answers in golds):
        raise ValueError("golds must hold a list of gold answers per example, not a bare string")
    empty = [i for i, answers in enumerate(golds) if len(answers) == 0]
    if empty:
        raise ValueError(f"examples {empty[:5]} have no gold answer; every MLQA example needs at least one")
    pairs = list(zip(predictions, golds, strict=True))
    return ([max(exact_match(p, g, language) for g in answers) for p, answers in pairs],
            [max(f1(p, g, language) for g in answers) for p, answers in pairs])
