"""Tests for :mod:`xlsweep.cache`: build once, content-addressed directories, atomic failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlsweep.cache import cached, fingerprint


class _Builder:
    """A build function that counts its calls and writes one file."""

    def __init__(self, content: str = "built") -> None:
        self.calls = 0
        self.content = content

    def __call__(self, out: Path) -> None:
        self.calls += 1
        (out / "artefact.txt").write_text(self.content)


def test_builds_once_then_returns_the_same_directory(tmp_path: Path) -> None:
    build = _Builder()
    first = cached(tmp_path, "features", {"lang": "ana", "n": 3}, build)
    second = cached(tmp_path, "features", {"lang": "ana", "n": 3}, build)
    assert build.calls == 1
    assert first == second
    assert first == (tmp_path / f"features-{fingerprint({'lang': 'ana', 'n': 3})}").resolve()
    assert (first / "artefact.txt").read_text() == "built"
    assert json.loads((first / "key.json").read_text()) == {"lang": "ana", "n": 3}


def test_a_different_key_or_kind_gives_another_directory(tmp_path: Path) -> None:
    build = _Builder()
    a = cached(tmp_path, "features", {"lang": "ana"}, build)
    b = cached(tmp_path, "features", {"lang": "bel"}, build)
    c = cached(tmp_path, "encoder", {"lang": "ana"}, build)
    assert len({a, b, c}) == 3
    assert build.calls == 3


def test_a_failed_build_leaves_nothing_behind_and_can_be_retried(tmp_path: Path) -> None:
    def failing(out: Path) -> None:
        (out / "half.txt").write_text("half-written")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        cached(tmp_path, "stage1", {"seed": 0}, failing)
    final = tmp_path / f"stage1-{fingerprint({'seed': 0})}"
    assert not final.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []

    build = _Builder()
    assert cached(tmp_path, "stage1", {"seed": 0}, build) == final.resolve()
    assert build.calls == 1


def test_fingerprint_ignores_dict_order() -> None:
    assert fingerprint({"a": 1, "b": {"x": 2, "y": 3}}) == fingerprint({"b": {"y": 3, "x": 2}, "a": 1})


def test_fingerprint_depends_on_values_and_is_short_hex() -> None:
    key = fingerprint({"a": 1})
    assert key != fingerprint({"a": 2})
    assert key != fingerprint({"a": "1"})
    assert len(key) == 16 and int(key, 16) >= 0
    assert fingerprint({"a": 1}) == key  # stable across calls
