"""Tokenised splits as tensors, and batches cut from them.

A split's features are a dict of equal-length tensors: the model inputs
(``input_ids``, ``attention_mask``, ``token_type_ids``), the training targets
(``labels``, or ``start_positions``/``end_positions`` for QA), and bookkeeping
that never reaches the model: ``example_id`` (the same id for translations of one
example in parallel data), for QA ``example_index`` and ``offset_mapping``, for NER
``word_index``.
Each task's ``featurize`` (see :mod:`xlsweep.tasks`) builds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["Features", "batch_of", "example_ids", "num_rows", "stable_example_id"]

Features = Mapping[str, Tensor]
_NOT_MODEL_INPUTS = ("example_id", "example_index", "offset_mapping", "word_index")


def stable_example_id(s: str) -> int:
    """An int64 for an example's string id: the id itself when it is digits, else 60 bits of its SHA-1.

    Equal strings give equal integers in every language and process, so rows that
    are translations of one another stay aligned (parallel episodes).
    """
    if s.isdigit() and len(s) < 18:
        return int(s)
    return int(hashlib.sha1(s.encode()).hexdigest()[:15], 16)


def example_ids(ids: Sequence[str]) -> Tensor:
    return torch.tensor([stable_example_id(str(i)) for i in ids], dtype=torch.long)  # (N,)


def num_rows(features: Features) -> int:
    return int(features["input_ids"].shape[0])


def batch_of(features: Features, rows: Tensor, device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """The model inputs (and targets) of ``rows``, with padding columns that no row uses trimmed away."""
    batch = {k: v[rows] for k, v in features.items() if k not in _NOT_MODEL_INPUTS}
    if "attention_mask" in batch:
        width = int(batch["attention_mask"].sum(dim=1).max())
        batch = {k: v[:, :width].contiguous() if v.dim() == 2 else v for k, v in batch.items()}  # heads .view()
    return {k: v.to(device) for k, v in batch.items()}
