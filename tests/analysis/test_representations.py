"""Cosine Hausdorff distance, hidden-state collection, 2-D PCA and its plot (xlsweep.analysis.representations)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

from xlsweep.analysis import cosine_hausdorff, directed_cosine_hausdorff, pca_2d, representations, write_pca_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _config(num_labels: int = 2) -> BertConfig:
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    config.num_labels = num_labels
    return config


def _unit(degrees: float) -> list[float]:
    """The 2-D unit vector at ``degrees`` from the x axis."""
    radians = math.radians(degrees)
    return [math.cos(radians), math.sin(radians)]


def _angles(*degrees: float) -> Tensor:
    return torch.tensor([_unit(d) for d in degrees], dtype=torch.float64)  # (n, 2)


def _reference_hausdorff(a: Tensor, b: Tensor) -> float:
    """The textbook formula on the full distance matrix at once."""
    a, b = a.double(), b.double()
    distance = 1 - (a / a.norm(dim=1, keepdim=True)) @ (b / b.norm(dim=1, keepdim=True)).T  # (N, M)
    return max(float(distance.min(dim=1).values.max()), float(distance.min(dim=0).values.max()))


# ---------------------------------------------------------------------------
# cosine_hausdorff
# ---------------------------------------------------------------------------


def test_hausdorff_of_a_subset_by_hand() -> None:
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert directed_cosine_hausdorff(a, b) == pytest.approx(0.0, abs=1e-12)  # (1,0) is in b
    assert directed_cosine_hausdorff(b, a) == pytest.approx(1.0, abs=1e-12)  # (0,1) is 90° from (1,0)
    assert cosine_hausdorff(a, b) == pytest.approx(1.0, abs=1e-12)
    assert cosine_hausdorff(b, a) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "forward", "backward"),
    [
        ((0,), (60,), 0.5, 0.5),  # 1 - cos 60° = 1/2
        ((0,), (180,), 2.0, 2.0),  # opposite vectors: the largest cosine distance
        ((0,), (45, -90), 1 - math.sqrt(2) / 2, 1.0),  # -90° is 90° from 0°
        # a -> b: 0° is 30° from b, 90° is 60° from b; b -> a: 30° is 30° from 0°
        ((0, 90), (30,), 0.5, 1 - math.sqrt(3) / 2),
        ((10, 100), (10, 100), 0.0, 0.0),
    ],
)
def test_hausdorff_at_known_angles(a: tuple[float, ...], b: tuple[float, ...], forward: float, backward: float) -> None:
    set_a, set_b = _angles(*a), _angles(*b)
    assert directed_cosine_hausdorff(set_a, set_b) == pytest.approx(forward, abs=1e-12)
    assert directed_cosine_hausdorff(set_b, set_a) == pytest.approx(backward, abs=1e-12)
    assert cosine_hausdorff(set_a, set_b) == pytest.approx(max(forward, backward), abs=1e-12)


def test_hausdorff_is_symmetric_scale_invariant_and_zero_on_identical_sets() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 8, generator=gen, dtype=torch.float64)  # float64 so that scaling itself is exact enough
    b = torch.randn(13, 8, generator=gen, dtype=torch.float64)
    distance = cosine_hausdorff(a, b)
    assert distance == pytest.approx(cosine_hausdorff(b, a), abs=1e-12)
    scales_a, scales_b = torch.rand(20, 1, generator=gen) * 100 + 0.01, torch.rand(13, 1, generator=gen) + 0.5
    assert cosine_hausdorff(a * scales_a, b * scales_b) == pytest.approx(distance, abs=1e-12)
    assert cosine_hausdorff(a, a.clone()) == pytest.approx(0.0, abs=1e-12)
    assert cosine_hausdorff(a, a[torch.randperm(20, generator=gen)]) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 <= distance <= 2.0


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 16, 1024])
def test_chunking_matches_one_shot_computation(chunk_size: int) -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(37, 5, generator=gen), torch.randn(23, 5, generator=gen) + 0.3
    expected = _reference_hausdorff(a, b)
    assert cosine_hausdorff(a, b, chunk_size=chunk_size) == pytest.approx(expected, abs=1e-12)
    forward = float((1 - torch.nn.functional.cosine_similarity(a.double()[:, None], b.double()[None], dim=-1))
                    .min(dim=1).values.max())
    assert directed_cosine_hausdorff(a, b, chunk_size=chunk_size) == pytest.approx(forward, abs=1e-12)


def test_hausdorff_accepts_float32_and_returns_a_float() -> None:
    distance = cosine_hausdorff(_angles(0).float(), _angles(60).float())
    assert isinstance(distance, float)
    assert distance == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (torch.zeros(0, 3), torch.ones(2, 3), "empty set a"),
        (torch.ones(2, 3), torch.zeros(0, 3), "empty set b"),
        (torch.ones(2, 3), torch.ones(2, 4), "mismatched widths"),
        (torch.ones(3), torch.ones(2, 3), "expected a 2-D set"),
        (torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.ones(2, 2), r"zero vectors in a \(rows \[1\]\).*undefined"),
        (torch.ones(2, 2), torch.tensor([[0.0, 0.0]]), "zero vectors in b"),
        (torch.tensor([[1.0, math.nan]]), torch.ones(2, 2), "non-finite vectors in a"),
    ],
)
def test_hausdorff_errors(a: Tensor, b: Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cosine_hausdorff(a, b)


def test_hausdorff_rejects_a_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        cosine_hausdorff(torch.ones(2, 2), torch.ones(2, 2), chunk_size=0)


# ---------------------------------------------------------------------------
# representations
# ---------------------------------------------------------------------------


def _features(n: int = 7, width: int = 8, *, seed: int = 0) -> dict[str, Tensor]:
    """Padded rows of varying length with [CLS]=2 ... [SEP]=3, labels and every bookkeeping key."""
    gen = torch.Generator().manual_seed(seed)
    lengths = [3 + (row * 3) % (width - 2) for row in range(n)]  # 3..width, the longest shorter than width
    input_ids = torch.zeros(n, width, dtype=torch.long)
    attention_mask = torch.zeros(n, width, dtype=torch.long)
    word_index = torch.full((n, width), -1, dtype=torch.long)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(5, 50, (length,), generator=gen)
        input_ids[row, 0], input_ids[row, length - 1] = 2, 3
        attention_mask[row, :length] = 1
        word_index[row, 1 : length - 1 : 2] = torch.arange(len(range(1, length - 1, 2)))  # odd positions start words
    return {
        "input_ids": input_ids,  # (N, T)
        "attention_mask": attention_mask,  # (N, T)
        "token_type_ids": torch.zeros(n, width, dtype=torch.long),  # (N, T)
        "labels": torch.zeros(n, dtype=torch.long),  # (N,)
        "example_id": torch.arange(n) + 1000,  # (N,)
        "example_index": torch.arange(n),  # (N,)
        "offset_mapping": torch.zeros(n, width, 2, dtype=torch.long),  # (N, T, 2)
        "word_index": word_index,  # (N, T)
    }


def _model(cls: Any = BertForSequenceClassification) -> nn.Module:
    torch.manual_seed(0)
    return cls(_config(num_labels=3))  # type: ignore[no-any-return]


def _direct_hidden(model: nn.Module, features: dict[str, Tensor], layer: int = -1) -> Tensor:
    """hidden_states[layer] over the whole, untrimmed batch in one eval-mode forward."""
    model.eval()
    with torch.no_grad():
        output = model(input_ids=features["input_ids"], attention_mask=features["attention_mask"],
                       token_type_ids=features["token_type_ids"], output_hidden_states=True)
    return output.hidden_states[layer]  # type: ignore[no-any-return]  # (N, T, d)


class _Spy(nn.Module):
    """Records the keyword arguments each forward receives (HF models silently accept unknown ones)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[list[str]] = []

    def forward(self, **kwargs: Any) -> Any:
        self.calls.append(sorted(kwargs))
        return self.inner(**kwargs)


