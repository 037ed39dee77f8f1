"""MetaXL's representation transformation network (RTN) and its insertion into an HF encoder by forward hooks.

MetaXL (Xia et al., 2021) places a small bottleneck network after layer ``i`` of a
multilingual encoder: *source-language* batches pass through it, *target-language*
batches do not, and at test time it is dropped. The RTN is meta-learned elsewhere;
this module provides the network and the insertion, without forking the encoder's
``forward``::

    insertion = insert_rtns(model, {7: RTN(rtn_hidden_size(model), 192)})
    with insertion.applied():
        source_loss = model(**source_batch).loss  # through the RTN
    target_loss = model(**target_batch).loss      # as if it were not there
    optimiser = torch.optim.Adam(insertion.parameters(), lr=1e-6)
    insertion.remove()                            # evaluation: the plain encoder

Positions: 0 is after the embeddings, ``i`` in ``1..L`` after transformer layer ``i``.
The hooks run before any other forward hook of the module (``prepend=True``), so HF's
own output capturing (transformers 5 records ``output_hidden_states`` with forward
hooks on the layers) sees the transformed value: with ``output_hidden_states=True``,
``hidden_states[i]`` is the RTN's output whenever an RTN sits at ``i``, whichever
of the two sets of hooks was installed first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

__all__ = ["RTN", "RTN_INITS", "RTN_VARIANTS", "RTNInsertion", "encoder_layers", "insert_rtns", "rtn_hidden_size",
           "rtn_variant"]


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"RTN {name} must be an integer >= 1, got {value!r}")


RTN_INITS = ("zero-output", "torch", "xavier")
"""How an RTN's weights start: ``zero-output`` (the output layer zeroed, so a residual RTN is the identity),
``torch`` (``nn.Linear``'s default), ``xavier`` (Xavier-normal weights, zero biases: the authors' code)."""


class RTN(nn.Module):
    """``g(h) = W2ᵀ ReLU(W1ᵀ h + b1) + b2``, a ``d → r → d`` bottleneck, on the last axis of ``h``.

    Args:
        hidden_size: ``d``, the encoder's hidden size.
        bottleneck: ``r``, the width of the hidden layer.
        residual: return ``h + g(h)`` (as the authors' code does) instead of ``g(h)`` (the paper's Eq. 1).
        gate: the output layer has one extra unit ``z`` and ``g(h)`` is scaled by ``sigmoid(z)``
            (the authors' ``--transfer_component_add_weights --tied``; the gate is the last unit).
        init: ``zero-output`` zeroes the output layer's weight and bias, so that the residual RTN
            starts as exactly the identity (``g(h) = 0``; with a gate, ``sigmoid(0) · 0 = 0``); without
            the residual that would map every representation to zero, so it requires ``residual``.
            ``torch``: ``nn.Linear``'s default (random). ``xavier``: Xavier-normal weights and zero
            biases, the authors' ``Raptors.init_weights``.
        detach_input: ``h + g(h.detach())``: the main model's gradient reaches ``h`` through the
            residual only, as the authors' ``step_metaxl`` (``meta_net(..., h.detach()) + h``);
            requires ``residual``.

    Input ``(B, T, d)`` or ``(B, d)``; the output has the input's shape. See :func:`rtn_variant`
    for the named variants a config selects.
    """

    def __init__(self, hidden_size: int, bottleneck: int, *, residual: bool = True, gate: bool = False,
                 init: str = "zero-output", detach_input: bool = False) -> None:
        super().__init__()
        _check_size("hidden_size", hidden_size)
        _check_size("bottleneck", bottleneck)
        if init not in RTN_INITS:
            raise ValueError(f"RTN init {init!r}; expected one of {', '.join(RTN_INITS)}")
        if init == "zero-output" and not residual:
            raise ValueError("RTN(init='zero-output', residual=False) would map every representation to zero; "
                             "use residual=True (the identity at start) or a random init ('torch', 'xavier')")
        if detach_input and not residual:
            raise ValueError("RTN(detach_input=True, residual=False) would cut the model's gradient at the RTN; "
                             "detach_input is the authors' residual variant")
        self.hidden_size = hidden_size
        self.residual, self.gate, self.init, self.detach_input = residual, gate, init, detach_input
        self.down = nn.Linear(hidden_size, bottleneck)  # W1, b1
        self.up = nn.Linear(bottleneck, hidden_size + int(gate))  # W2, b2 (and the gate's unit)
        if init == "zero-output":
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)
        elif init == "xavier":
            for layer in (self.down, self.up):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)

    def transform(self, h: Tensor) -> Tensor:
        """``g(h)``, gated when ``gate``: the part that the residual adds to ``h``."""
        out = self.up(torch.relu(self.down(h)))  # (..., d) or (..., d + 1)
        if not self.gate:
            return out
        return torch.sigmoid(out[..., -1:]) * out[..., :-1]

    def forward(self, h: Tensor) -> Tensor:
        if h.shape[-1] != self.hidden_size:
            raise ValueError(f"RTN of hidden_size {self.hidden_size} got an input of shape {tuple(h.shape)}; "
                             f"expected (B, T, {self.hidden_size}) or (B, {self.hidden_size})")
        if not self.residual:
            return self.transform(h)
        return h + self.transform(h.detach() if self.detach_input else h)

    def extra_repr(self) -> str:
        return f"residual={self.residual}, gate={self.gate}, init={self.init!r}, detach_input={self.detach_input}"


RTN_VARIANTS = ("identity-init", "paper", "authors-code")
"""The RTNs ``metaxl.rtn`` names (see :func:`rtn_variant`)."""


def rtn_variant(name: str, hidden_size: int, bottleneck: int) -> RTN:
    """The RTN variant ``name``, freshly initialised from torch's global RNG.

    * ``paper``: Eq. 1 of the MetaXL paper, ``g(h) = W2ᵀ ReLU(W1ᵀ h + b1) + b2`` replacing ``h``
      (no residual), "initialize parameters of the representation transformation network φ
      randomly" (Algorithm 1, line 1; the paper names no distribution: ``nn.Linear``'s default).
      Not an identity at the start.
    * ``authors-code``: the released code's ``Raptors`` (``--struct perceptron --tied
      --transfer_component_add_weights``, as its README runs it) inside ``step_metaxl``:
      ``h + sigmoid(z) · u`` with ``[u, z] = W2ᵀ ReLU(W1ᵀ h + b1) + b2`` (one extra output unit),
      the RTN reading ``h.detach()``, Xavier-normal weights and zero biases.
    * ``identity-init``: xlsweep's own: ``h + g(h)`` with the output layer zeroed, so the RTN is
      exactly the identity until φ's first update.
    """
    if name == "paper":
        return RTN(hidden_size, bottleneck, residual=False, init="torch")
    if name == "authors-code":
        return RTN(hidden_size, bottleneck, residual=True, gate=True, init="xavier", detach_input=True)
    if name == "identity-init":
        return RTN(hidden_size, bottleneck, residual=True, init="zero-output")
    raise ValueError(f"unknown RTN variant {name!r}; expected one of {', '.join(RTN_VARIANTS)}")


def encoder_layers(model: nn.Module) -> tuple[nn.Module, list[nn.Module]]:
    """The embeddings module and the transformer layers of an HF encoder (with or without a task head).

    Looks for ``model.base_model.embeddings`` and ``model.base_model.encoder.layer`` (BERT,
    RoBERTa, XLM-R, ...) or ``model.base_model.transformer.layer`` (DistilBERT).
    """
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    stack = getattr(base, "encoder", None)
    if stack is None:
        stack = getattr(base, "transformer", None)
    layers = getattr(stack, "layer", None)
    if not isinstance(embeddings, nn.Module) or not isinstance(layers, nn.ModuleList):
        raise ValueError(f"cannot find the embeddings and layers of a {type(model).__name__}: expected an HF "
                         "encoder with base_model.embeddings and base_model.encoder.layer (BERT, RoBERTa, XLM-R) "
                         "or base_model.transformer.layer (DistilBERT)")
    return embeddings, list(layers)


def rtn_hidden_size(model: nn.Module) -> int:
    """The hidden size an RTN for ``model`` needs: ``model.config.hidden_size``."""
    size = getattr(getattr(model, "config", None), "hidden_size", None)
    if not isinstance(size, int):
        raise ValueError(f"a {type(model).__name__} has no config.hidden_size; expected an HF model")
    return size


def _through(rtn: nn.Module, output: Any) -> Any:
    """``output`` with its hidden states passed through ``rtn``: a Tensor, or a tuple whose first item is one."""
    if isinstance(output, Tensor):
        return rtn(output)
    if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
        return (rtn(output[0]), *output[1:])
    raise TypeError(f"cannot apply an RTN to a module output of type {type(output).__name__}; expected a Tensor "
                    "or a tuple whose first item is the hidden states")


class RTNInsertion:
    """RTNs hooked into an encoder, applied only inside :meth:`applied`; made by :func:`insert_rtns`.

    Outside ``applied()`` the hooks pass outputs through untouched, so target-language batches and
    evaluation see the plain model. The RTNs are not submodules of the model: ``model.parameters()``
    and ``model.state_dict()`` are unchanged, and under ``torch.func.functional_call(model, ...)``
    the RTNs keep their own parameters, which autograd tracks as usual. Move them with the model
    (``insertion.rtns.to(device, dtype)``).

    Attributes:
        rtns: the RTNs keyed by ``str(position)``; checkpoint its ``state_dict()``.
    """

    def __init__(self, rtns: nn.ModuleDict) -> None:
        self.rtns = rtns
        self._active = False
        self._handles: list[RemovableHandle] = []
        self._removed = False

    @property
    def active(self) -> bool:
        return self._active

    @contextmanager
    def applied(self) -> Iterator[RTNInsertion]:
        """Apply the RTNs in the forward passes run inside this context (source-language batches)."""
        if self._removed:
            raise RuntimeError("these RTNs were removed from the model; insert them again with insert_rtns")
        before, self._active = self._active, True
        try:
            yield self
        finally:
            self._active = before

    def parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of every RTN, for the meta-optimiser."""
        return self.rtns.parameters()

    def remove(self) -> None:
        """Remove the hooks: the model is the plain encoder again (test time). Idempotent."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._active = False
        self._removed = True

    def _hook(self, rtn: nn.Module) -> Callable[[nn.Module, tuple[Any, ...], Any], Any]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            return _through(rtn, output) if self._active else None  # None: output unchanged

        return hook


def insert_rtns(model: nn.Module, rtns: Mapping[int, RTN]) -> RTNInsertion:
    """Hook ``rtns`` into ``model``: position 0 after the embeddings, ``i`` in ``1..L`` after layer ``i``."""
    embeddings, layers = encoder_layers(model)
    sites = [embeddings, *layers]  # sites[i]: the module whose output is the representation at position i
    if not rtns:
        raise ValueError("insert_rtns got no RTNs; expected a mapping {position: RTN}")
    size = getattr(getattr(model, "config", None), "hidden_size", None)
    for position, rtn in rtns.items():
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(sites):
            raise ValueError(f"invalid RTN position {position!r} for a {type(model).__name__} with {len(layers)} "
                             f"layers: expected an integer in 0..{len(layers)} (0: after the embeddings, "
                             f"i: after layer i)")
        if not isinstance(rtn, nn.Module):
            raise TypeError(f"the RTN at position {position} is a {type(rtn).__name__}; expected an nn.Module")
        if isinstance(rtn, RTN) and isinstance(size, int) and rtn.hidden_size != size:
            raise ValueError(f"the RTN at position {position} has hidden_size {rtn.hidden_size}, but the "
                             f"{type(model).__name__} has hidden_size {size}")
    insertion = RTNInsertion(nn.ModuleDict({str(p): rtns[p] for p in sorted(rtns)}))
    for position in sorted(rtns):
        hook = insertion._hook(insertion.rtns[str(position)])
        insertion._handles.append(sites[position].register_forward_hook(hook, prepend=True))
    return insertion
