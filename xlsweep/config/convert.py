"""Parsed YAML → the typed, frozen classes of :mod:`xlsweep.config.schema`, and back.

:func:`convert` checks a value against a schema type (unknown keys, wrong types, non-finite
numbers, seeds out of range are one :class:`~xlsweep.config.errors.ConfigError` naming the key);
:func:`set_path` sets one dotted key of a config, type-checked; :func:`to_dict` turns a config into
plain YAML-able data again.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from xlsweep.config.errors import ConfigError
from xlsweep.config.yaml_reader import cut, short

__all__ = ["MAX_COUNT", "MAX_SEED", "REPLACED_KEYS", "build", "canonical", "convert", "get_path", "set_path", "to_dict"]

MAX_SEED = 2**32 - 1
"""The largest seed: numpy's legacy ``RandomState`` (which Optuna's sampler uses) takes 0 to 2**32 - 1; torch,
``random`` and ``default_rng`` take more, but every seed field has the one range every consumer accepts."""

MAX_COUNT = 2**31 - 1
"""The largest magnitude of every other integer (steps, sizes, epochs, limits, ...): what an int32 holds, which
torch, numpy and Ray Tune's loggers (a Python integer beyond int64 is an object array to them) all take."""

REPLACED_KEYS = {  # an old key's message names the key that replaces it, not "unknown key"
    "metaxl.target_in_step": "metaxl.step (true: authors-code, which now splits one target batch in halves as "
                             "the authors' code does; false: paper)",
    "metaxl.residual": "metaxl.rtn (paper: Eq. 1 without a residual; authors-code and identity-init: residual)",
    "metaxl.gate": "metaxl.rtn (authors-code: residual with the authors' sigmoid gate)",
}


def _expected(tp: Any) -> str:
    """What a value of schema type ``tp`` looks like, in words (for error messages)."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_expected(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of strings to {_expected(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(tp))}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _is_seed(path: str) -> bool:
    """Whether the field at ``path`` (``stage1.seed``, ``data.limit_seed``, ``grid.seed``) holds a seed."""
    name = re.sub(r"\[.*?\]$", "", path.rpartition(".")[2])
    return name == "seed" or name.endswith("_seed")


def convert(value: Any, tp: Any, path: str) -> Any:
    """``value`` read as schema type ``tp`` (a section becomes its dataclass); :class:`ConfigError` naming ``path``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: got {short(value)}; expected {_expected(tp)}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return convert(value, option, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: got {short(value)}; expected {' or '.join(map(_expected, typing.get_args(tp)))}")
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            value = [value]  # a single language (or layer) may be written without brackets
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: got {short(value)}; expected {_expected(tp)}")
        return tuple(convert(item, item_type, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: got {short(value)}; expected {_expected(tp)}")
        return {convert(k, key_type, f"{path} key"): convert(v, value_type, f"{path}[{short(k)}]")
                for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path or 'config'}: got {short(value)}; expected {_expected(tp)}")
        return build(tp, value, path)
    return _scalar(value, tp, path)


def _scalar(value: Any, tp: Any, path: str) -> Any:
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and _is_seed(path) and not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{path}: got {short(value)}; expected a seed from 0 to 2**32 - 1 ({MAX_SEED})")
        if ok and not _is_seed(path) and abs(value) > MAX_COUNT:
            raise ConfigError(f"{path}: got {short(value)}; expected an integer of at most 2**31 - 1 ({MAX_COUNT:,})")
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{path}: got {value!r}; expected a finite number")
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is object:
        ok = True
    else:  # pragma: no cover - a schema type this converter does not know
        raise TypeError(f"unsupported config type {tp!r} at {path}")
    if not ok:
        raise ConfigError(f"{path}: got {short(value)} ({type(value).__name__}); expected {_expected(tp)}")
    return value


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    """A schema class's field types, evaluated once per class (``typing.get_type_hints`` is slow)."""
    return typing.get_type_hints(cls)


def build(cls: Any, data: Mapping[str, Any], path: str) -> Any:
    """The schema class ``cls`` from the mapping ``data`` at ``path``: every key known, every value typed."""
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    for key in data:
        if f"{prefix}{key}" in REPLACED_KEYS:
            raise ConfigError(f"{prefix}{key}: replaced by {REPLACED_KEYS[f'{prefix}{key}']}")
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{prefix}{cut(str(key))}: unknown key{hint}; allowed keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = convert(data[name], hints[name], prefix + name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}: missing; expected {_expected(hints[name])}")
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A config as plain YAML-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def canonical(value: Any) -> str:
    """A value as comparable text, after type normalisation (dict order and tuple/list do not matter)."""
    return json.dumps(to_dict(value), sort_keys=True, default=repr)


def get_path(cfg: Any, dotted: str) -> Any:
    """The value at the dotted key ``dotted`` (``meta.inner_lr``) of ``cfg``."""
    for name in dotted.split("."):
        cfg = getattr(cfg, name)
    return cfg


def set_path(cfg: Any, dotted: str, value: Any, *, where: str = "") -> Any:
    """A copy of ``cfg`` with the field at ``dotted`` (``meta.inner_lr``) set to ``value``, type-checked.

    ``where`` prefixes error messages (e.g. ``grid.`` for a grid axis).
    """
    head, _, rest = dotted.partition(".")
    names = [f.name for f in dataclasses.fields(cfg)]
    if head not in names:
        replaced = next((v for k, v in REPLACED_KEYS.items() if f"{where}{dotted}".endswith(k)), None)
        if replaced is not None:
            raise ConfigError(f"{where}{dotted}: replaced by {replaced}")
        close = difflib.get_close_matches(head, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}{dotted}: unknown key {short(head)}{hint}; allowed keys: {', '.join(names)}")
    if rest:
        child = getattr(cfg, head)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(f"{where}{dotted}: {short(head)} is a value, not a section")
        return dataclasses.replace(cfg, **{head: set_path(child, rest, value, where=f"{where}{head}.")})
    hints = _hints(cfg.__class__)
    return dataclasses.replace(cfg, **{head: convert(value, hints[head], f"{where}{dotted}")})
