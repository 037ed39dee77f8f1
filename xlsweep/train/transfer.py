"""Transfer from a source to one target language as one resumable training loop, with model selection on the
target's dev split: MetaXL and its baselines (target-only, JT, JT w/ RTN: :mod:`xlsweep.methods.metaxl`).

=============  ===========================================================================
objective      one step
=============  ===========================================================================
``target``     a batch of target rows
``joint``      ``joint_batches="balanced"`` (default, the authors' ``joint_training``): a
               source batch and the next batch of the target stream, ``L_src + L_tgt``;
               ``"pooled"``: a batch of the source and target rows concatenated; with an RTN,
               source rows pass through it and θ and φ are trained together by plain SGD
``metaxl``     a source batch and the next batch of the target stream; the bi-level step of
               :func:`xlsweep.algorithms.metaxl.metaxl_loss`, as ``step`` says (below)
=============  ===========================================================================

**The target stream** (``metaxl``, balanced ``joint``) is the authors' endless target
loader (``DataIterator`` over a shuffled ``DataLoader``): each pass over the few target rows is a
new permutation cut into batches of ``target_batch``, the last one short. One batch per step, so
for the same seed ``metaxl`` and balanced ``joint`` draw the same source batches and the same target batches:
``ceil(n_src / source_batch)`` target batches per epoch, every target row seen ~``n_src / n_tgt``
times (50× for 5000 / 100), where pooled ``joint`` sees each target row once per epoch.

**MetaXL's step** (``step``):

* ``"paper"`` (Algorithm 1, lines 3–5; Eq. 2–3): θ' = θ − α∇θ L_src(θ, φ); φ ← Adam on
  ∇φ L_tgt(θ') over the whole target batch; θ ← AdamW on ∇θ L_src(θ, φ) — θ never sees a target label.
* ``"authors-code"`` (``mtrain.py`` + ``mlt.step_metaxl``): the target batch is split in halves
  (``--portion 2``); the first half's plain loss joins the step's, L = L_src(θ, φ) + L_tgt(θ); θ' =
  θ − α∇θ L; φ ← Adam on ∇φ of the second half's L_tgt(θ'); then θ ← AdamW on ∇θ L *recomputed
  with the updated φ* (a new forward, as the code does). A batch whose halves are not both
  non-empty (one row) is skipped, as the code's ``continue``: no update, the schedule does not move.

An epoch is a pass over the objective's pool of rows (the source rows for ``metaxl`` and balanced ``joint``).
After every epoch the model is scored on the target's dev split and the best one is kept
(``select="best-dev"``). ``backoff_epochs`` then fine-tune on source and target concatenated,
without the RTN (the paper's back-off option, §4.6). The main model is AdamW with a linear schedule
and gradient-norm clipping; the RTN is Adam. The whole state round-trips through ``state_dict``, so
a trial resumes exactly.
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
from xlsweep.data.sources import subset_indices
from xlsweep.models.rtn import insert_rtns, rtn_hidden_size, rtn_variant
from xlsweep.train.meta import NonFiniteLoss
from xlsweep.train.phases import OBJECTIVES, Objective, Phase, transfer_phases
from xlsweep.train.schedule import linear_schedule, make_optimizer

if TYPE_CHECKING:
    from xlsweep.tasks.base import Task

__all__ = ["TransferData", "TransferLearner", "TransferSettings", "subset_rows"]


@dataclass(frozen=True)
class TransferData:
    """What a :class:`TransferLearner` trains and selects on.

    Attributes:
        source: The source language's training features (None: the ``target`` objective reads none).
        target: The target language's training features (e.g. 100 examples).
        dev, dev_references: The target's dev split, for model selection.
        language: The target language (some metrics normalise per language).
    """

    source: Features | None
    target: Features
    dev: Features
    dev_references: Any
    language: str


@dataclass(frozen=True)
class TransferSettings:
    """How a :class:`TransferLearner` trains (see the module docstring).

    Attributes:
        objective: ``target``, ``joint`` or ``metaxl``: what one step trains on.
        rtn: The RTN variant (:func:`xlsweep.models.rtn.rtn_variant`) source rows pass through; None: no RTN
            (``metaxl`` needs one).
        rtn_layers, bottleneck: Where the RTN(s) sit and their width ``r``.
        lr: The main model's learning rate, also MetaXL's virtual step size at each step.
        rtn_lr: The RTN's learning rate.
        optimizer: θ's optimiser, ``adamw`` or ``adam`` (:func:`xlsweep.train.schedule.make_optimizer`); with
            ``adam`` φ's Adam also applies ``weight_decay`` (the authors' ``mtrain.py``).
        max_grad_norm: Clip the main model's gradient norm (0: no clipping).
        step: MetaXL's step, ``"paper"`` or ``"authors-code"``.
        joint_batches: ``"balanced"`` (a source batch and a target-stream batch per step, as MetaXL) or
            ``"pooled"`` (batches of the concatenated rows) for the ``joint`` objective.
        select: Keep the ``best-dev`` epoch's model, or the ``last``.
        eval_batch_size: Rows per batch when the dev split is scored.
    """

    objective: Objective = "metaxl"
    rtn: str | None = "identity-init"
    rtn_layers: tuple[int, ...] = (0,)
    bottleneck: int = 64
    epochs: int = 3
    source_batch: int = 16
    target_batch: int = 16
    lr: float = 5e-5
    rtn_lr: float = 1e-3
    weight_decay: float = 0.01
    optimizer: Literal["adamw", "adam"] = "adamw"  # θ's (make_optimizer); "adam": φ's Adam gets weight_decay too
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    backoff_epochs: int = 0
    step: Literal["paper", "authors-code"] = "authors-code"
    joint_batches: Literal["balanced", "pooled"] = "balanced"
    select: Literal["best-dev", "last"] = "best-dev"
    eval_batch_size: int = 64


def subset_rows(features: Features, n: int, *, mode: str = "first", seed: int = 0) -> Features:
    """``n`` rows of ``features``, chosen as :func:`xlsweep.data.sources.subset_indices` says (``first``,
    ``seeded`` or ``numpy``): the rows :func:`xlsweep.data.sources.take` keeps of a data set of that length.

    ``n <= 0`` or ``n >= rows``: all of them. The authors' ``read_data`` draws MetaXL's source and target
    subsets (``np.random.choice`` after ``np.random.seed(--data_seed)``: ``numpy``); ``first`` keeps the
    files' first rows.
    """
    total = num_rows(features)
    rows = subset_indices(total, n, mode=mode, seed=seed)
    if len(rows) == total:
        return features
    if mode == "first":
        return {k: v[:n] for k, v in features.items()}
    index = torch.tensor(rows)
    return {k: v[index] for k, v in features.items()}


class TransferLearner:
    """Trains ``model`` on ``data`` as ``settings`` say for ``epochs`` (+ ``backoff_epochs``); ``step()`` until
    ``total_steps``. ``model`` (a task model, its head included) is trained in place; ``task`` scores the dev split.
    """

    def __init__(self, model: nn.Module, data: TransferData, settings: TransferSettings, *, task: Task,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        s = settings
        if s.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {s.objective!r}; expected one of {', '.join(OBJECTIVES)}")
        if s.objective != "target" and data.source is None:
            raise ValueError(f"objective {s.objective} needs source features")
        if s.step not in ("paper", "authors-code"):
            raise ValueError(f"MetaXL step {s.step!r}; expected 'paper' or 'authors-code'")
        if s.joint_batches not in ("balanced", "pooled"):
            raise ValueError(f"joint_batches {s.joint_batches!r}; expected 'balanced' or 'pooled'")
        self.model, self.objective, self.device = model.to(device), s.objective, device
        self.source, self.target = data.source, data.target
        self.dev, self.dev_references = data.dev, data.dev_references
        self.task, self.language, self.select, self.seed = task, data.language, s.select, seed
        self.eval_batch_size, self.max_grad_norm = s.eval_batch_size, s.max_grad_norm
        self.target_batch, self.metaxl_step, self.joint_batches = s.target_batch, s.step, s.joint_batches
        self.phases = self._phases(s)
        self.total_steps = sum(p.steps for p in self.phases)

        hidden = rtn_hidden_size(model)
        torch.manual_seed(seed)
        rtns = {i: rtn_variant(s.rtn, hidden, s.bottleneck) for i in s.rtn_layers} if s.rtn is not None else {}
        self.insertion = insert_rtns(model, rtns) if s.rtn is not None else None
        if self.insertion is not None:
            self.insertion.rtns.to(device)
        rtn_params = {id(p) for p in self.insertion.parameters()} if self.insertion is not None else set()
        self.params: dict[str, Tensor] = {n: p for n, p in model.named_parameters()
                                          if p.requires_grad and id(p) not in rtn_params}
        self.optimizer = make_optimizer(list(self.params.values()), s.optimizer, lr=s.lr, weight_decay=s.weight_decay)
        self.scheduler = linear_schedule(self.optimizer, total_steps=self.total_steps, warmup_ratio=s.warmup_ratio)
        # φ: Adam; with optimizer "adam" it shares θ's L2 weight decay, as the authors' meta_opt (mtrain.py)
        self.rtn_optimizer = (torch.optim.Adam(list(self.insertion.parameters()), lr=s.rtn_lr,
                                               weight_decay=s.weight_decay if s.optimizer == "adam" else 0.0)
                              if self.insertion is not None else None)
        self.loss_fn = model_loss(model)
        self.embedding = input_embedding(model)  # MetaXL's virtual step moves it row-sparsely
        self.step_count = 0
        self.skipped_steps = 0  # authors-code steps whose target batch had one row (no update)
        self.dev_scores: list[float] = []  # after each epoch
        self.best_score = -math.inf
        self.best_state: dict[str, Tensor] | None = None

    # ------------------------------------------------------------------ plan
    def _phases(self, s: TransferSettings) -> list[Phase]:
        if s.backoff_epochs and self.source is None:
            raise ValueError("backoff_epochs: fine-tuning on source + target needs source features")
        n_s = num_rows(self.source) if self.source is not None else 0
        return transfer_phases(s.objective, n_s, num_rows(self.target), rtn=s.rtn is not None, epochs=s.epochs,
                               backoff_epochs=s.backoff_epochs, source_batch=s.source_batch,
                               target_batch=s.target_batch, joint_batches=s.joint_batches)

    def _where(self, step: int) -> tuple[int, Phase, int, int]:
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

    def target_rows(self, k: int) -> Tensor:
        """The ``k``-th batch of the target stream: pass ``k // per_pass``, a new permutation each pass.

        A pass is ``ceil(n_t / target_batch)`` batches, the last one short when ``target_batch`` does
        not divide ``n_t`` (as the authors' ``DataIterator`` over a ``DataLoader`` with ``shuffle=True``).
        """
        n_t, b = num_rows(self.target), self.target_batch
        per_pass = math.ceil(n_t / b)
        index = k % per_pass
        return self._order(n_t, -1, k // per_pass)[index * b : (index + 1) * b]

    # ------------------------------------------------------------------ RTN
    def transformed(self) -> AbstractContextManager[object]:
        """The context in which source rows pass through the RTN (a no-op for methods without one)."""
        return self.insertion.applied() if self.insertion is not None else nullcontext()

    # ------------------------------------------------------------------ steps
    def step(self) -> float:
        """One training step; returns the loss θ was trained on. Scores dev at the end of an epoch."""
        index, phase, epoch, i = self._where(self.step_count)
        rows = self._order(phase.pool, index, epoch)[i * phase.batch : (i + 1) * phase.batch]
        stream = self.step_count - sum(p.epochs * p.steps_per_epoch for p in self.phases[:index])
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.rtn_optimizer is not None:
            self.rtn_optimizer.zero_grad(set_to_none=True)
        if phase.kind == "metaxl":
            loss, update = self._metaxl_step(rows, self.target_rows(stream))
        else:
            if phase.kind == "target":
                loss = supervised_loss(self.model, batch_of(self.target, rows, self.device))
            elif phase.kind == "balanced":
                loss = self._balanced_loss(rows, self.target_rows(stream), rtn=phase.rtn)
            else:
                loss = self._pooled_loss(rows, rtn=phase.rtn)
            loss.backward()
            loss, update = loss.detach(), True
        if not math.isfinite(float(loss)):
            raise NonFiniteLoss(f"{self.objective} loss is {float(loss)} at step {self.step_count + 1}")
        if update:
            if self.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.max_grad_norm)
            self.optimizer.step()
            if self.rtn_optimizer is not None and phase.rtn and phase.kind != "metaxl":
                self.rtn_optimizer.step()  # joint with an RTN; MetaXL's φ stepped inside its step
            self.scheduler.step()
        else:
            self.skipped_steps += 1
        self.step_count += 1
        if i == phase.steps_per_epoch - 1:
            self._select()
        return float(loss)

    def _source_loss(self, rows: Tensor, *, rtn: bool) -> Tensor:
        assert self.source is not None
        with self.transformed() if rtn else nullcontext():
            return supervised_loss(self.model, batch_of(self.source, rows, self.device))

    def _balanced_loss(self, rows: Tensor, target_rows: Tensor, *, rtn: bool) -> Tensor:
        """``L_src + L_tgt``: a source batch (through the RTN, if there is one) and a target-stream batch.

        The authors' ``step_jt_metaxl`` sums the two losses, as MetaXL's step does; their plain
        ``step_gold_mix`` halves the sum, which only rescales the gradient (Adam is invariant to it
        but for ε; gradient clipping is not).
        """
        return self._source_loss(rows, rtn=rtn) + supervised_loss(
            self.model, batch_of(self.target, target_rows, self.device))

    def _pooled_loss(self, rows: Tensor, *, rtn: bool) -> Tensor:
        """Mean loss over a batch of the concatenated pool (source rows first), source rows through the RTN."""
        assert self.source is not None
        n_s = num_rows(self.source)
        parts = []
        src, tgt = rows[rows < n_s], rows[rows >= n_s] - n_s
        if len(src):
            parts.append((len(src), self._source_loss(src, rtn=rtn)))
        if len(tgt):
            parts.append((len(tgt), supervised_loss(self.model, batch_of(self.target, tgt, self.device))))
        return sum(n * loss for n, loss in parts) / len(rows)  # type: ignore[return-value]

    def _metaxl_step(self, rows: Tensor, target_rows: Tensor) -> tuple[Tensor, bool]:
        """φ's step on the target loss after the virtual step; θ's gradient left in ``.grad``.

        Returns θ's training loss and whether the optimisers are to step (False: a skipped step).
        """
        assert self.source is not None and self.insertion is not None
        if self.metaxl_step == "paper":
            train_rows, meta_rows = None, target_rows
        else:  # the authors' --portion 2: the first half trains θ, the second scores θ'
            half = len(target_rows) // 2
            train_rows, meta_rows = target_rows[:half], target_rows[half:]
            if half == 0:  # mtrain.py: `if len(eval_ids) == 0 or len(train_t_ids) == 0: continue`
                with torch.no_grad():
                    return self._source_loss(rows, rtn=True), False
        source = batch_of(self.source, rows, self.device)
        train = batch_of(self.target, train_rows, self.device) if train_rows is not None else None
        out = metaxl_loss(self.loss_fn, self.params, source, batch_of(self.target, meta_rows, self.device),
                          virtual_lr=self.optimizer.param_groups[0]["lr"], transformed=self.transformed,
                          target_train=train, embedding=self.embedding)
        rtn_params = list(self.insertion.parameters())
        for rtn_param, g in zip(rtn_params, torch.autograd.grad(out.target, rtn_params, allow_unused=True),
                                strict=True):
            rtn_param.grad = None if g is None else g.detach()
        if self.metaxl_step == "paper":  # θ(t+1) on ∇θ L_src(θ(t), φ(t)) (Algorithm 1, line 4)
            for name, param in self.params.items():
                param.grad = out.source_grads[name]
            assert self.rtn_optimizer is not None
            self.rtn_optimizer.step()
            return out.source, True
        assert self.rtn_optimizer is not None and train is not None
        self.rtn_optimizer.step()  # φ(t+1) first; then θ's loss is recomputed through it, as step_metaxl
        loss = self._source_loss(rows, rtn=True) + supervised_loss(self.model, train)
        loss.backward()
        return loss.detach(), True

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
            "skipped_steps": self.skipped_steps,
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
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self.dev_scores = list(state["dev_scores"])
        self.best_score = float(state["best_score"])
        self.best_state = state["best_state"]
        torch.set_rng_state(state["torch_rng"])

