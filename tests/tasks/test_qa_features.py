"""QA features: overlapping windows, answer positions, and best-valid-span decoding across windows."""

from __future__ import annotations

import copy

import datasets
import pytest
import torch
from transformers import PreTrainedTokenizerBase

from xlsweep.data.features import example_ids
from xlsweep.data.schema import task_features
from xlsweep.models.tiny import _train_tokenizer
from xlsweep.tasks.qa_features import decode_spans, featurize_qa

GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi"
WORDS = [*GREEK.split(), "chi", "psi", "omega"]
LONG_CONTEXT = " ".join(WORDS + WORDS[:16])  # 40 words: several windows
ANSWER = "sigma tau"
MAX_LENGTH, DOC_STRIDE = 24, 6
ROWS = [  # id, question, context, answer (or None), answer_start
    ("q-long", "which letters?", LONG_CONTEXT, ANSWER, LONG_CONTEXT.index(ANSWER)),
    ("q-short", " which one?", "alpha beta gamma", "beta", 6),
    ("q-none", "which none?", "delta epsilon", None, 0),
]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerBase:
    corpus = [LONG_CONTEXT, "which letters? which one? which none?"] * 20
    return _train_tokenizer(corpus, vocab_size=90)  # small: some words split into several sub-tokens


def _dataset() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"id": [r[0] for r in ROWS], "question": [r[1] for r in ROWS], "context": [r[2] for r in ROWS],
         "answers": [{"text": [r[3]] if r[3] else [], "answer_start": [r[4]] if r[3] else []} for r in ROWS]},
        features=task_features("qa"))


