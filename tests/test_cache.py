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


# --------------------------------------------------------------------- content digests (issue 12, points 1 and 13)
def test_file_digest_is_the_sha256_of_the_content_and_memoised_on_disk(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import os

    from xlsweep import cache

    data = tmp_path / "train.tsv"
    data.write_bytes(b"a\tb\n")
    old = 1_600_000_000
    os.utime(data, (old, old))  # settled: not modified within the last seconds
    memo = tmp_path / "memo"
    assert cache.file_digest(data, memo) == hashlib.sha256(b"a\tb\n").hexdigest()
    assert str(data) in json.loads((memo / cache.DIGESTS).read_text())

    hashed: list[Path] = []
    real = cache._sha256
    monkeypatch.setattr(cache, "_sha256", lambda p: hashed.append(p) or real(p))
    monkeypatch.setattr(cache, "_seen", {})  # a new process: only the memo file is left
    assert cache.file_digest(data, memo) == hashlib.sha256(b"a\tb\n").hexdigest()
    assert hashed == []  # from the memo, not hashed again


def test_a_file_rewritten_in_place_is_hashed_again_even_with_its_size_and_mtime_restored(tmp_path: Path) -> None:
    import hashlib
    import os

    from xlsweep.cache import file_digest

    data = tmp_path / "test.tsv"
    data.write_bytes(b"label=0\n")
    os.utime(data, (1_600_000_000, 1_600_000_000))
    before = file_digest(data, tmp_path / "memo")
    data.write_bytes(b"label=1\n")  # same size
    os.utime(data, (1_600_000_000, 1_600_000_000))  # and the old mtime (rsync -t, cp -p): the ctime still moves
    assert file_digest(data, tmp_path / "memo") == hashlib.sha256(b"label=1\n").hexdigest() != before


def test_a_freshly_written_file_is_not_memoised(tmp_path: Path) -> None:
    """A file modified within the last seconds may change again without its mtime moving (a coarse clock)."""
    from xlsweep import cache

    data = tmp_path / "fresh.txt"
    data.write_text("x")
    cache.file_digest(data, tmp_path / "memo")
    assert not (tmp_path / "memo" / cache.DIGESTS).exists()
