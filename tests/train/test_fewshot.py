"""Few-shot evaluation: fine-tunes a copy on the target's dev split, leaves the model alone, and reaches the trial."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from xlsweep.tasks import get_task
from xlsweep.train.fewshot import few_shot_scores
from xlsweep.trial import run_trial


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


class _Recording:
    """A task that remembers the model it was asked to score."""

    def __init__(self, task: object) -> None:
        self.task = task
        self.scored: list[torch.nn.Module] = []

    def evaluate(self, model: torch.nn.Module, *args: object, **kwargs: object) -> dict[str, float]:
        self.scored.append(model)
        return self.task.evaluate(model, *args, **kwargs)  # type: ignore[attr-defined,no-any-return]


def test_few_shot_tunes_a_copy_on_dev_and_leaves_the_model_alone(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    task = get_task(cfg.data.task)
    model = task.load_model(prepared.stage1_dir)
    before = _state(model)
    dev, test = prepared.features.get("zul", "dev"), prepared.features.get("zul", "test")
    refs = prepared.features.references("zul", "test")
    common = {"language": "zul", "batch_size": 16, "weight_decay": 0.0, "warmup_ratio": 0.0, "seed": 0,
              "eval_batch_size": 64}
    zero_shot = task.evaluate(model, test, refs, language="zul", batch_size=64, device="cpu")

    recording = _Recording(task)
    frozen = few_shot_scores(recording, model, dev, test, refs, epochs=1, lr=0.0, **common)  # type: ignore[arg-type]
    assert frozen == pytest.approx(zero_shot, abs=1e-12)  # lr 0: the copy is the model
    tuned = few_shot_scores(recording, model, dev, test, refs, epochs=1, lr=1e-3, **common)  # type: ignore[arg-type]
    scored = _state(recording.scored[-1])
    assert recording.scored[-1] is not model
    assert any(not torch.equal(before[k], scored[k]) for k in before)  # the copy was trained
    assert all(torch.equal(before[k], v) for k, v in _state(model).items())  # the model passed in is untouched
    assert set(tuned) == {"acc"}

    # it trains on dev: scored on dev itself, ten epochs fit what stage 1 on ana barely reaches
    dev_refs = prepared.features.references("zul", "dev")
    on_dev = task.evaluate(model, dev, dev_refs, language="zul", batch_size=64, device="cpu")
    fitted = few_shot_scores(task, model, dev, dev, dev_refs, epochs=10, lr=3e-3, **common)
    assert fitted["acc"] > on_dev["acc"] + 0.3, (on_dev, fitted)


def test_a_trial_with_few_shot_reports_both_modes_against_their_own_baselines(prepared_smoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.prepare import prepare

    cfg, _, cache = prepared_smoke
    few = dataclasses.replace(cfg.eval.few_shot, enabled=True, epochs=1, lr=1e-4)
    cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, targets=("bel", "zul"), few_shot=few))
    prepared = prepare(cfg, cache)  # the few-shot baseline is new; stage 1 and features come from the cache
    metrics = run_trial(cfg, prepared)
    for lang in ("bel", "zul"):
        for mode in ("", "fs_"):
            score = metrics[f"{mode}acc/{lang}"]
            assert metrics[f"{mode}delta/{lang}"] == pytest.approx(score - prepared.baseline[f"{mode}acc/{lang}"])
    assert metrics["fs_acc_avg"] == pytest.approx((metrics["fs_acc/bel"] + metrics["fs_acc/zul"]) / 2)
    assert set(k for k in metrics if k.endswith("_avg")) == {"acc_avg", "delta_avg", "fs_acc_avg", "fs_delta_avg"}


def _target_inner(cfg, query: tuple[str, ...] = ("bel",)):  # type: ignore[no-untyped-def]
    few = dataclasses.replace(cfg.eval.few_shot, enabled=True, epochs=1, lr=1e-4, protocol="target-inner")
    return dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, support=("ana",), query=query),
                               eval=dataclasses.replace(cfg.eval, targets=("bel", "zul"), few_shot=few))


def test_target_inner_meta_learns_with_the_targets_dev_split_as_support_and_never_reads_its_test(  # type: ignore[no-untyped-def]
        prepared_smoke, monkeypatch) -> None:
    """XLA-MAML §4.3: "we use tgt. lang as the inner-step and aux. lang as the meta-step" (few-shot)."""
    from xlsweep.plan import validate_trial
    from xlsweep.trial import target_inner_learner

    cfg, prepared, _ = prepared_smoke
    cfg = _target_inner(cfg)
    validate_trial(cfg)
    read: list[tuple[str, str]] = []
    real_get = prepared.features.get
    monkeypatch.setattr(prepared.features, "get", lambda lang, split: read.append((lang, split)) or
                        real_get(lang, split))
    assert target_inner_learner(cfg, prepared, "bel") is None  # the auxiliary language's own column: none (Table 3)
    learner = target_inner_learner(cfg, prepared, "zul")
    assert learner is not None
    assert learner.sampler.pairs == [(("zul",), ("bel",))]  # inner step on the target, meta step on the aux
    assert torch.equal(learner.data["zul"]["input_ids"], real_get("zul", "dev")["input_ids"])
    while learner.step_count < learner.total_steps:
        learner.step()
    assert sorted(set(read)) == [("bel", cfg.meta.split), ("zul", "dev")]  # no test split, no source data
    stage1 = get_task(cfg.data.task).load_model(prepared.stage1_dir).state_dict()
    assert any(not torch.equal(v, stage1[k]) for k, v in learner.model.state_dict().items())


def test_a_target_inner_trial_reports_few_shot_for_every_target_but_the_query_language(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.prepare import prepare

    cfg, _, cache = prepared_smoke
    cfg = _target_inner(cfg)
    prepared = prepare(cfg, cache)
    metrics = run_trial(cfg, prepared)
    assert "fs_acc/zul" in metrics and "fs_acc/bel" not in metrics and "acc/bel" in metrics
    assert metrics["fs_delta/zul"] == pytest.approx(metrics["fs_acc/zul"] - prepared.baseline["fs_acc/zul"])
    assert metrics["fs_delta_avg"] == pytest.approx(metrics["fs_delta/zul"])
    finetune = dataclasses.replace(cfg, eval=dataclasses.replace(
        cfg.eval, few_shot=dataclasses.replace(cfg.eval.few_shot, protocol="finetune")))
    other = run_trial(finetune, prepared)
    assert "fs_acc/bel" in other
    assert metrics["acc/zul"] == pytest.approx(other["acc/zul"], abs=1e-12)  # zero-shot: the same trial