@pytest.mark.parametrize("layer", [-1, 0, 1])
def test_cls_vectors_equal_the_hidden_states_at_position_0(layer: int) -> None:
    model, features = _model(), _features()
    vectors = representations(model, features, kind="cls", batch_size=3, layer=layer)
    assert vectors.shape == (7, 16)
    assert vectors.dtype == torch.float32
    assert not vectors.is_inference()
    torch.testing.assert_close(vectors, _direct_hidden(model, features, layer)[:, 0], atol=1e-5, rtol=1e-5)


def test_token_vectors_are_every_real_token_without_word_index() -> None:
    model, features = _model(), _features()
    del features["word_index"]
    vectors = representations(model, features, kind="tokens", batch_size=2)
    mask = features["attention_mask"] == 1  # (N, T)
    assert vectors.shape == (int(mask.sum()), 16)
    torch.testing.assert_close(vectors, _direct_hidden(model, features)[mask], atol=1e-5, rtol=1e-5)


def test_token_vectors_with_word_index_are_first_sub_tokens_only() -> None:
    model, features = _model(BertForTokenClassification), _features()
    features["labels"] = torch.zeros_like(features["input_ids"])  # NER labels are per token
    vectors = representations(model, features, kind="tokens", batch_size=4)
    starts = features["word_index"] >= 0  # (N, T): no [CLS], [SEP], padding or continuation
    assert not bool(starts[:, 0].any())
    assert vectors.shape == (int(starts.sum()), 16)
    torch.testing.assert_close(vectors, _direct_hidden(model, features)[starts], atol=1e-5, rtol=1e-5)


