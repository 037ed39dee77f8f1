"""Read a config file's YAML strictly: UTF-8 only, no duplicate keys, bounded size after alias expansion.

PyYAML's safe loader accepts three things a config must not contain:

* **Duplicate keys**: ``lr: 1`` then ``lr: 2`` in one mapping silently keeps the last. Here it is an
  error naming the key and both lines. (A ``<<`` merge key may still be overridden: that is what it is for.)
* **Alias bombs**: ``a: &a [x, x]``, ``b: &b [*a, *a]``, ... builds a value whose expanded size doubles
  per line; anything that walks it (validation, an error message, MLflow params) then runs for hours.
  The loader counts the nodes of the value *as expanded* before building anything and refuses more than
  :data:`MAX_NODES` (a real config has a few hundred), and refuses an alias that refers to the node
  that contains it (an infinitely deep value).
* **Other encodings**: a file that is not UTF-8 is one error naming the byte offset and line.

:func:`short` keeps every value quoted in an error message to a short excerpt.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_NODES", "YamlError", "cut", "read_yaml", "short"]

MAX_NODES = 100_000
"""The most YAML nodes (scalars, lists, mappings) a config may hold once its aliases are expanded."""

_EXCERPT = 120  # characters of a value quoted in an error message
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = _repr.maxlong = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def short(value: Any) -> str:
    """``repr(value)`` cut to a short excerpt (nested and long values elided with ``...``)."""
    text = _repr.repr(value)
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


class YamlError(ValueError):
    """The file is not a readable config (encoding, YAML syntax, duplicate keys, size)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` (no dot) as a float, refuses duplicate keys and bounds the expanded size."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeConstructor reports it below
                continue
            if first is not None:
                raise YamlError(f"line {line}: duplicate key {short(key)} (first at line {first}); a key may "
                                "appear once per mapping — remove one of them")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return self.construct_document(node)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _check_size(root: yaml.Node) -> None:
    """Refuse a document whose alias-expanded size exceeds :data:`MAX_NODES`, or that contains itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise YamlError(f"line {node.start_mark.line + 1}: an alias refers to the value that contains it "
                            "(an infinitely deep value); expected a finite config")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(id(node))
        if total > MAX_NODES:
            raise YamlError(f"line {node.start_mark.line + 1}: the value here expands (through its aliases) to "
                            f"more than {MAX_NODES:,} YAML nodes; a config has a few hundred — check the anchors (&) "
                            "and aliases (*)")
        sizes[id(node)] = total
        return total

    size(root)


def read_yaml(path: Path) -> Any:
    """The parsed YAML of the file at ``path``; :class:`YamlError` for any problem (the message omits the path)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise YamlError(f"not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start}, line {line}); "
                        "save the config as UTF-8") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlError("nested too deeply to read; expected a config of a few levels of sections") from None
    except yaml.YAMLError as err:
        raise YamlError(f"not valid YAML ({cut(str(err), 400)})") from None


def cut(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (a key or an error quoted in a message)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