@pytest.fixture(scope="module")
def features(tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
    return featurize_qa(_dataset(), tokenizer, max_length=MAX_LENGTH, doc_stride=DOC_STRIDE)


def _context_positions(features: dict[str, torch.Tensor], window: int) -> list[int]:
    return torch.nonzero(features["offset_mapping"][window, :, 0] >= 0).flatten().tolist()


def test_shapes_and_types(features: dict[str, torch.Tensor]) -> None:
    n, t = features["input_ids"].shape
    assert t <= MAX_LENGTH
    for key in ("attention_mask", "token_type_ids"):
        assert features[key].shape == (n, t)
    for key in ("start_positions", "end_positions", "example_id", "example_index"):
        assert features[key].shape == (n,) and features[key].dtype == torch.long
    assert features["offset_mapping"].shape == (n, t, 2) and features["offset_mapping"].dtype == torch.long


def test_windows_overlap_and_offsets_map_back_to_context(tokenizer: PreTrainedTokenizerBase,
                                                         features: dict[str, torch.Tensor]) -> None:
    windows = [w for w, row in enumerate(features["example_index"].tolist()) if row == 0]
    assert len(windows) >= 3, "the long context should need several windows"
    spans = []
    for w in windows:
        positions = _context_positions(features, w)
        assert positions == list(range(positions[0], positions[-1] + 1)), "context tokens are one block"
        tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][w, positions].tolist())
        offsets = features["offset_mapping"][w, positions].tolist()
        assert "[UNK]" not in tokens
        assert [LONG_CONTEXT[a:b] for a, b in offsets] == [tok.removeprefix("##") for tok in tokens]
        assert bool((features["token_type_ids"][w, positions] == 1).all())
        others = [p for p in range(features["input_ids"].shape[1]) if p not in positions]
        assert bool((features["offset_mapping"][w, others] == -1).all()), "question/special/padding get -1"
        spans.append([tuple(o) for o in offsets])
    for previous, following in zip(spans, spans[1:], strict=False):
        assert previous[-DOC_STRIDE:] == following[:DOC_STRIDE], "consecutive windows share doc_stride tokens"
    whole = tokenizer(LONG_CONTEXT, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    merged = spans[0] + [o for s in spans[1:] for o in s[DOC_STRIDE:]]
    assert merged == [tuple(o) for o in whole], "the windows cover the context exactly once, in order"


def test_positions_point_at_the_answer_inside_a_window_else_cls(features: dict[str, torch.Tensor]) -> None:
    inside_by_row: dict[int, list[bool]] = {0: [], 1: [], 2: []}
    for w, row in enumerate(features["example_index"].tolist()):
        _, _, context, answer, start_char = ROWS[row]
        start, end = int(features["start_positions"][w]), int(features["end_positions"][w])
        offsets = features["offset_mapping"][w]
        positions = _context_positions(features, w)
        first, last = int(offsets[positions[0], 0]), int(offsets[positions[-1], 1])
        inside = answer is not None and first <= start_char and start_char + len(answer) <= last
        inside_by_row[row].append(inside)
        if inside:
            assert start in positions and end in positions
            assert context[int(offsets[start, 0]) : int(offsets[end, 1])] == answer
        else:
            assert (start, end) == (0, 0)
    assert True in inside_by_row[0] and False in inside_by_row[0], "the long answer is in some windows only"
    assert inside_by_row[1] == [True]
    assert inside_by_row[2] == [False]


def test_example_index_maps_windows_to_rows(features: dict[str, torch.Tensor]) -> None:
    index = features["example_index"].tolist()
    assert index == sorted(index) and set(index) == {0, 1, 2}
    assert index.count(1) == 1 and index.count(2) == 1
    assert torch.equal(features["example_id"], example_ids([r[0] for r in ROWS])[features["example_index"]])


def test_token_type_ids_are_left_out_when_the_tokenizer_has_none(tokenizer: PreTrainedTokenizerBase) -> None:
    untyped = copy.deepcopy(tokenizer)
    untyped.model_input_names = ["input_ids", "attention_mask"]
    features = featurize_qa(_dataset(), untyped, max_length=MAX_LENGTH, doc_stride=DOC_STRIDE)
    assert "token_type_ids" not in features
    assert features["input_ids"].shape[0] == features["example_index"].shape[0]


class _SlowTokenizer:
    """Stands in for a Python ("slow") tokenizer: no offsets, no overflowing windows."""

    is_fast = False


def test_a_slow_tokenizer_is_refused() -> None:
    with pytest.raises(ValueError, match="fast tokenizer.*_SlowTokenizer"):
        featurize_qa(_dataset(), _SlowTokenizer(), max_length=MAX_LENGTH, doc_stride=DOC_STRIDE)  # type: ignore[arg-type]


def test_logits_peaked_at_gold_positions_decode_to_the_gold_answer(features: dict[str, torch.Tensor]) -> None:
    n, t = features["input_ids"].shape
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(n, t, generator=gen) * 0.1  # (N, T)
    end = torch.randn(n, t, generator=gen) * 0.1  # (N, T)
    rows = torch.arange(n)
    start[rows, features["start_positions"]] += 10.0  # windows without the answer peak at [CLS]
    end[rows, features["end_positions"]] += 10.0
    start, end = (torch.cat([x, torch.zeros(n, 5)], dim=1).half() for x in (start, end))  # wider, half precision
    contexts = [r[2] for r in ROWS]
    answers = decode_spans(start, end, features["offset_mapping"], features["example_index"], contexts)
    assert answers[:2] == [ANSWER, "beta"]
    assert answers[2] in contexts[2]  # no gold: some valid span of its own context


# Hand-built windows of one context, "aa bb cc dd ee ff": positions 0-2 are [CLS], a question token and [SEP],
# 3-6 context tokens, 7 padding. Window 0 holds aa..dd, window 1 cc..ff (two tokens overlap).
CONTEXT = "aa bb cc dd ee ff"
TOKENS = [(0, 2), (3, 5), (6, 8), (9, 11), (12, 14), (15, 17)]


def _offsets(*token_ranges: tuple[int, int]) -> torch.Tensor:
    rows = [[(-1, -1)] * 3 + TOKENS[a:b] + [(-1, -1)] for a, b in token_ranges]
    return torch.tensor(rows)  # (N, 8, 2)


@pytest.mark.parametrize(("case", "window0", "max_answer_length", "loosened"), [
    ("end before start", {"start": {5: 10.0}, "end": {3: 10.0}}, 30, None),
    ("start on a question token", {"start": {1: 10.0}, "end": {4: 10.0}}, 30, None),
    ("both on padding", {"start": {7: 10.0}, "end": {7: 10.0}}, 30, None),
    ("too long", {"start": {3: 10.0}, "end": {6: 10.0}}, 2, (4, "aa bb cc dd")),
])
def test_decode_picks_the_best_valid_span_across_windows(case: str, window0: dict[str, dict[int, float]],
                                                         max_answer_length: int,
                                                         loosened: tuple[int, str] | None) -> None:
    start, end = torch.zeros(2, 8), torch.zeros(2, 8)  # (N, T)
    for position, value in window0["start"].items():
        start[0, position] = value
    for position, value in window0["end"].items():
        end[0, position] = value
    start[1, 5], end[1, 6] = 6.0, 6.0  # window 1: "ee ff", score 12 < 20 of the invalid pair, > 10 of window 0
    offsets, index = _offsets((0, 4), (2, 6)), torch.tensor([0, 0])
    assert decode_spans(start, end, offsets, index, [CONTEXT], max_answer_length=max_answer_length) == ["ee ff"]
    if loosened is not None:  # the same logits with the span allowed: window 0's pair wins
        length, answer = loosened
        assert decode_spans(start, end, offsets, index, [CONTEXT], max_answer_length=length) == [answer]


def test_decode_returns_empty_when_nothing_is_valid() -> None:
    offsets = torch.cat([torch.full((1, 8, 2), -1), _offsets((0, 4))])  # window 0 has no context token
    start, end = torch.zeros(2, 8), torch.zeros(2, 8)
    start[0, 4], end[0, 5] = 10.0, 10.0  # high, but not context
    start[1, 5], end[1, 3] = 10.0, 10.0  # window 1's best start (cc) lies after its best end (aa)
    start[1, 3], end[1, 6] = 4.0, 5.0  # the runners-up: (cc, dd) scores 15, (aa, aa) 14
    index = torch.tensor([0, 1])
    contexts = [CONTEXT, CONTEXT, CONTEXT]  # example 2 has no window at all
    assert decode_spans(start, end, offsets, index, contexts, n_best=1) == ["", "", ""]
    assert decode_spans(start, end, offsets, index, contexts, n_best=2) == ["", "cc dd", ""]


def test_decode_rejects_inconsistent_inputs() -> None:
    offsets, index = _offsets((0, 4), (2, 6)), torch.tensor([0, 0])
    with pytest.raises(ValueError, match="offset_mapping"):
        decode_spans(torch.zeros(3, 8), torch.zeros(2, 8), offsets, index, [CONTEXT])
    with pytest.raises(ValueError, match=r"example_index must lie in \[0, 1\)"):
        decode_spans(torch.zeros(2, 8), torch.zeros(2, 8), offsets, torch.tensor([0, 1]), [CONTEXT])
    with pytest.raises(ValueError, match="n_best"):
        decode_spans(torch.zeros(2, 8), torch.zeros(2, 8), offsets, index, [CONTEXT], n_best=0)