def test_bookkeeping_keys_and_targets_never_reach_the_model() -> None:
    spy, features = _Spy(_model()), _features()
    vectors = representations(spy, features, kind="cls", batch_size=4)
    assert spy.calls == [["attention_mask", "input_ids", "output_hidden_states", "token_type_ids"]] * 2
    inputs_only = {key: features[key] for key in ("input_ids", "attention_mask", "token_type_ids")}
    torch.testing.assert_close(vectors, representations(spy.inner, inputs_only, kind="cls"))


def test_max_rows_takes_the_first_rows() -> None:
    model, features = _model(), _features()
    every = representations(model, features, kind="cls", batch_size=2)
    first = representations(model, features, kind="cls", batch_size=2, max_rows=3)
    assert first.shape == (3, 16)
    torch.testing.assert_close(first, every[:3])
    assert representations(model, features, kind="cls", max_rows=100).shape == (7, 16)


@pytest.mark.parametrize("training", [True, False])
def test_mode_is_restored(training: bool) -> None:
    model = _model()
    model.train(training)
    representations(model, _features(), kind="cls")
    assert model.training is training
    assert all(module.training is training for module in model.modules())


def test_mode_is_restored_after_an_error() -> None:
    model = _model().train()

    @contextlib.contextmanager
    def failing() -> Iterator[None]:
        raise RuntimeError("boom")
        yield

    with pytest.raises(RuntimeError, match="boom"):
        representations(model, _features(), kind="cls", context=failing)
    assert model.training


def test_context_is_entered_around_each_forward() -> None:
    model = BertForSequenceClassification(_config())
    events: list[str] = []
    last_output = model.bert.encoder.layer[-1].output  # a module returning a plain tensor

    @contextlib.contextmanager
    def zero_last_layer() -> Iterator[None]:
        events.append("enter")
        handle = last_output.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
        try:
            yield
        finally:
            handle.remove()
            events.append("exit")

    vectors = representations(model, _features(), kind="cls", batch_size=3, context=zero_last_layer)
    assert events == ["enter", "exit"] * 3  # 7 rows in batches of 3
    assert torch.count_nonzero(vectors) == 0
    assert torch.count_nonzero(representations(model, _features(), kind="cls")) > 0  # the hook is gone


class _NoHiddenStates(nn.Module):
    def forward(self, **kwargs: Any) -> Tensor:
        return kwargs["input_ids"].float()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "pooled"}, "unknown kind 'pooled'"),
        ({"kind": "cls", "batch_size": 0}, "invalid batch_size"),
        ({"kind": "cls", "max_rows": 0}, "invalid max_rows"),
        ({"kind": "cls", "layer": 3}, r"layer 3 out of range: the model returns 3 hidden states"),
        ({"kind": "cls", "layer": -4}, "layer -4 out of range"),
    ],
)
def test_representation_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        representations(_model(), _features(), **kwargs)


