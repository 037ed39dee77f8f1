"""Load any HF encoder (hub name or local directory) for a task, and the tiny default's builder."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import transformers
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["enable_activation_checkpointing", "load_pretrained", "load_tokenizer",
           "loading_report", "quiet_transformers"]


def enable_activation_checkpointing(model: Any) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant torch checkpointing)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def quiet_transformers() -> None:
    # Loading an encoder into a task head reports the freshly initialised head at
    # warning level on every load; that is expected here, not news. What else it says
    # (a new pooler, unused weights) is kept once per load: loading_report().
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_tokenizer(name_or_dir: str | Path) -> PreTrainedTokenizerBase:
    quiet_transformers()
    try:
        return AutoTokenizer.from_pretrained(str(name_or_dir))
    except OSError as err:
        raise OSError(f"cannot load a tokenizer from {str(name_or_dir)!r}: expected a local model directory or "
                      f"a hub name reachable from this machine ({err})") from None


def load_pretrained(auto_class: Any, name_or_dir: str | Path, **kwargs: Any) -> PreTrainedModel:
    """``auto_class.from_pretrained`` (an ``AutoModelFor...`` head) with a clear error when nothing is there.

    transformers' own loading report is silenced (:func:`quiet_transformers`); what it would say is kept
    for :func:`loading_report`.
    """
    quiet_transformers()
    try:
        model, info = auto_class.from_pretrained(str(name_or_dir), output_loading_info=True, **kwargs)
    except OSError as err:
        raise OSError(f"cannot load a model from {str(name_or_dir)!r}: expected a local model directory or "
                      f"a hub name reachable from this machine ({err})") from None
    _LOADING[model] = _describe_loading(model, info, str(name_or_dir))
    return model  # type: ignore[no-any-return]


_LOADING: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def loading_report(model: Any) -> str:
    """One line on how :func:`load_pretrained` filled ``model``: its new task head (expected), any other newly
    initialised weights (e.g. a pooler the checkpoint lacked), resized and unused checkpoint weights."""
    return _LOADING.get(model, f"{type(model).__name__}: not loaded by xlsweep.models.encoder.load_pretrained")


def _groups(keys: Iterable[str], limit: int = 6) -> str:
    """Parameter names grouped by module (``bert.pooler.dense.weight`` → ``bert.pooler.dense``), a few shown."""
    modules = sorted({key.rsplit(".", 1)[0] if "." in key else key for key in keys})
    shown = ", ".join(modules[:limit])
    return shown + (f" and {len(modules) - limit} more" if len(modules) > limit else "")


def _describe_loading(model: Any, info: dict[str, Any], source: str) -> str:
    prefix = f"{getattr(model, 'base_model_prefix', '')}."
    missing = set(info.get("missing_keys") or ())
    head = {k for k in missing if prefix == "." or not k.startswith(prefix)}
    encoder = missing - head
    mismatched = [k[0] if isinstance(k, tuple) else k for k in info.get("mismatched_keys") or ()]
    unused = set(info.get("unexpected_keys") or ())
    parts = [f"loaded {source} into {type(model).__name__}: "
             + (f"the task head ({_groups(head)}) is new, as expected (trained from here)" if head
                else "no new task head")]
    if encoder:
        parts.append(f"also newly initialised, not in the checkpoint: {_groups(encoder)}")
    if mismatched:
        parts.append(f"re-initialised for a shape mismatch: {_groups(mismatched)}")
    if unused:
        parts.append(f"unused checkpoint weights: {_groups(unused)}")
    if not (encoder or mismatched):
        parts.append("every encoder weight came from the checkpoint")
    return "; ".join(parts)
