"""Language families of the synthetic benchmark: the default tree, an explicit list, or a random tree.

A family is a tuple of :class:`~xlsweep.data.synthetic.Language` nodes, parents before
children. ``data.synthetic.languages`` in a config chooses one:

* ``[]`` (the default): :data:`~xlsweep.data.synthetic.DEFAULT_FAMILY`, six languages —
  what the demo and every figure of the docs use;
* a number ``N`` (2 to 24): :func:`random_family` ``(N, seed=data.synthetic.family_seed)``,
  a proto-language with two to four branches (some split again), inherit rates spread so
  relatedness varies from close cousins to distant ones, some SOV/VSO languages, and
  sometimes an isolate in its own script;
* a list of ``{code, parent, inherit, order, script, spoken}`` mappings: that tree.

The planted relatedness (:func:`~xlsweep.data.synthetic.expected_relatedness`, realised
by :meth:`~xlsweep.data.synthetic.SyntheticBenchmark.relatedness`) stays the ground truth
of every family.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from typing import Any

from xlsweep.data.synthetic import DEFAULT_FAMILY, Language

__all__ = ["MAX_RANDOM_LANGUAGES", "RANDOM_CODES", "explicit_family", "family_lines", "random_family",
           "resolve_family", "spoken"]

RANDOM_CODES = ("ana", "bel", "cor", "dun", "eki", "fen", "gor", "hal", "ira", "jun", "kel", "lom", "mer", "nov",
                "ost", "pim", "rul", "sav", "tem", "ulo", "vin", "wes", "yar")
"""Codes of a random family's related languages, in order (``ana`` is always one: the default source)."""
ISOLATE_CODE = "zul"
MAX_RANDOM_LANGUAGES = len(RANDOM_CODES) + 1
_BRANCHES = ("west", "east", "north", "south")
_ORDERS, _ORDER_WEIGHTS = ("SVO", "SOV", "VSO"), (0.6, 0.25, 0.15)


