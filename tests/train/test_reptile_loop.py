"""The Reptile loop: one outer step against a hand computation in float64, and Reptile as a trial."""

from __future__ import annotations

import copy
import dataclasses
import io
from typing import Any

import pytest
import torch
from torch import Tensor
from transformers import BertConfig, BertForSequenceClassification

from xlsweep.data.episodes import EpisodeSampler, episode_batch, language_pairs
from xlsweep.train.reptile import ReptileLearner
from xlsweep.trial import build_learner, run_trial

ALPHA, EPSILON = 0.1, 0.5


def _model() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=3, attn_implementation="eager")
    torch.manual_seed(0)
    return BertForSequenceClassification(config).double()


def _data() -> dict[str, dict[str, Tensor]]:
    out = {}
    for i, lang in enumerate("abc"):
        gen = torch.Generator().manual_seed(i)
        out[lang] = {"input_ids": torch.randint(5, 30, (12, 6), generator=gen),
                     "attention_mask": torch.ones(12, 6, dtype=torch.long),
                     "labels": torch.randint(0, 3, (12,), generator=gen), "example_id": torch.arange(12)}
    return out


def _sampler() -> EpisodeSampler:
    return EpisodeSampler(_data(), language_pairs(["a"], ["b", "c"]), support_size=4, query_size=3,
                          seed=5)


def test_an_outer_step_is_theta_plus_epsilon_times_the_mean_task_delta() -> None:
    """Nichol et al.'s Algorithm 2: θ ← θ + ε (1/n) Σ_i (θ̃_i − θ), θ̃_i after k SGD steps on task i."""
    model, data = _model(), _data()
    learner = ReptileLearner(copy.deepcopy(model), data, _sampler(), steps=4, meta_batch=3, inner_lr=ALPHA,
                             inner_steps=2, adapt=(), meta_lr=EPSILON, warmup_ratio=0.0)
    twin, deltas, query_losses = _sampler(), [], []
    for _ in range(3):  # by hand: each task on a copy, torch.optim.SGD, support twice then query
        ep = twin.sample()
        tuned = copy.deepcopy(model)
        opt = torch.optim.SGD(tuned.parameters(), lr=ALPHA)
        for batch in [episode_batch(data, ep.support)] * 2 + [episode_batch(data, ep.query)]:
            opt.zero_grad()
            loss = tuned(**batch).loss
            loss.backward()
            opt.step()
        query_losses.append(float(loss.detach()))
        deltas.append({n: (p - dict(model.named_parameters())[n]).detach() for n, p in tuned.named_parameters()})
    loss = learner.step()
    for name, p in model.named_parameters():
        want = p.detach() + EPSILON * sum(d[name] for d in deltas) / 3
        torch.testing.assert_close(dict(learner.model.named_parameters())[name].detach(), want, rtol=1e-10,
                                   atol=1e-13, msg=name)
    assert loss == pytest.approx(sum(query_losses) / 3, rel=1e-12)
    assert learner.step_count == 1
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(EPSILON * 3 / 4)  # ε annealed linearly


def test_reptile_runs_as_a_trial_and_resumes_exactly(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    cfg = dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, algorithm="reptile", meta_lr=0.5),
                              eval=dataclasses.replace(cfg.eval, targets=("bel", "zul")))
    learner = build_learner(cfg, prepared)
    assert isinstance(learner, ReptileLearner)
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    learner.step()
    assert any(not torch.equal(before[k], v) for k, v in learner.model.state_dict().items())
    saved: dict[int, Any] = {}

    def keep(step: int, loss: float, learner: Any, dev: dict[str, float]) -> None:
        buffer = io.BytesIO()
        torch.save(learner.state_dict(), buffer)
        saved[step] = buffer.getvalue()

    uninterrupted = run_trial(cfg, prepared, on_checkpoint=keep)
    assert sorted(saved) == [2, 4]
    resumed = run_trial(cfg, prepared, restore=torch.load(io.BytesIO(saved[2]), weights_only=False))
    assert resumed == pytest.approx(uninterrupted, abs=1e-12)
