"""The prior of the pair search: how related two languages are, known before any training.

A prior orders candidates and is a feature of the pooled model (:mod:`xlsweep.pairsearch.model`);
it never removes a candidate. Two sources:

* **planted** — the synthetic benchmark's share of cognate words
  (:meth:`xlsweep.data.synthetic.SyntheticBenchmark.relatedness`), its ground truth;
* **URIEL+** — ``1 − distance`` from the URIEL+ knowledge base (Khan et al., COLING 2025; the
  PyPI package ``urielplus``, data bundled, works offline; on first use it writes its
  working arrays into its own package folder, ``urielplus/database/*.npz``, so that folder
  must be writable). Distances are angular, in [0, 1]; the similarity averages the chosen
  kinds (default genetic, syntactic and geographic), over the kinds URIEL+ has for the pair.

The presets name languages by ISO 639-1 codes (``en``, ``sw``); URIEL+ by ISO 639-3
(``eng``, ``swh``): :data:`ISO639_3` maps them (individual languages where a code is a
macrolanguage: Arabic ``arb``, Chinese ``cmn``, Swahili ``swh``).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_DISTANCES", "ISO639_3", "Prior", "PriorError", "planted_prior", "uriel_code", "uriel_prior"]

ISO639_3: Mapping[str, str] = {
    "ar": "arb", "bg": "bul", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "fr": "fra", "hi": "hin",
    "ru": "rus", "sw": "swh", "th": "tha", "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn", "ja": "jpn",
    "qu": "que", "mi": "mri", "tk": "tuk", "gn": "grn", "it": "ita", "pt": "por", "nl": "nld", "ko": "kor",
    "fa": "pes", "he": "heb", "id": "ind", "fi": "fin", "et": "est", "hu": "hun", "pl": "pol", "cs": "ces",
    "ta": "tam", "te": "tel", "bn": "ben", "mr": "mar", "ka": "kat", "eu": "eus", "yo": "yor", "af": "afr",
}
"""ISO 639-1 (and the presets' codes) → the ISO 639-3 code URIEL+ knows; 3-letter codes pass through."""

DEFAULT_DISTANCES = ("genetic", "syntactic", "geographic")
URIEL_DISTANCES = ("genetic", "syntactic", "featural", "phonological", "inventory", "geographic",
                   "morphological", "script")


class PriorError(ValueError):
    """A prior cannot be built for the languages asked (the message names the language and what is expected)."""


@dataclass(frozen=True)
class Prior:
    """Similarity in [0, 1] between languages (1: the same language); symmetric.

    Attributes:
        name: ``planted``, ``uriel+`` (or anything naming its source).
        table: ``table[a][b]`` for every pair of known languages.
    """

    name: str
    table: Mapping[str, Mapping[str, float]]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.table)

    def similarity(self, a: str, b: str) -> float:
        return float(self.table[a][b])

    def set_similarity(self, languages: Sequence[str], target: str) -> float:
        """A language set's similarity to ``target``: its closest member's."""
        return max(self.similarity(lang, target) for lang in languages)

    def check(self, languages: Sequence[str], where: str = "prior") -> None:
        """Raise :class:`PriorError` naming the first language the prior lacks."""
        for lang in languages:
            if lang not in self.table:
                raise PriorError(f"{where}: the {self.name} prior has no language {lang!r}; it knows "
                                 f"{', '.join(self.languages)}")


def planted_prior(relatedness: Callable[[str, str], float], languages: Sequence[str]) -> Prior:
    """The synthetic benchmark's planted relatedness (share of cognates) as a prior."""
    return Prior("planted", {a: {b: float(relatedness(a, b)) for b in languages} for a in languages})


def uriel_code(code: str) -> str:
    """The ISO 639-3 code URIEL+ uses for ``code`` (an ISO 639-1 code from the table, or 3 letters as is)."""
    if code in ISO639_3:
        return ISO639_3[code]
    if len(code) == 3 and code.isalpha() and code.islower():
        return code
    raise PriorError(f"prior: no ISO 639-3 code known for language {code!r}; expected an ISO 639-1 code of "
                     f"{', '.join(sorted(ISO639_3))} or an ISO 639-3 code (3 lower-case letters)")


def uriel_prior(languages: Sequence[str], *, distances: Sequence[str] = DEFAULT_DISTANCES) -> Prior:
    """``1 − mean URIEL+ distance`` over ``distances`` for every pair of ``languages`` (as a config names them).

    Computed once per process for the same languages and kinds (URIEL+ takes seconds to load).

    Raises:
        PriorError: If ``urielplus`` is not installed, a distance kind is unknown, a language has no
            ISO 639-3 code or URIEL+ does not know it, or no kind has data for a pair.
    """
    return _uriel_prior(tuple(languages), tuple(distances))


@functools.cache
def _uriel_prior(languages: tuple[str, ...], distances: tuple[str, ...]) -> Prior:
    for kind in distances:
        if kind not in URIEL_DISTANCES:
            raise PriorError(f"prior distances: unknown kind {kind!r}; expected some of {', '.join(URIEL_DISTANCES)}")
    codes = {lang: uriel_code(lang) for lang in languages}
    try:
        from urielplus import urielplus
    except ImportError:
        raise PriorError("prior: uriel+ needs the urielplus package: pip install 'xlsweep[uriel]'") from None
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))  # it logs every distance at INFO
    uriel = urielplus.URIELPlus()
    table: dict[str, dict[str, float]] = {a: {a: 1.0} for a in languages}
    for a, b in itertools.combinations(languages, 2):
        values = []
        for kind in distances:
            try:
                values.append(float(uriel.new_distance(kind, [codes[a], codes[b]])))
            except (ValueError, KeyError, ZeroDivisionError) as err:  # unknown, or no shared features of this kind
                if "Unknown languages" in str(err):
                    lang = next((x for x in (a, b) if codes[x] in str(err).rsplit(":", 1)[-1]), a)
                    raise PriorError(f"prior: URIEL+ does not know language {lang!r} (ISO 639-3 {codes[lang]!r}); "
                                     "use languages it has, or pair_search.prior: none") from None
                continue
        if not values:
            raise PriorError(f"prior: URIEL+ has none of the distances {list(distances)} for {a!r} and {b!r}; "
                             f"add kinds (e.g. genetic, geographic) to pair_search.prior_distances")
        table[a][b] = table[b][a] = 1.0 - sum(values) / len(values)
    return Prior("uriel+", table)
