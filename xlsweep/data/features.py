"""Tokenised splits as tensors, and batches cut from them.

A split's features are a dict of equal-length tensors: the model inputs
(``input_ids``, ``attention_mask``, ``token_type_ids``), ``labels``, and
``example_id`` (the same id for translations of one example in parallel data).
"""

from __future__ import annotations

from collections.abc import Mapping

import datasets
import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

__all__ = ["Features", "batch_of", "featurize_pairs", "num_rows"]

Features = Mapping[str, Tensor]
_NOT_MODEL_INPUTS = ("example_id",)


def featurize_pairs(ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int) -> dict[str, Tensor]:
    """``[CLS] premise [SEP] hypothesis [SEP]``, padded to the longest row (at most ``max_length``)."""
    for column in ("premise", "hypothesis", "label"):
        if column not in ds.column_names:
            raise ValueError(f"dataset has columns {ds.column_names}; expected premise, hypothesis, label")
    enc = tokenizer(list(ds["premise"]), list(ds["hypothesis"]), padding="longest", truncation=True,
                    max_length=max_length, return_tensors="pt", return_token_type_ids=True)
    ids = list(ds["id"]) if "id" in ds.column_names else list(range(len(ds)))
    return {
        "input_ids": enc["input_ids"],  # (N, T)
        "attention_mask": enc["attention_mask"],  # (N, T)
        "token_type_ids": enc["token_type_ids"],  # (N, T)
        "labels": torch.tensor(list(ds["label"]), dtype=torch.long),  # (N,)
        "example_id": torch.tensor(ids, dtype=torch.long),  # (N,)
    }


def num_rows(features: Features) -> int:
    return int(features["labels"].shape[0])


def batch_of(features: Features, rows: Tensor, device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """The model inputs of ``rows``, with padding columns that no row uses trimmed away."""
    batch = {k: v[rows] for k, v in features.items() if k not in _NOT_MODEL_INPUTS}
    if "attention_mask" in batch:
        width = int(batch["attention_mask"].sum(dim=1).max())
        batch = {k: v[:, :width] if v.dim() == 2 else v for k, v in batch.items()}
    return {k: v.to(device) for k, v in batch.items()}
