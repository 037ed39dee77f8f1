"""One trial without Ray: stage 2 + 3 on the smoke config, and exact resumption from a checkpoint."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
import torch

from xlsweep.data.benchmark import benchmark_languages
from xlsweep.trial import run_trial


def test_trial_reports_every_target_and_deltas_against_the_baseline(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    metrics = run_trial(cfg, prepared)
    languages = benchmark_languages(cfg.data)
    for lang in languages:
        assert 0.0 <= metrics[f"acc/{lang}"] <= 1.0
        assert metrics[f"delta/{lang}"] == pytest.approx(metrics[f"acc/{lang}"] - prepared.baseline[f"acc/{lang}"])
    assert metrics["acc_avg"] == pytest.approx(sum(metrics[f"acc/{x}"] for x in languages) / len(languages))


@pytest.mark.parametrize("backend", ["functional", "higher"])
def test_a_trial_resumed_from_a_checkpoint_ends_exactly_where_an_uninterrupted_one_does(
    prepared_smoke, backend: str  # type: ignore[no-untyped-def]
) -> None:
    cfg, prepared, _ = prepared_smoke
    cfg = dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, inner_backend=backend, sampling="cover"))
    saved: dict[int, bytes] = {}

    def keep(step: int, loss: float, learner: Any, dev: dict[str, float]) -> None:
        buffer = io.BytesIO()
        torch.save(learner.state_dict(), buffer)
        saved[step] = buffer.getvalue()

    uninterrupted = run_trial(cfg, prepared, on_checkpoint=keep)
    assert sorted(saved) == [2, 4]  # checkpoint_every: 2, steps: 4
    state = torch.load(io.BytesIO(saved[2]), weights_only=False)
    resumed = run_trial(cfg, prepared, restore=state)
    assert resumed == pytest.approx(uninterrupted, abs=1e-12)


@pytest.mark.parametrize("algorithm", ["xla-maml", "metaxl"])
def test_bf16_training_steps_run_and_track_the_float32_losses(prepared_smoke, algorithm: str) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    if algorithm == "metaxl":
        meta = dataclasses.replace(cfg.meta, algorithm="metaxl", support=("ana",), query=("bel",), split="train")
        cfg = dataclasses.replace(cfg, meta=meta, metaxl=dataclasses.replace(cfg.metaxl, epochs=1, analysis_rows=0,
                                                                            target_size=32, source_size=64))
    losses: dict[str, list[float]] = {}
    for amp in ("none", "bf16"):
        run = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, amp=amp))
        seen = losses.setdefault(amp, [])
        metrics = run_trial(run, prepared, on_checkpoint=lambda step, loss, learner, dev, seen=seen: seen.append(loss))
        assert all(0.0 <= metrics[f"acc/{lang}"] <= 1.0 for lang in benchmark_languages(cfg.data))
    assert len(losses["bf16"]) == len(losses["none"]) > 0
    assert losses["bf16"] != losses["none"]  # autocast really ran in bf16
    assert losses["bf16"] == pytest.approx(losses["none"], rel=0.05)  # and tracks float32 (bf16: 3 digits)


def test_union_episodes_train_on_batches_that_mix_the_support_languages(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.trial import build_learner

    cfg, prepared, _ = prepared_smoke
    meta = dataclasses.replace(cfg.meta, support=("ana", "bel"), query=("zul",), episode_languages="union",
                               support_size=32)
    learner = build_learner(dataclasses.replace(cfg, meta=meta), prepared)
    assert learner.sampler.pairs == [(("ana", "bel"), ("zul",))]  # type: ignore[union-attr]
    twin = build_learner(dataclasses.replace(cfg, meta=meta), prepared)
    episodes = [twin.sampler.sample() for _ in range(cfg.meta.meta_batch)]  # type: ignore[union-attr]
    assert any({lang for lang, _ in e.support} == {"ana", "bel"} for e in episodes)  # 32 of 128 rows: mixed
    assert learner.step() > 0
