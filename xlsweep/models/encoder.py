"""Load any HF encoder (hub name or local directory) for a task, and the tiny default's builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["enable_activation_checkpointing", "load_classifier", "load_pretrained", "load_tokenizer",
           "quiet_transformers"]


def enable_activation_checkpointing(model: Any) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant torch checkpointing)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def quiet_transformers() -> None:
    # Loading an encoder into a task head reports the freshly initialised head at
    # warning level on every load; that is expected here, not news.
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_tokenizer(name_or_dir: str | Path) -> PreTrainedTokenizerBase:
    quiet_transformers()
    try:
        return AutoTokenizer.from_pretrained(str(name_or_dir))
    except OSError as err:
        raise OSError(f"cannot load a tokenizer from {str(name_or_dir)!r}: expected a local model directory or "
                      f"a hub name reachable from this machine ({err})") from None


def load_classifier(name_or_dir: str | Path, num_labels: int) -> PreTrainedModel:
    """An encoder with a sequence-classification head of ``num_labels``."""
    return load_pretrained(AutoModelForSequenceClassification, name_or_dir, num_labels=num_labels)


def load_pretrained(auto_class: Any, name_or_dir: str | Path, **kwargs: Any) -> PreTrainedModel:
    """``auto_class.from_pretrained`` (an ``AutoModelFor...`` head) with a clear error when nothing is there."""
    quiet_transformers()
    try:
        return auto_class.from_pretrained(str(name_or_dir), **kwargs)  # type: ignore[no-any-return]
    except OSError as err:
        raise OSError(f"cannot load a model from {str(name_or_dir)!r}: expected a local model directory or "
                      f"a hub name reachable from this machine ({err})") from None
