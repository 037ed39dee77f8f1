"""Extractive QA features over overlapping document windows, and span decoding back to answer text.

:func:`featurize_qa` follows Hugging Face's ``run_qa.py``: ``question`` and
``context`` are tokenised as a pair, only the context is truncated, and a long
context overflows into windows that share ``doc_stride`` tokens. A window is
trained to point at the first gold answer when that answer lies wholly inside
it, else at index 0 (the ``[CLS]`` token). ``offset_mapping`` keeps the character
span of every context token and ``(-1, -1)`` elsewhere, so decoding never needs
the tokenizer again.

:func:`decode_spans` picks, for every example, the best valid ``(start, end)``
pair over all of its windows and cuts the answer out of the original context.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from xlsweep.data.features import example_ids

__all__ = ["decode_spans", "featurize_qa"]

NO_ANSWER = 0  # the [CLS] index, the target of a window that does not hold the answer
NOT_CONTEXT = -1  # offset_mapping entry of question, special and padding tokens


def _answer_tokens(offsets: Tensor, is_context: Tensor, start_char: int, end_char: int) -> tuple[int, int]:
    """Token indices of the character span ``[start_char, end_char)`` in one window, or (0, 0) if not inside.

    ``offsets`` (T, 2) and ``is_context`` (T,) describe the window; the rule is
    ``run_qa.py``'s: the start is the last context token starting at or before
    ``start_char``, the end the first context token ending at or after ``end_char``.
    """
    context = torch.nonzero(is_context).flatten()  # (C,)
    if context.numel() == 0:
        return NO_ANSWER, NO_ANSWER
    starts, ends = offsets[context, 0], offsets[context, 1]  # (C,), (C,)
    if starts[0] > start_char or ends[-1] < end_char:
        return NO_ANSWER, NO_ANSWER
    start = context[torch.nonzero(starts <= start_char).flatten()[-1]]
    end = context[torch.nonzero(ends >= end_char).flatten()[0]]
    return int(start), int(end)


def featurize_qa(ds: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                 doc_stride: int) -> dict[str, Tensor]:
    """Tokenise ``ds`` (id, context, question, answers) into one row per document window.

    Returns ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the
    tokenizer uses them), each (N, T); ``start_positions``, ``end_positions``,
    ``example_id`` and ``example_index`` (the row of ``ds``), each (N,); and
    ``offset_mapping`` (N, T, 2), ``(-1, -1)`` for every token that is not context.
    """
    if not tokenizer.is_fast:
        raise ValueError(f"QA needs a fast tokenizer (offset mappings, overflowing windows); "
                         f"got {type(tokenizer).__name__}")
    if len(ds) == 0:
        raise ValueError("QA featurisation got an empty dataset; expected at least one example")
    with_types = "token_type_ids" in tokenizer.model_input_names
    enc = tokenizer([q.lstrip() for q in ds["question"]], list(ds["context"]), truncation="only_second",
                    max_length=max_length, stride=doc_stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="longest", return_token_type_ids=with_types,
                    return_tensors="pt")
    example_index = enc["overflow_to_sample_mapping"].long()  # (N,)
    offsets = enc["offset_mapping"].long()  # (N, T, 2)
    is_context = torch.tensor([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(example_index))])  # (N, T)
    ids, answers = list(ds["id"]), list(ds["answers"])
    positions = []
    for window, row in enumerate(example_index.tolist()):
        texts, starts = answers[row]["text"], answers[row]["answer_start"]
        if not texts:
            positions.append((NO_ANSWER, NO_ANSWER))
            continue
        start_char = int(starts[0])
        positions.append(_answer_tokens(offsets[window], is_context[window], start_char, start_char + len(texts[0])))
    features = {
        "input_ids": enc["input_ids"],  # (N, T)
        "attention_mask": enc["attention_mask"],  # (N, T)
        "start_positions": torch.tensor([s for s, _ in positions], dtype=torch.long),  # (N,)
        "end_positions": torch.tensor([e for _, e in positions], dtype=torch.long),  # (N,)
        "example_id": example_ids([ids[row] for row in example_index.tolist()]),  # (N,)
        "example_index": example_index,  # (N,)
        "offset_mapping": offsets.masked_fill(~is_context.unsqueeze(-1), NOT_CONTEXT),  # (N, T, 2)
    }
    if with_types:
        features["token_type_ids"] = enc["token_type_ids"]  # (N, T)
    return features


def _check_decode_inputs(start_logits: Tensor, end_logits: Tensor, offset_mapping: Tensor, example_index: Tensor,
                         n_contexts: int, n_best: int, max_answer_length: int) -> None:
    if n_best < 1 or max_answer_length < 1:
        raise ValueError(f"n_best and max_answer_length must be >= 1; got {n_best} and {max_answer_length}")
    n = example_index.shape[0]
    if (example_index.dim() != 1 or start_logits.dim() != 2 or end_logits.dim() != 2 or offset_mapping.dim() != 3
            or offset_mapping.shape[-1] != 2 or {start_logits.shape[0], end_logits.shape[0], offset_mapping.shape[0]}
            != {n}):
        raise ValueError(f"expected start/end logits (N, T), offset_mapping (N, T, 2) and example_index (N,); got "
                         f"{tuple(start_logits.shape)}, {tuple(end_logits.shape)}, {tuple(offset_mapping.shape)} "
                         f"and {tuple(example_index.shape)}")
    if n and (int(example_index.min()) < 0 or int(example_index.max()) >= n_contexts):
        raise ValueError(f"example_index must lie in [0, {n_contexts}) for {n_contexts} contexts; got values in "
                         f"[{int(example_index.min())}, {int(example_index.max())}]")


def _best_window_spans(start_logits: Tensor, end_logits: Tensor, is_context: Tensor, *, n_best: int,
                       max_answer_length: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The best valid (start, end) of every window among its ``n_best`` best context starts and ends.

    All inputs are (N, W). Returns ``score``, ``start``, ``end`` and ``found``, each
    (N,); ``found`` is False where a window has no valid pair (then the rest is junk).
    """
    k = min(n_best, start_logits.shape[1])
    neg_inf = torch.tensor(float("-inf"))
    top_start = torch.where(is_context, start_logits, neg_inf).topk(k, dim=1).indices  # (N, k)
    top_end = torch.where(is_context, end_logits, neg_inf).topk(k, dim=1).indices  # (N, k)
    s, e = top_start.unsqueeze(2), top_end.unsqueeze(1)  # (N, k, 1), (N, 1, k)
    valid = ((e >= s) & (e - s + 1 <= max_answer_length)
             & is_context.gather(1, top_start).unsqueeze(2) & is_context.gather(1, top_end).unsqueeze(1))  # (N, k, k)
    scores = start_logits.gather(1, top_start).unsqueeze(2) + end_logits.gather(1, top_end).unsqueeze(1)  # (N, k, k)
    best = torch.where(valid, scores, neg_inf).flatten(1).argmax(dim=1)  # (N,)
    rows = torch.arange(start_logits.shape[0])
    found = valid.flatten(1)[rows, best]  # (N,)
    score = scores.flatten(1)[rows, best]  # (N,)
    return score, top_start[rows, best // k], top_end[rows, best % k], found


def decode_spans(start_logits: Tensor, end_logits: Tensor, offset_mapping: Tensor, example_index: Tensor,
                 contexts: Sequence[str], *, n_best: int = 20, max_answer_length: int = 30) -> list[str]:
    """One predicted answer per context: the best valid span over all windows of that example.

    ``start_logits``/``end_logits`` (N, T) and ``offset_mapping`` (N, T', 2) may be
    padded to different widths; only their common width is searched. A span
    ``(s, e)`` is valid when both ends are context tokens, ``e >= s`` and it has at
    most ``max_answer_length`` tokens; its score is ``start_logits[s] + end_logits[e]``.
    Candidates are the ``n_best`` highest-scoring context tokens of each window
    as starts and as ends. An example without any valid span gets ``""``.
    """
    _check_decode_inputs(start_logits, end_logits, offset_mapping, example_index, len(contexts), n_best,
                         max_answer_length)
    width = min(start_logits.shape[1], end_logits.shape[1], offset_mapping.shape[1])
    offsets = offset_mapping[:, :width].long()  # (N, W, 2)
    is_context = (offsets[..., 0] >= 0) & (offsets[..., 1] >= 0)  # (N, W)
    score, start, end, found = _best_window_spans(start_logits[:, :width].float(), end_logits[:, :width].float(),
                                                  is_context, n_best=n_best, max_answer_length=max_answer_length)
    best: dict[int, tuple[float, int]] = {}  # example -> (score, window)
    for window, (row, ok, value) in enumerate(zip(example_index.tolist(), found.tolist(), score.tolist(),
                                                  strict=True)):
        if ok and (row not in best or value > best[row][0]):
            best[row] = (value, window)
    answers = [""] * len(contexts)
    for row, (_, window) in best.items():
        first, last = int(offsets[window, start[window], 0]), int(offsets[window, end[window], 1])
        answers[row] = contexts[row][first:last]
    return answers