def test_representation_errors_on_features_and_model() -> None:
    features = _features()
    without_mask = {key: value for key, value in features.items() if key != "attention_mask"}
    with pytest.raises(ValueError, match=r"features lack \['attention_mask'\]"):
        representations(_model(), without_mask, kind="tokens")
    with pytest.raises(ValueError, match="no rows"):
        representations(_model(), {key: value[:0] for key, value in features.items()}, kind="cls")
    with pytest.raises(ValueError, match="no hidden states"):
        representations(_NoHiddenStates(), features, kind="cls")


# ---------------------------------------------------------------------------
# pca_2d and write_pca_plot
# ---------------------------------------------------------------------------


def test_pca_of_a_cross_by_hand() -> None:
    a = torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])  # the widest direction: x
    b = torch.tensor([[0.0, -0.5, 0.0], [0.0, 0.5, 0.0]])  # the second: y
    xy_a, xy_b = pca_2d(a, b)
    torch.testing.assert_close(xy_a, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(xy_b, torch.tensor([[0.0, -0.5], [0.0, 0.5]]), atol=1e-6, rtol=0)


def test_pca_of_a_line_has_no_variance_on_the_second_axis() -> None:
    direction = torch.tensor([1.0, 2.0, 3.0, -1.0], dtype=torch.float64)
    t = torch.linspace(-2, 5, 11, dtype=torch.float64)
    line = torch.tensor([4.0, 0.0, -1.0, 2.0], dtype=torch.float64) + t[:, None] * direction  # (11, 4)
    (xy,) = pca_2d(line)
    assert xy.dtype == torch.float64
    assert float(xy[:, 1].var()) < 1e-20
    torch.testing.assert_close(xy[:, 0].var(), t.var() * direction.norm() ** 2)  # all spread is on the first axis


def test_pca_uses_one_basis_for_all_sets() -> None:
    gen = torch.Generator().manual_seed(2)
    a, b, c = torch.randn(9, 6, generator=gen), torch.randn(4, 6, generator=gen) + 2, torch.randn(5, 6, generator=gen)
    parts = pca_2d(a, b, c)
    assert [tuple(p.shape) for p in parts] == [(9, 2), (4, 2), (5, 2)]
    (union,) = pca_2d(torch.cat([a, b, c]))
    torch.testing.assert_close(torch.cat(parts), union)
    # A separately fitted PCA of a alone would differ: the shift of b moves the mean and the first axis.
    assert not torch.allclose(pca_2d(a)[0], parts[0], atol=1e-3)
    # The basis is orthonormal: projected squared norms never exceed the centred ones.
    centred = torch.cat([a, b, c]) - torch.cat([a, b, c]).mean(dim=0)
    assert bool((union.norm(dim=1) <= centred.norm(dim=1) + 1e-5).all())


def test_pca_pads_when_the_data_span_fewer_than_two_axes() -> None:
    (xy,) = pca_2d(torch.tensor([[1.0], [3.0]]))  # d = 1
    torch.testing.assert_close(xy, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    (single,) = pca_2d(torch.tensor([[1.0, 2.0]]))
    torch.testing.assert_close(single, torch.zeros(1, 2))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ((), "no sets"),
        ((torch.ones(2, 3), torch.ones(2, 4)), "mismatched widths"),
        ((torch.ones(2, 3), torch.ones(0, 3)), "bad set 1"),
        ((torch.ones(3),), "bad set 0"),
    ],
)
def test_pca_errors(sets: tuple[Tensor, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pca_2d(*sets)


def test_write_pca_plot_writes_a_png(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(3)
    xy_src, xy_tgt = pca_2d(torch.randn(30, 8, generator=gen), torch.randn(20, 8, generator=gen) + 1)
    out = write_pca_plot({"ana (source)": xy_src, "zul (target)": xy_tgt}, tmp_path / "plots" / "pca.png",
                         title="ana vs zul")
    assert out == tmp_path / "plots" / "pca.png"
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_write_pca_plot_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no point sets"):
        write_pca_plot({}, tmp_path / "a.png", title="t")
    with pytest.raises(ValueError, match=r"bad points for 'x': expected shape \(n, 2\), got \(4, 3\)"):
        write_pca_plot({"x": torch.ones(4, 3)}, tmp_path / "a.png", title="t")
    assert not (tmp_path / "a.png").exists()
