"""One trial without Ray: stage 2 + 3 on the smoke config, and exact resumption from a checkpoint."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from xlsweep.data.benchmark import benchmark_languages
from xlsweep.sweep.trainable import CheckpointError, load_learner_state
from xlsweep.tasks.outcomes import OUTCOMES_FILE, full_sample, read_outcomes
from xlsweep.trial import run_trial


def test_trial_reports_every_target_and_deltas_against_the_baseline(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    metrics = run_trial(cfg, prepared)
    languages = benchmark_languages(cfg.data)
    for lang in languages:
        assert 0.0 <= metrics[f"acc/{lang}"] <= 1.0
        assert metrics[f"delta/{lang}"] == pytest.approx(metrics[f"acc/{lang}"] - prepared.baseline[f"acc/{lang}"])
    assert metrics["acc_avg"] == pytest.approx(sum(metrics[f"acc/{x}"] for x in languages) / len(languages))


def test_a_trial_stores_per_example_outcomes_that_reproduce_its_scores_and_the_baselines(
        prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    metrics = run_trial(cfg, prepared, artifacts_dir=tmp_path)
    outcomes = read_outcomes(tmp_path / OUTCOMES_FILE)
    assert outcomes.task == "nli"
    assert set(outcomes.trial) == set(benchmark_languages(cfg.data)) == set(outcomes.baseline)
    for lang, rows in outcomes.trial.items():  # the same examples, in the same order, on both sides
        assert rows.shape == outcomes.baseline[lang].shape == (len(prepared.features.get(lang, "test")["labels"]), 1)
        assert full_sample("nli", rows)["acc"] == metrics[f"acc/{lang}"]
        assert full_sample("nli", outcomes.baseline[lang])["acc"] == prepared.baseline[f"acc/{lang}"]


def _metaxl(cfg):  # type: ignore[no-untyped-def]
    meta = dataclasses.replace(cfg.meta, algorithm="metaxl", support=("ana",), query=("bel",), split="train")
    return dataclasses.replace(cfg, meta=meta, metaxl=dataclasses.replace(cfg.metaxl, epochs=1, analysis_rows=0,
                                                                        target_size=32, source_size=64))


@pytest.mark.parametrize("kind", ["functional", "higher", "metaxl"])
def test_a_trial_resumed_from_a_checkpoint_ends_exactly_where_an_uninterrupted_one_does(
    prepared_smoke, kind: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """Through the trainable's checkpoint file, read with ``weights_only=True``: the learners' states (tensors,
    optimiser and scheduler states, the sampler's ``random`` state, the dev scores) need nothing else."""
    cfg, prepared, _ = prepared_smoke
    if kind == "metaxl":
        cfg = _metaxl(cfg)
    else:
        cfg = dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, inner_backend=kind, sampling="cover"))
    saved: dict[int, Path] = {}

    def keep(step: int, loss: float, learner: Any, dev: dict[str, float]) -> None:
        saved[step] = tmp_path / f"learner-{step}.pt"
        torch.save(learner.state_dict(), saved[step])

    uninterrupted = run_trial(cfg, prepared, on_checkpoint=keep)
    first, *_ = sorted(saved)
    resumed = run_trial(cfg, prepared, restore=load_learner_state(saved[first]))
    assert resumed == pytest.approx(uninterrupted, abs=1e-12)


class _RunsCode:
    """What a planted checkpoint could hold: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def test_a_planted_checkpoint_is_refused_without_running_its_code(tmp_path: Path) -> None:
    planted, marker = tmp_path / "learner.pt", tmp_path / "ran"
    torch.save({"model": {}, "step": _RunsCode(marker)}, planted)
    with pytest.raises(CheckpointError, match="not a learner state this trainable wrote, refused"):
        load_learner_state(planted)
    assert not marker.exists()
    torch.load(planted, weights_only=False)  # what the trainable did before: the planted code runs
    assert marker.exists()


def test_a_truncated_or_foreign_checkpoint_is_one_clear_error(tmp_path: Path) -> None:
    truncated = tmp_path / "learner.pt"
    torch.save({"step": 3, "w": torch.zeros(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="refused"):
        load_learner_state(truncated)
    listed = tmp_path / "list.pt"
    listed.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(CheckpointError):
        load_learner_state(listed)


@pytest.mark.parametrize("algorithm", ["xla-maml", "metaxl"])
def test_bf16_training_steps_run_and_track_the_float32_losses(prepared_smoke, algorithm: str) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    if algorithm == "metaxl":
        cfg = _metaxl(cfg)
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
