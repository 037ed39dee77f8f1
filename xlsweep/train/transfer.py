"""MetaXL and its baselines as one resumable training loop, with model selection on the target's dev split.

=============  ===========================================================================
method         one step
=============  ===========================================================================
target-only    a batch of target rows
jt             a batch of the source and target rows concatenated (joint training)
jt-rtn         the same, source rows through the RTN; θ and φ trained together by plain SGD
metaxl         a source batch and one or two target batches; the bi-level step of
               :func:`xlsweep.algorithms.metaxl.metaxl_loss` (φ on a target batch's loss after
               a virtual step, θ on that step: the RTN-transformed source loss, plus a
               training target batch's loss with ``target_in_step``, as the authors' code)
=============  ===========================================================================

An epoch is a pass over the method's pool of rows (the source rows for ``metaxl``,
whose target batches cycle through the few target rows). After every epoch the
model is scored on the target's dev split and the best one is kept
(``select="best-dev"``). ``backoff_epochs`` then fine-tune on source and target
concatenated, without the RTN (the paper's back-off option). The main model is
AdamW with a linear schedule and gradient-norm clipping; the RTN is Adam. The whole
state round-trips through ``state_dict``, so a trial resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn

from xlsweep.algorithms.finetune import supervised_loss
from xlsweep.algorithms.maml import input_embedding, model_loss
from xlsweep.algorithms.metaxl import metaxl_loss
from xlsweep.data.features import Features, batch_of, num_rows
from xlsweep.models.rtn import RTN, insert_rtns, rtn_hidden_size
from xlsweep.train.meta import NonFiniteLoss
from xlsweep.train.schedule import linear_schedule

if TYPE_CHECKING:
    from xlsweep.tasks.base import Task

__all__ = ["METHODS", "TransferLearner", "first_rows"]

Method = Literal["metaxl", "jt", "jt-rtn", "target-only"]
METHODS: tuple[str, ...] = ("metaxl", "jt", "jt-rtn", "target-only")


def first_rows(features: Features, n: int) -> Features:
    """The first ``n`` rows of ``features`` (all when ``n`` is 0 or at least their number)."""
    if n <= 0 or n >= num_rows(features):
        return features
    return {k: v[:n] for k, v in features.items()}


@dataclass(frozen=True)
class _Phase:
    kind: Literal["metaxl", "joint", "target"]
    rtn: bool  # source rows pass through the RTN
    epochs: int
    pool: int  # rows per epoch
    batch: int

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.pool / self.batch)


class TransferLearner:
    """Trains ``model`` by ``method`` for ``epochs`` (+ ``backoff_epochs``); ``step()`` until ``total_steps``.

    Args:
        model: A task model (its head included), trained in place.
        source: The source languages' training features (unused by ``target-only``).
        target: The target language's training features (e.g. 100 examples).
        dev, dev_references: The target's dev split, for model selection.
        task: Scores ``dev`` (its primary metric).
        language: The target language (some metrics normalise per language).
        rtn_layers, bottleneck, residual, gate: The RTN(s), for ``metaxl`` and ``jt-rtn``.
        lr: The main model's learning rate, also MetaXL's virtual step size at each step.
        rtn_lr: The RTN's learning rate.
        max_grad_norm: Clip the main model's gradient norm (0: no clipping).
        target_in_step: MetaXL's step trains θ on a target batch too (the authors' code); the
            meta-loss scores the next target batch. False: θ's step is the source loss alone.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        method: Method,
        source: Features | None,
        target: Features,
        dev: Features,
        dev_references: Any,
        task: Task,
        language: str,
        rtn_layers: tuple[int, ...] = (0,),
        bottleneck: int = 64,
        residual: bool = True,
        gate: bool = False,
        epochs: int = 3,
        source_batch: int = 16,
        target_batch: int = 16,
        lr: float = 5e-5,
        rtn_lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_grad_norm: float = 1.0,
        backoff_epochs: int = 0,
        target_in_step: bool = True,
        select: Literal["best-dev", "last"] = "best-dev",
        seed: int = 0,
        eval_batch_size: int = 64,
        device: torch.device | str = "cpu",
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if method != "target-only" and source is None:
            raise ValueError(f"{method} needs source features")
        self.model, self.method, self.device = model.to(device), method, device
        self.source, self.target, self.dev, self.dev_references = source, target, dev, dev_references
        self.task, self.language, self.select, self.seed = task, language, select, seed
        self.eval_batch_size, self.max_grad_norm = eval_batch_size, max_grad_norm
        self.phases = self._phases(epochs, backoff_epochs, source_batch, target_batch)
        self.total_steps = sum(p.epochs * p.steps_per_epoch for p in self.phases)
        self.target_batch, self.target_in_step = target_batch, target_in_step

        uses_rtn = method in ("metaxl", "jt-rtn")
        hidden = rtn_hidden_size(model)
        torch.manual_seed(seed)
        rtns = {i: RTN(hidden, bottleneck, residual=residual, gate=gate) for i in rtn_layers} if uses_rtn else {}
        self.insertion = insert_rtns(model, rtns) if uses_rtn else None
        if self.insertion is not None:
            self.insertion.rtns.to(device)
        rtn_params = {id(p) for p in self.insertion.parameters()} if self.insertion is not None else set()
        self.params: dict[str, Tensor] = {n: p for n, p in model.named_parameters()
                                          if p.requires_grad and id(p) not in rtn_params}
        self.optimizer = torch.optim.AdamW(list(self.params.values()), lr=lr, weight_decay=weight_decay)
        self.scheduler = linear_schedule(self.optimizer, total_steps=self.total_steps, warmup_ratio=warmup_ratio)
        self.rtn_optimizer = (torch.optim.Adam(list(self.insertion.parameters()), lr=rtn_lr)
                              if self.insertion is not None else None)
        self.loss_fn = model_loss(model)
        self.embedding = input_embedding(model)  # MetaXL's virtual step moves it row-sparsely
        self.step_count = 0
        self.dev_scores: list[float] = []  # after each epoch
        self.best_score = -math.inf
        self.best_state: dict[str, Tensor] | None = None

    # ------------------------------------------------------------------ plan
    def _phases(self, epochs: int, backoff: int, source_batch: int, target_batch: int) -> list[_Phase]:
        n_t = num_rows(self.target)
        n_s = num_rows(self.source) if self.source is not None else 0
        main = {
            "target-only": _Phase("target", False, epochs, n_t, target_batch),
            "jt": _Phase("joint", False, epochs, n_s + n_t, source_batch),
            "jt-rtn": _Phase("joint", True, epochs, n_s + n_t, source_batch),
            "metaxl": _Phase("metaxl", True, epochs, n_s, source_batch),
        }[self.method]
        phases = [main]
        if backoff:
            if self.source is None:
                raise ValueError("backoff_epochs: fine-tuning on source + target needs source features")
            phases.append(_Phase("joint", False, backoff, n_s + n_t, source_batch))
        return phases

    def _where(self, step: int) -> tuple[int, _Phase, int, int]:
        """(phase index, phase, epoch within it, step within the epoch) of global ``step``."""
        for index, phase in enumerate(self.phases):
            span = phase.epochs * phase.steps_per_epoch
            if step < span:
                return index, phase, step // phase.steps_per_epoch, step % phase.steps_per_epoch
            step -= span
        raise IndexError(f"step {step} is past the end of training")

    def _order(self, n: int, *key: int) -> Tensor:
        gen = torch.Generator().manual_seed(hash((self.seed, *key)) % (2**63))
        return torch.randperm(n, generator=gen)  # (n,)

    # ------------------------------------------------------------------ RTN
    def transformed(self) -> AbstractContextManager[object]:
        """The context in which source rows pass through the RTN (a no-op for methods without one)."""
        return self.insertion.applied() if self.insertion is not None else nullcontext()

    # ------------------------------------------------------------------ steps
    def step(self) -> float:
        """One training step; returns its loss (MetaXL: the source loss). Scores dev at the end of an epoch."""
        index, phase, epoch, i = self._where(self.step_count)
        rows = self._order(phase.pool, index, epoch)[i * phase.batch : (i + 1) * phase.batch]
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.rtn_optimizer is not None:
            self.rtn_optimizer.zero_grad(set_to_none=True)
        if phase.kind == "metaxl":
            loss = self._metaxl_step(rows)
        else:
            if phase.kind == "target":
                loss = supervised_loss(self.model, batch_of(self.target, rows, self.device))
            else:
                loss = self._joint_loss(rows, rtn=phase.rtn)
            loss.backward()
            loss = loss.detach()
        if not math.isfinite(float(loss)):
            raise NonFiniteLoss(f"{self.method} loss is {float(loss)} at step {self.step_count + 1}")
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.max_grad_norm)
        self.optimizer.step()
        if self.rtn_optimizer is not None and phase.rtn:
            self.rtn_optimizer.step()
        self.scheduler.step()
        self.step_count += 1
        if i == phase.steps_per_epoch - 1:
            self._select()
        return float(loss)

    def _joint_loss(self, rows: Tensor, *, rtn: bool) -> Tensor:
        """Mean loss over a batch of the concatenated pool (source rows first), source rows through the RTN."""
        assert self.source is not None
        n_s = num_rows(self.source)
        parts = []
        src, tgt = rows[rows < n_s], rows[rows >= n_s] - n_s
        if len(src):
            with self.transformed() if rtn else nullcontext():
                parts.append((len(src), supervised_loss(self.model, batch_of(self.source, src, self.device))))
        if len(tgt):
            parts.append((len(tgt), supervised_loss(self.model, batch_of(self.target, tgt, self.device))))
        return sum(n * loss for n, loss in parts) / len(rows)  # type: ignore[return-value]

    def _metaxl_step(self, rows: Tensor) -> Tensor:
        """φ on the target loss after the virtual source step; θ's gradient is that source step's."""
        assert self.source is not None and self.insertion is not None
        batches = 2 if self.target_in_step else 1  # a training target batch, then the meta batch
        meta_rows, *train_rows = [self._target_rows(self.step_count * batches + k) for k in range(batches)][::-1]
        out = metaxl_loss(self.loss_fn, self.params, batch_of(self.source, rows, self.device),
                          batch_of(self.target, meta_rows, self.device),
                          virtual_lr=self.optimizer.param_groups[0]["lr"], transformed=self.transformed,
                          target_train=batch_of(self.target, train_rows[0], self.device) if train_rows else None,
                          embedding=self.embedding)
        rtn_params = list(self.insertion.parameters())
        for rtn_param, g in zip(rtn_params, torch.autograd.grad(out.target, rtn_params, allow_unused=True),
                                strict=True):
            rtn_param.grad = None if g is None else g.detach()
        for name, param in self.params.items():
            param.grad = out.source_grads[name]
        return out.source

    def _target_rows(self, k: int) -> Tensor:
        """The ``k``-th target batch of a stream that cycles through the few target rows, reshuffled per pass."""
        n_t, b = num_rows(self.target), self.target_batch
        first = k * b
        positions = torch.arange(first, first + b)  # (b,) positions in the endless stream
        passes = positions // n_t
        orders = {int(p): self._order(n_t, -1, int(p)) for p in passes.unique()}
        return torch.stack([orders[int(p)][int(i)] for p, i in zip(passes, positions % n_t, strict=True)])

    # ------------------------------------------------------------------ selection
    def dev_score(self) -> float:
        """The target's dev score (the task's primary metric) of the model as it is now."""
        scores = self.task.evaluate(self.model, self.dev, self.dev_references, language=self.language,
                                    batch_size=self.eval_batch_size, device=self.device)
        return float(scores[self.task.primary])

    def _select(self) -> None:
        score = self.dev_score()
        self.dev_scores.append(score)
        if self.select == "last" or score > self.best_score:
            self.best_score = score
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def final_model(self) -> nn.Module:
        """The selected model (best dev epoch, or the last), loaded in place; call once training is over.

        The RTN stays inserted but applies only inside :meth:`transformed`, so the
        model scores target data without it, as at test time.
        """
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.model

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "rtns": self.insertion.rtns.state_dict() if self.insertion is not None else {},
            "optimizer": self.optimizer.state_dict(),
            "rtn_optimizer": self.rtn_optimizer.state_dict() if self.rtn_optimizer is not None else {},
            "scheduler": self.scheduler.state_dict(),
            "step": self.step_count,
            "dev_scores": list(self.dev_scores),
            "best_score": self.best_score,
            "best_state": self.best_state,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.insertion is not None:
            self.insertion.rtns.load_state_dict(state["rtns"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.rtn_optimizer is not None:
            self.rtn_optimizer.load_state_dict(state["rtn_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step_count = int(state["step"])
        self.dev_scores = list(state["dev_scores"])
        self.best_score = float(state["best_score"])
        self.best_state = state["best_state"]
        torch.set_rng_state(state["torch_rng"])

