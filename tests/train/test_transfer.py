"""MetaXL and its baselines as trials: plans, what each method trains, model selection, exact resumption."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from xlsweep.config.load import validate_trial
from xlsweep.config.schema import TrialConfig
from xlsweep.train.transfer import TransferLearner
from xlsweep.trial import build_learner, run_trial


def _config(cfg: TrialConfig, method: str, **metaxl: Any) -> TrialConfig:
    meta = dataclasses.replace(cfg.meta, algorithm=method, support=("ana",) if method != "target-only" else (),
                               query=("zul",), split="train", checkpoint_every=3)
    settings = {"epochs": 2, "source_size": 48, "target_size": 16, "source_batch": 8, "target_batch": 8,
                "lr": 1e-3, "rtn_lr": 1e-2, "rtn_layers": (1,), "bottleneck": 16, "analysis_rows": 32, **metaxl}
    out = dataclasses.replace(cfg, meta=meta, metaxl=dataclasses.replace(cfg.metaxl, **settings),
                              eval=dataclasses.replace(cfg.eval, targets=("ana", "zul")))
    validate_trial(out)
    return out


def _learner(prepared_smoke: Any, method: str, **metaxl: Any) -> tuple[TrialConfig, Any, TransferLearner]:
    cfg, prepared, _ = prepared_smoke
    cfg = _config(cfg, method, **metaxl)
    learner = build_learner(cfg, prepared)
    assert isinstance(learner, TransferLearner)
    return cfg, prepared, learner


@pytest.mark.parametrize(("method", "steps"), [("target-only", 2 * 2), ("jt", 2 * 8), ("jt-rtn", 2 * 8),
                                                ("metaxl", 2 * 6)])
def test_each_method_plans_its_epochs_and_trains_what_it_should(prepared_smoke, method: str, steps: int) -> None:  # type: ignore[no-untyped-def]
    _, _, learner = _learner(prepared_smoke, method)
    assert learner.total_steps == steps  # epochs × ceil(pool / batch): 16 target, 48 + 16 joint, 48 source rows
    model_before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    rtn_before = {k: v.clone() for k, v in learner.insertion.rtns.state_dict().items()} if learner.insertion else {}
    while learner.step_count < learner.total_steps:
        assert math.isfinite(learner.step())
    assert len(learner.dev_scores) == 2  # dev scored after each epoch
    assert any(not torch.equal(model_before[k], v) for k, v in learner.model.state_dict().items())
    assert (learner.insertion is not None) == (method in ("metaxl", "jt-rtn"))
    if learner.insertion is not None:  # the RTN was trained (the output layer starts at zero)
        after = learner.insertion.rtns.state_dict()
        assert any(not torch.equal(rtn_before[k], after[k]) for k in after)


def test_the_selected_model_is_the_best_dev_epoch(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    _, _, learner = _learner(prepared_smoke, "jt", epochs=3)
    while learner.step_count < learner.total_steps:
        learner.step()
    best = max(learner.dev_scores)
    assert learner.best_score == best
    learner.final_model()
    assert learner.dev_score() == pytest.approx(best, abs=1e-12)


def test_backoff_adds_joint_epochs_without_the_rtn(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    _, _, learner = _learner(prepared_smoke, "metaxl", backoff_epochs=1)
    assert learner.total_steps == 2 * 6 + 1 * 8
    assert [p.kind for p in learner.phases] == ["metaxl", "joint"] and not learner.phases[1].rtn


def test_a_resumed_metaxl_trial_ends_exactly_where_an_uninterrupted_one_does(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    cfg, prepared, _ = prepared_smoke
    cfg = _config(cfg, "metaxl")
    saved: dict[int, Any] = {}

    def keep(step: int, loss: float, learner: Any, dev: dict[str, float]) -> None:
        saved[step] = torch.load(_roundtrip(learner.state_dict()), weights_only=False)

    uninterrupted = run_trial(cfg, prepared, on_checkpoint=keep)
    assert sorted(saved) == [3, 6, 9, 12]
    resumed = run_trial(cfg, prepared, restore=saved[6])
    assert resumed == pytest.approx(uninterrupted, abs=1e-12)


def _roundtrip(state: dict[str, Any]) -> Any:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("method", ["jt", "metaxl"])
def test_a_trial_reports_scores_the_representation_distance_and_a_pca_plot(prepared_smoke, method: str,  # type: ignore[no-untyped-def]
                                                                          tmp_path: Path) -> None:
    cfg, prepared, _ = prepared_smoke
    metrics = run_trial(_config(cfg, method), prepared, artifacts_dir=tmp_path)
    assert 0.0 <= metrics["acc/zul"] <= 1.0 and "delta/zul" in metrics
    assert 0.0 <= metrics["hausdorff"] <= 2.0
    assert 0.0 <= metrics["dev_best"] <= 1.0
    assert (tmp_path / "representations_pca.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metaxl_config_errors_name_the_value(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.config.load import ConfigError

    cfg, _, _ = prepared_smoke
    with pytest.raises(ConfigError, match=r"metaxl.rtn_layers: got 3; expected 0..2"):
        _config(cfg, "metaxl", rtn_layers=(3,))
    with pytest.raises(ConfigError, match=r"metaxl.bottleneck: got 128; expected fewer units"):
        _config(cfg, "metaxl", bottleneck=128)
    bad = dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, algorithm="metaxl", support=("ana",),
                                                            query=("bel", "zul")))
    with pytest.raises(ConfigError, match=r"meta.query: got \['bel', 'zul'\]; metaxl trains for one target"):
        validate_trial(bad)