def random_family(n: int, *, seed: int = 0) -> tuple[Language, ...]:
    """A random tree of ``n`` spoken languages, deterministic in ``seed``.

    ``proto`` (unspoken) has 2–4 branches (unspoken; a branch with four or more members
    may split once more), each keeping ``proto``'s word with probability 0.3–0.85; every
    spoken language keeps its parent's with probability 0.55–0.97. Word orders are SVO
    (60 %), SOV (25 %) or VSO (15 %), ``ana`` (the default source) is SVO. With six or more
    languages, half of the seeds make the last one, ``zul``, an isolate in its own script.

    Raises:
        ValueError: If ``n`` is not in 2..24.
    """
    if not 2 <= n <= MAX_RANDOM_LANGUAGES:
        raise ValueError(f"a random family has 2 to {MAX_RANDOM_LANGUAGES} languages, got {n}")
    rng = random.Random(f"family-{seed}")
    isolate = n >= 6 and rng.random() < 0.5
    codes = list(RANDOM_CODES[: n - int(isolate)])
    n_branches = 1 if len(codes) < 4 else rng.randint(2, min(4, len(codes) // 2))
    nodes = [Language("proto", None, 0.0, spoken=False)]
    members: dict[str, list[str]] = {}
    shuffled = rng.sample(codes, len(codes))
    for i, branch in enumerate(_BRANCHES[:n_branches]):
        nodes.append(Language(branch, "proto", round(rng.uniform(0.3, 0.85), 2), spoken=False))
        members[branch] = [shuffled[i]]
    for code in shuffled[n_branches:]:
        members[rng.choice(_BRANCHES[:n_branches])].append(code)
    parent_of: dict[str, str] = {}
    for branch, langs in members.items():
        if len(langs) >= 4 and rng.random() < 0.5:  # a sub-branch: closer cousins inside the branch
            sub = f"{branch}2"
            nodes.append(Language(sub, branch, round(rng.uniform(0.7, 0.95), 2), spoken=False))
            for code in langs[: len(langs) // 2]:
                parent_of[code] = sub
        for code in langs:
            parent_of.setdefault(code, branch)
    for code in codes:  # alphabetical: ana first
        order = "SVO" if code == "ana" else rng.choices(_ORDERS, _ORDER_WEIGHTS)[0]
        nodes.append(Language(code, parent_of[code], round(rng.uniform(0.55, 0.97), 2), order=order))
    if isolate:
        nodes.append(Language(ISOLATE_CODE, None, 0.0, order=rng.choices(_ORDERS, _ORDER_WEIGHTS)[0],
                              script="other"))
    return tuple(nodes)


def explicit_family(specs: Sequence[Any]) -> tuple[Language, ...]:
    """The tree of ``specs`` (objects with code, parent, inherit, order, script, spoken; parent ``""``: a root).

    Nodes are reordered so that parents precede children.

    Raises:
        ValueError: Naming the node, for a repeated code, an unknown parent, a cycle, an inherit
            rate outside [0, 1], an unknown order or script, or a tree without a spoken language.
    """
    nodes: dict[str, Language] = {}
    for i, spec in enumerate(specs):
        if not spec.code:
            raise ValueError(f"[{i}].code: empty; expected a short language code such as 'ana'")
        if spec.code in nodes:
            raise ValueError(f"[{i}].code: {spec.code!r} appears twice; codes must be unique")
        if not 0.0 <= spec.inherit <= 1.0:
            raise ValueError(f"[{i}].inherit: got {spec.inherit}; expected a probability in [0, 1]")
        if spec.order not in _ORDERS or spec.script not in ("latin", "other"):
            raise ValueError(f"[{i}]: order {spec.order!r} / script {spec.script!r}; expected one of "
                             f"{list(_ORDERS)} / 'latin' or 'other'")
        nodes[spec.code] = Language(spec.code, spec.parent or None, spec.inherit, order=spec.order,
                                    script=spec.script, spoken=spec.spoken)
    for i, lang in enumerate(nodes.values()):
        if lang.parent is not None and lang.parent not in nodes:
            raise ValueError(f"[{i}].parent: {lang.parent!r} is not a language of the list; expected one of "
                             f"{list(nodes)} or '' (a root)")
    ordered: list[Language] = []
    placed: set[str] = set()
    while len(ordered) < len(nodes):
        ready = [lang for lang in nodes.values() if lang.code not in placed
                 and (lang.parent is None or lang.parent in placed)]
        if not ready:
            stuck = sorted(code for code in nodes if code not in placed)
            raise ValueError(f"parents form a cycle among {stuck}; expected a tree")
        ordered += ready
        placed |= {lang.code for lang in ready}
    if not any(lang.spoken for lang in ordered):
        raise ValueError("no spoken language; expected at least one node with spoken: true")
    return tuple(ordered)


@cache
def _resolve(languages: Any, family_seed: int) -> tuple[Language, ...]:
    if languages in ((), None):
        return DEFAULT_FAMILY
    if isinstance(languages, int):
        return random_family(languages, seed=family_seed)
    return explicit_family(languages)


def resolve_family(synthetic: Any) -> tuple[Language, ...]:
    """The family a ``data.synthetic`` config section describes (``languages``, ``family_seed``).

    Raises:
        ValueError: If the section describes no valid family (the message names the problem).
    """
    return _resolve(synthetic.languages, synthetic.family_seed)


def spoken(family: Sequence[Language]) -> tuple[str, ...]:
    """Codes of the languages with data, in the family's order."""
    return tuple(lang.code for lang in family if lang.spoken)


def family_lines(family: Sequence[Language], relatedness: Any) -> list[str]:
    """``xlsweep languages``'s table: each spoken language's parent, order and relatedness to every other.

    ``relatedness(a, b)`` gives the share of cognate words (realised or expected).
    """
    info = {lang.code: lang for lang in family}
    langs = spoken(family)
    lines = ["lang  parent  order  " + " ".join(f"{b:>5}" for b in langs)]
    for a in langs:
        row = " ".join(f"{relatedness(a, b):5.2f}" for b in langs)
        lines.append(f"{a:<5} {info[a].parent or '-':<7} {info[a].order:<6} {row}")
    return lines
