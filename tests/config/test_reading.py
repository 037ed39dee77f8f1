"""Reading a config file (issue 12, point 10): encodings, duplicate keys, alias bombs, short error excerpts."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlsweep.config import ConfigError
from xlsweep.plan import load_sweep, parse_sweep

MAX_NODES = 100_000  # xlsweep.config.yaml_reader.MAX_NODES, the documented limit

BASE = "meta: {support: [ana], query: [bel]}\n"


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    return str(info.value)


def test_a_file_that_is_not_utf8_is_one_error_naming_the_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.encode() + "name: caf\u00e9\n".encode("latin-1"))
    message = _error(path)
    assert message.startswith(f"{path}: not UTF-8 text (byte 0xe9 at offset")
    assert "line 2" in message and "save the config as UTF-8" in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_sweep(path).trial.meta.query == ("bel",)


@pytest.mark.parametrize(("text", "key", "line", "first"), [
    (BASE + "seed: 1\nseed: 2\n", "'seed'", 3, 2),
    ("meta:\n  support: [ana]\n  query: [bel]\n  inner_lr: 0.1\n  inner_lr: 0.2\n", "'inner_lr'", 5, 4),
    ("meta: {support: [ana], query: [bel], query: [cor]}\n", "'query'", 1, 1),
    (BASE + "grid:\n  seed: [0, 1]\n  seed: [2]\n", "'seed'", 4, 3),
])
def test_a_duplicate_key_is_refused_naming_the_key_and_its_lines(tmp_path: Path, text: str, key: str, line: int,
                                                                  first: int) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    assert _error(path) == (f"{path}: line {line}: duplicate key {key} (first at line {first}); a key may appear "
                            "once per mapping — remove one of them")


def test_a_merge_key_may_still_be_overridden(tmp_path: Path) -> None:
    from xlsweep.config.yaml_reader import read_yaml

    path = tmp_path / "merge.yaml"
    path.write_text("a: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n")
    assert read_yaml(path) == {"a": {"x": 1, "y": 2}, "c": {"x": 1, "y": 3}}


def test_an_alias_bomb_is_refused_quickly_without_expanding_it(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 scalars
    lines += ["meta: {support: [ana], query: [bel], adapt: *a8}"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    message = _error(path)
    assert f"expands (through its aliases) to more than {MAX_NODES:,} YAML nodes" in message
    assert len(message) < 400


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(BASE + "eval: {targets: &t [bel, *t]}\n")
    assert "an alias refers to the value that contains it" in _error(path)


def test_aliases_of_a_normal_size_still_work(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text("meta: {support: &s [ana], query: [bel]}\neval: {targets: *s}\n")
    assert load_sweep(path).trial.eval.targets == ("ana",)


def test_deeply_nested_yaml_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("meta: " + "[" * 5000 + "]" * 5000 + "\n")
    message = _error(path)
    assert "nested too deeply" in message or "not valid YAML" in message


@pytest.mark.parametrize("raw", [
    {"meta": {"support": ["ana"], "query": ["bel"], "inner_lr": "x" * 100_000}},
    {"meta": {"support": ["ana"], "query": ["bel"], "adapt": [["y" * 1000] * 1000]}},
    {"meta": {"support": ["ana"], "query": ["k" * 100_000]}},
    {"meta": {"support": ["ana"], "query": ["bel"]}, "grid": {"seed": "z" * 100_000}},
    {"meta": {"support": ["ana"], "query": ["bel"]}, "grid": {"aux": {"w" * 100_000: 1}}},
    {"meta": {"support": ["ana"], "query": ["bel"]}, "k" * 100_000: 1},
    {"meta": {"support": ["ana"], "query": ["bel"]}, "name": "n " * 100_000},
])
def test_errors_quote_only_a_short_excerpt_of_a_value(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_sweep(raw)
    assert len(str(info.value)) < 600, str(info.value)[:300]


def test_short_elides_long_and_nested_values() -> None:
    from xlsweep.config.yaml_reader import short

    assert short("abc") == "'abc'"
    assert len(short("x" * 10_000)) < 130 and "..." in short("x" * 10_000)
    nested: list[object] = [1]
    for _ in range(50):
        nested = [nested] * 10  # a DAG 10**50 leaves wide: repr would never end
    assert len(short(nested)) < 130
