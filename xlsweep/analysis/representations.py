"""How close source- and target-language representations are (the MetaXL analysis).

MetaXL (Xia et al., 2021) measures the gap between the encoder's representations
of a source and a target language with the Hausdorff distance under cosine
distance, d(a, b) = 1 - cos(a, b)::

    d_H(S, T) = max( max_{s in S} min_{t in T} d(s, t),  max_{t in T} min_{s in S} d(s, t) )

and shows both sets in one 2-D PCA plot. :func:`representations` collects the
vectors (the [CLS] vector per row, or one vector per real token) from a HF task
model, optionally with an RTN active through ``context``;
:func:`cosine_hausdorff` measures the gap; :func:`pca_2d` and
:func:`write_pca_plot` draw it. Typical use::

    src = representations(model, source_features, kind="cls", max_rows=1000)
    tgt = representations(model, target_features, kind="cls", max_rows=1000)
    gap = cosine_hausdorff(src, tgt)
    xy_src, xy_tgt = pca_2d(src, tgt)
    write_pca_plot({"ana (source)": xy_src, "zul (target)": xy_tgt}, out / "pca.png", title=f"d_H = {gap:.3f}")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn

from xlsweep.data.features import Features, batch_of, num_rows

__all__ = [
    "cosine_hausdorff",
    "directed_cosine_hausdorff",
    "pca_2d",
    "representations",
    "write_pca_plot",
]

DEFAULT_CHUNK_SIZE = 1024
"""Rows per block of the cosine-similarity matrix: a block holds at most 1024 × 1024 float64 (8 MiB)."""

_TARGET_KEYS = ("labels", "start_positions", "end_positions")
_PLOT_DPI = 120


# ---------------------------------------------------------------------------
# Hausdorff distance under cosine distance
# ---------------------------------------------------------------------------


def cosine_hausdorff(a: Tensor, b: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> float:
    """The Hausdorff distance between two sets of vectors under ``d(x, y) = 1 - cos(x, y)``.

    Exact: every pair is compared, ``chunk_size`` × ``chunk_size`` at a time in float64,
    so sets of a few thousand vectors of any width fit in memory. The result lies in
    [0, 2], is symmetric, and does not change when vectors are scaled by positive numbers.

    Args:
        a: One set, shape (N, d).
        b: The other set, shape (M, d), on any device (it is moved to ``a``'s).
        chunk_size: Rows of ``a`` and of ``b`` per block of the similarity matrix.

    Returns:
        ``max(directed(a, b), directed(b, a))`` as a Python float.

    Raises:
        ValueError: If a set is empty or not 2-D, the widths differ, a vector is zero
            or not finite (cosine is undefined there), or ``chunk_size`` < 1.
    """
    best_for_a, best_for_b = _nearest_similarities(a, b, chunk_size)
    return max(_farthest(best_for_a), _farthest(best_for_b))


def directed_cosine_hausdorff(a: Tensor, b: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> float:
    """The directed Hausdorff distance ``max_{x in a} min_{y in b} (1 - cos(x, y))``.

    How far the vector of ``a`` that is worst covered by ``b`` lies from its nearest
    neighbour in ``b``; not symmetric. Arguments and errors as :func:`cosine_hausdorff`.
    """
    best_for_a, _ = _nearest_similarities(a, b, chunk_size)
    return _farthest(best_for_a)


def _farthest(best_similarity: Tensor) -> float:
    """``max_i (1 - best_similarity[i])``, clamped at 0 against rounding."""
    return max(0.0, 1.0 - float(best_similarity.min()))


def _nearest_similarities(a: Tensor, b: Tensor, chunk_size: int) -> tuple[Tensor, Tensor]:
    """For each row of ``a`` its largest cosine similarity to ``b``, and for each row of ``b`` to ``a``."""
    if chunk_size < 1:
        raise ValueError(f"invalid chunk_size: expected a positive number of rows, got {chunk_size}")
    unit_a = _unit_rows(a, "a")  # (N, d)
    unit_b = _unit_rows(b, "b").to(unit_a.device)  # (M, d)
    if unit_a.shape[1] != unit_b.shape[1]:
        raise ValueError(
            f"mismatched widths: expected both sets to have the same vector size, "
            f"got a {tuple(a.shape)} and b {tuple(b.shape)}"
        )
    best_for_a = torch.full((unit_a.shape[0],), -torch.inf, dtype=torch.float64, device=unit_a.device)  # (N,)
    best_for_b = torch.full((unit_b.shape[0],), -torch.inf, dtype=torch.float64, device=unit_a.device)  # (M,)
    for i in range(0, unit_a.shape[0], chunk_size):
        for j in range(0, unit_b.shape[0], chunk_size):
            block = unit_a[i : i + chunk_size] @ unit_b[j : j + chunk_size].T  # (n, m) cosines
            rows = best_for_a[i : i + chunk_size]
            torch.maximum(rows, block.max(dim=1).values, out=rows)
            cols = best_for_b[j : j + chunk_size]
            torch.maximum(cols, block.max(dim=0).values, out=cols)
    return best_for_a.clamp(-1.0, 1.0), best_for_b.clamp(-1.0, 1.0)


def _unit_rows(x: Tensor, name: str) -> Tensor:
    """``x`` in float64 with every row scaled to unit length, or raise where cosine is undefined."""
    if x.dim() != 2:
        raise ValueError(f"bad shape of {name}: expected a 2-D set of vectors (n, d), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"empty set {name}: expected at least one vector of at least one dimension, got shape {tuple(x.shape)}"
        )
    x = x.detach().to(torch.float64)
    finite = torch.isfinite(x).all(dim=1)  # (n,)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten()[:10].tolist()
        raise ValueError(f"non-finite vectors in {name}: expected finite values, got NaN/inf in rows {bad}")
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # (n, 1)
    zero = torch.nonzero(norms.squeeze(1) == 0).flatten()
    if zero.numel():
        raise ValueError(
            f"zero vectors in {name} (rows {zero[:10].tolist()}{', ...' if zero.numel() > 10 else ''}): "
            f"cosine distance is undefined for a zero vector; drop those rows first"
        )
    return x / norms


# ---------------------------------------------------------------------------
# Collecting representations from a model
# ---------------------------------------------------------------------------


def representations(
    model: nn.Module,
    features: Features,
    *,
    kind: Literal["cls", "tokens"],
    batch_size: int = 64,
    max_rows: int | None = None,
    device: torch.device | str = "cpu",
    layer: int = -1,
    context: Callable[[], AbstractContextManager[object]] | None = None,
) -> Tensor:
    """Hidden states of a HF model over ``features``: the [CLS] vector per row, or one per token.

    The model runs in eval mode under :func:`torch.inference_mode` with
    ``output_hidden_states=True``; its train/eval mode is restored afterwards, also on
    error. It is not moved: it must already be on ``device``. Bookkeeping columns and
    targets (``labels``, ``start_positions``, ``end_positions``) never reach it.

    Args:
        model: A HF (task) model whose output has ``hidden_states``.
        features: Equal-length tensors with at least ``input_ids`` (and
            ``attention_mask`` for ``kind="tokens"``), as built by a task's ``featurize``.
        kind: ``"cls"``: ``hidden_states[layer][:, 0]`` per row, shape (R, d).
            ``"tokens"``: every real token (``attention_mask == 1``), rows in order and
            positions in order within a row, shape (K, d); when ``features`` has
            ``word_index`` (NER) only the positions where it is >= 0, i.e. the first
            sub-token of each word, so special tokens are left out.
        batch_size: Rows per forward pass.
        max_rows: Use only the first ``max_rows`` rows; ``None`` uses all.
        device: Where the batches go (the model's device).
        layer: Index into ``hidden_states`` (0 = embeddings, -1 = the last layer).
        context: Called once per forward pass; the returned context manager is entered
            around the forward (e.g. to route the rows through an inserted RTN).

    Returns:
        A float32 CPU tensor, (R, d) for ``"cls"`` or (K, d) for ``"tokens"``.

    Raises:
        ValueError: On an unknown ``kind``, ``batch_size`` or ``max_rows`` < 1, features
            without rows or a needed column, a ``layer`` outside ``hidden_states``, or a
            model whose output has no ``hidden_states``.
    """
    rows_total = _check_representation_args(features, kind=kind, batch_size=batch_size, max_rows=max_rows)
    was_training = model.training
    model.eval()
    try:
        pieces = _forward_pieces(model, features, rows_total, kind=kind, batch_size=batch_size, device=device,
                                 layer=layer, context=context)
    finally:
        model.train(was_training)
    return torch.cat(pieces)  # outside inference mode: an ordinary tensor, not an inference tensor


@torch.inference_mode()
def _forward_pieces(
    model: nn.Module,
    features: Features,
    rows_total: int,
    *,
    kind: str,
    batch_size: int,
    device: torch.device | str,
    layer: int,
    context: Callable[[], AbstractContextManager[object]] | None,
) -> list[Tensor]:
    """The vectors of the first ``rows_total`` rows, one CPU float32 tensor per batch, rows in order."""
    enter = context if context is not None else contextlib.nullcontext
    pieces = []
    for start in range(0, rows_total, batch_size):
        rows = torch.arange(start, min(start + batch_size, rows_total))
        batch = batch_of(features, rows, device)
        for key in _TARGET_KEYS:
            batch.pop(key, None)
        with enter():
            output = model(**batch, output_hidden_states=True)
        hidden = _hidden_layer(output, layer)  # (B, T, d)
        if kind == "cls":
            pieces.append(hidden[:, 0].float().cpu())  # (B, d)
        else:
            keep = _token_mask(features, rows, batch["attention_mask"]).to(hidden.device)  # (B, T)
            pieces.append(hidden[keep].float().cpu())  # (k, d), row-major order
    return pieces


def _check_representation_args(features: Features, *, kind: str, batch_size: int, max_rows: int | None) -> int:
    """Validate the arguments of :func:`representations`; return the number of rows to use."""
    if kind not in ("cls", "tokens"):
        raise ValueError(f"unknown kind {kind!r}: expected 'cls' (one vector per row) or 'tokens' (one per token)")
    if batch_size < 1:
        raise ValueError(f"invalid batch_size: expected a positive number of rows, got {batch_size}")
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"invalid max_rows: expected a positive number of rows or None for all, got {max_rows}")
    needed = ("input_ids", "attention_mask") if kind == "tokens" else ("input_ids",)
    missing = [key for key in needed if key not in features]
    if missing:
        raise ValueError(f"features lack {missing}: kind {kind!r} needs {list(needed)}, got {sorted(features)}")
    n = num_rows(features)
    if n == 0:
        raise ValueError("no rows: expected features with at least one row, got 0")
    return n if max_rows is None else min(n, max_rows)


def _hidden_layer(output: object, layer: int) -> Tensor:
    """``output.hidden_states[layer]``, with errors that say what went wrong."""
    hidden_states = getattr(output, "hidden_states", None)
    if hidden_states is None:
        raise ValueError(
            f"no hidden states: expected a HF model output with hidden_states when called with "
            f"output_hidden_states=True, got {type(output).__name__} without them"
        )
    count = len(hidden_states)
    if not -count <= layer < count:
        raise ValueError(
            f"layer {layer} out of range: the model returns {count} hidden states "
            f"(embeddings and {count - 1} layers), expected a layer in [{-count}, {count - 1}]"
        )
    return hidden_states[layer]  # type: ignore[no-any-return]


def _token_mask(features: Features, rows: Tensor, attention_mask: Tensor) -> Tensor:
    """Which positions of the batch are kept for ``kind="tokens"``: real tokens, first sub-tokens with word_index."""
    keep = attention_mask.cpu() == 1  # (B, T), already trimmed to the batch's width by batch_of
    if "word_index" in features:
        keep = keep & (features["word_index"][rows, : keep.shape[1]] >= 0)
    return keep


# ---------------------------------------------------------------------------
# 2-D PCA and its plot
# ---------------------------------------------------------------------------


def pca_2d(*sets: Tensor) -> list[Tensor]:
    """Project every set onto the first two principal axes of their union.

    One PCA (``torch.linalg.svd`` of the centred union, in float64) is fitted on all
    sets together, so the projections share one basis and can be drawn in one plot.
    Each axis' sign is fixed so that its largest-magnitude loading is positive, which
    makes the result deterministic. When the union spans fewer than two directions
    the missing axis is all zeros.

    Args:
        *sets: Sets of vectors, each (n_i, d) with the same d, on the CPU or one device.

    Returns:
        One (n_i, 2) tensor per set, in the order given, in the sets' common
        floating dtype (float32 for integer inputs) on the first set's device.

    Raises:
        ValueError: If no set is given, a set is not 2-D or empty, or widths differ.
    """
    if not sets:
        raise ValueError("no sets: expected at least one (n, d) tensor")
    for i, x in enumerate(sets):
        if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"bad set {i}: expected a non-empty 2-D tensor (n, d), got shape {tuple(x.shape)}")
    widths = [int(x.shape[1]) for x in sets]
    if len(set(widths)) > 1:
        raise ValueError(f"mismatched widths: expected every set to have the same d, got {widths}")
    dtype = _common_float_dtype(sets)
    device = sets[0].device
    union = torch.cat([x.detach().to(device, torch.float64) for x in sets])  # (N, d)
    centred = union - union.mean(dim=0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, d), d)
    axes = vh[:2]
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)))  # (k, 1)
    axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
    if axes.shape[0] < 2:
        axes = torch.cat([axes, torch.zeros(2 - axes.shape[0], axes.shape[1], dtype=axes.dtype, device=device)])
    projected = centred @ axes.T  # (N, 2)
    return [part.to(dtype) for part in projected.split([int(x.shape[0]) for x in sets])]


def _common_float_dtype(sets: tuple[Tensor, ...]) -> torch.dtype:
    """The dtype the inputs promote to, or float32 when that is not floating."""
    dtype = sets[0].dtype
    for x in sets[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return dtype if dtype.is_floating_point else torch.float32


def write_pca_plot(points: Mapping[str, Tensor], path: str | Path, *, title: str) -> Path:
    """Write labelled 2-D point sets (e.g. from :func:`pca_2d`) as one PNG scatter plot.

    Args:
        points: Legend label -> (n, 2) points, e.g. ``{"ana (source)": xy_src, "zul (target)": xy_tgt}``;
            drawn in the mapping's order, one colour each.
        path: Destination PNG file; missing parent directories are created.
        title: Figure title.

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``points`` is empty or a set is not (n, 2).
    """
    if not points:
        raise ValueError("no point sets: expected at least one label -> (n, 2) tensor")
    for label, xy in points.items():
        if xy.dim() != 2 or xy.shape[1] != 2:
            raise ValueError(f"bad points for {label!r}: expected shape (n, 2), got {tuple(xy.shape)}")
    figure = Figure(figsize=(5.5, 4.5), dpi=_PLOT_DPI, layout="constrained")
    axes = figure.add_subplot()
    for label, xy in points.items():
        values = xy.detach().to("cpu", torch.float64).numpy()
        axes.scatter(values[:, 0], values[:, 1], s=8, alpha=0.6, label=f"{label} (n={values.shape[0]})")
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    axes.set_title(title)
    axes.legend(loc="best", markerscale=2.0)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(out, format="png", dpi=_PLOT_DPI)
    return out
