"""MetaXL and its baselines as trials: plans, what each method trains, model selection, exact resumption."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from xlsweep.config.schema import TrialConfig
from xlsweep.plan import validate_trial
from xlsweep.train.transfer import TransferData, TransferLearner, TransferSettings
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


@pytest.mark.parametrize(("method", "batches", "steps"), [
    ("target-only", "balanced", 2 * 2), ("jt", "balanced", 2 * 6), ("jt-rtn", "balanced", 2 * 6),
    ("jt", "pooled", 2 * 8), ("jt-rtn", "pooled", 2 * 8), ("metaxl", "balanced", 2 * 6)])
def test_each_method_plans_its_epochs_and_trains_what_it_should(prepared_smoke, method: str, batches: str,  # type: ignore[no-untyped-def]
                                                                steps: int) -> None:
    _, _, learner = _learner(prepared_smoke, method, jt_batches=batches)
    assert learner.total_steps == steps  # epochs × ceil(pool / batch): 16 target, 48 (+ 16 pooled) source rows
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
    assert [p.kind for p in learner.phases] == ["metaxl", "pooled"] and not learner.phases[1].rtn


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
    from xlsweep.config import ConfigError

    cfg, _, _ = prepared_smoke
    with pytest.raises(ConfigError, match=r"metaxl.rtn_layers: got 3; expected 0..2"):
        _config(cfg, "metaxl", rtn_layers=(3,))
    with pytest.raises(ConfigError, match=r"metaxl.bottleneck: got 128; expected fewer units"):
        _config(cfg, "metaxl", bottleneck=128)
    bad = dataclasses.replace(cfg, meta=dataclasses.replace(cfg.meta, algorithm="metaxl", support=("ana",),
                                                            query=("bel", "zul")))
    with pytest.raises(ConfigError, match=r"meta.query: got \['bel', 'zul'\]; metaxl trains for one target"):
        validate_trial(bad)


# --- the target stream: balanced JT draws what MetaXL draws -------------------------------------------------------


def _record_batches(monkeypatch: pytest.MonkeyPatch, learner: TransferLearner) -> list[tuple[str, list[int]]]:
    """Every batch the learner reads from its source or target rows, in order: ("source" | "target", rows)."""
    import xlsweep.train.transfer as transfer

    seen: list[tuple[str, list[int]]] = []
    real = transfer.batch_of

    def spy(features: Any, rows: torch.Tensor, device: Any = "cpu") -> Any:
        for name, feats in (("source", learner.source), ("target", learner.target)):
            if features is feats:
                seen.append((name, [int(r) for r in rows]))
        return real(features, rows, device)

    monkeypatch.setattr(transfer, "batch_of", spy)
    return seen


def _epoch(prepared_smoke: Any, monkeypatch: pytest.MonkeyPatch, method: str, **metaxl: Any) -> tuple[
        TransferLearner, list[tuple[str, list[int]]]]:
    _, _, learner = _learner(prepared_smoke, method, epochs=1, **metaxl)
    seen = _record_batches(monkeypatch, learner)
    while learner.step_count < learner.total_steps:
        learner.step()
    monkeypatch.undo()
    return learner, seen


def _target_rows(seen: list[tuple[str, list[int]]]) -> list[int]:
    return [r for name, rows in seen if name == "target" for r in rows]


@pytest.mark.parametrize("step", ["paper", "authors-code"])
def test_balanced_jt_sees_the_target_rows_metaxl_sees_per_epoch(prepared_smoke, monkeypatch, step: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: JT concatenated the pool (each of the 16 target rows once per epoch) while MetaXL drew a target
    batch every step. Balanced JT draws MetaXL's stream: the same source batches, the same target batches."""
    metaxl, metaxl_seen = _epoch(prepared_smoke, monkeypatch, "metaxl", step=step)
    for method in ("jt", "jt-rtn"):
        jt, jt_seen = _epoch(prepared_smoke, monkeypatch, method)
        assert jt.total_steps == metaxl.total_steps == 6  # a pass over the 48 source rows in batches of 8
        # per step one source batch and one target batch; MetaXL's authors-code step reads its source batch
        # again after φ's update, and its target batch as two halves (train, then meta)
        metaxl_source = [r for n, r in metaxl_seen if n == "source"]
        assert [r for n, r in jt_seen if n == "source"] == metaxl_source[:: 2 if step == "authors-code" else 1]
        jt_target = _target_rows(jt_seen)
        assert jt_target == _target_rows(metaxl_seen)
        assert len(jt_target) == 6 * 8 == 3 * 16  # every one of the 16 target rows 3 times per epoch
        assert sorted(jt_target) == sorted(list(range(16)) * 3)


def test_pooled_jt_sees_each_target_row_once_per_epoch(prepared_smoke, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    learner, seen = _epoch(prepared_smoke, monkeypatch, "jt", jt_batches="pooled")
    assert learner.total_steps == 8  # ceil((48 + 16) / 8)
    assert sorted(_target_rows(seen)) == list(range(16))


def test_the_target_stream_is_the_authors_loader_a_new_permutation_per_pass_with_a_short_last_batch(
        prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    _, _, learner = _learner(prepared_smoke, "jt", target_batch=6)  # 16 target rows: batches of 6, 6, 4
    batches = [learner.target_rows(k).tolist() for k in range(6)]
    assert [len(b) for b in batches] == [6, 6, 4, 6, 6, 4]
    first, second = batches[:3], batches[3:]
    assert sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(16))
    assert first != second  # reshuffled per pass


# --- MetaXL's step, paper vs authors' code, against a hand computation in float64 ----------------------------------


def _tiny(seed: int = 0) -> Any:
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=3, attn_implementation="eager")
    torch.manual_seed(seed)
    return BertForTokenClassification(config).double()


def _features(rows: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(rows, 8, dtype=torch.long)
    mask[::2, -3:] = 0
    labels = torch.randint(0, 3, (rows, 8), generator=gen)
    labels[mask == 0] = -100
    return {"input_ids": torch.randint(5, 40, (rows, 8), generator=gen), "attention_mask": mask, "labels": labels}


def _tiny_learner(step: str, rtn: str) -> TransferLearner:
    from xlsweep.tasks import get_task

    data = TransferData(source=_features(24, 1), target=_features(10, 2), dev=_features(4, 3), dev_references=None,
                        language="zul")
    settings = TransferSettings(objective="metaxl", rtn=rtn, rtn_layers=(1,), bottleneck=4, epochs=1, source_batch=6,
                                target_batch=6, lr=0.05, rtn_lr=0.01, weight_decay=0.01, warmup_ratio=0.0,
                                max_grad_norm=0.5, step=step)  # type: ignore[arg-type]
    learner = TransferLearner(_tiny(), data, settings, task=get_task("ner"), seed=3)
    assert learner.insertion is not None
    learner.insertion.rtns.double()
    return learner


def _reference_step(learner: TransferLearner, step: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One MetaXL step written out with plain autograd: θ and φ after it (from the learner's state before it)."""
    import copy

    from torch.func import functional_call

    from xlsweep.data.features import batch_of
    from xlsweep.models.rtn import insert_rtns

    assert learner.insertion is not None and learner.source is not None
    model = _tiny()
    model.load_state_dict(learner.model.state_dict())
    rtn = copy.deepcopy(learner.insertion.rtns["1"])
    insertion = insert_rtns(model, {1: rtn})
    theta = dict(model.named_parameters())
    src = batch_of(learner.source, learner._order(24, 0, 0)[:6])
    target = learner.target_rows(0)
    train, meta = (None, target) if step == "paper" else (target[: len(target) // 2], target[len(target) // 2 :])

    def theta_loss() -> torch.Tensor:
        with insertion.applied():
            loss = model(**src).loss
        return loss if train is None else loss + model(**batch_of(learner.target, train)).loss

    grads = torch.autograd.grad(theta_loss(), tuple(theta.values()), create_graph=True)
    fast = {n: p - 0.05 * g for (n, p), g in zip(theta.items(), grads, strict=True)}
    meta_loss = functional_call(model, fast, args=(), kwargs=batch_of(learner.target, meta)).loss
    phi = list(rtn.parameters())
    for p, g in zip(phi, torch.autograd.grad(meta_loss, phi), strict=True):
        p.grad = g
    torch.optim.Adam(phi, lr=0.01).step()
    if step == "paper":  # θ on ∇θ L_src(θ, φ(t)): the virtual step's gradient
        for p, g in zip(theta.values(), grads, strict=True):
            p.grad = g.detach()
    else:  # the authors' code: θ's loss again, through the updated φ
        model.zero_grad()
        theta_loss().backward()
    torch.nn.utils.clip_grad_norm_(list(theta.values()), 0.5)
    torch.optim.AdamW(list(theta.values()), lr=0.05, weight_decay=0.01).step()
    return ({n: p.detach() for n, p in model.named_parameters()},
            {n: p.detach() for n, p in rtn.named_parameters()})


@pytest.mark.parametrize("rtn", ["paper", "authors-code", "identity-init"])
@pytest.mark.parametrize("step", ["paper", "authors-code"])
def test_a_metaxl_step_matches_its_hand_computation(step: str, rtn: str) -> None:
    learner = _tiny_learner(step, rtn)
    assert len(learner.target_rows(0)) == 6  # one target batch: whole (paper) or in halves of 3 (authors' code)
    theta, phi = _reference_step(learner, step)
    learner.step()
    assert learner.insertion is not None
    for name, p in learner.model.named_parameters():
        torch.testing.assert_close(p.detach(), theta[name], rtol=1e-10, atol=1e-12, msg=name)
    for name, p in learner.insertion.rtns["1"].named_parameters():
        torch.testing.assert_close(p.detach(), phi[name], rtol=1e-10, atol=1e-12, msg=name)


def test_the_two_steps_differ_and_the_paper_step_never_reads_a_target_row_for_theta(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    paper, code = _tiny_learner("paper", "paper"), _tiny_learner("authors-code", "paper")
    seen = _record_batches(monkeypatch, paper)
    paper.step()
    code.step()
    assert [name for name, _ in seen] == ["source", "target"]  # the target batch only scores θ'
    a, b = dict(paper.model.named_parameters()), dict(code.model.named_parameters())
    assert any(not torch.allclose(a[n], b[n]) for n in a)


def test_an_authors_code_target_batch_of_one_row_is_skipped_as_the_code_does() -> None:
    learner = _tiny_learner("authors-code", "paper")
    learner.target_batch = 9  # 10 target rows: batches of 9 and 1; the second has no half to train on
    before = {n: p.detach().clone() for n, p in learner.model.named_parameters()}
    learner.step_count = 1
    lr = learner.optimizer.param_groups[0]["lr"]
    learner.step()
    assert learner.skipped_steps == 1 and learner.step_count == 2
    assert all(torch.equal(p, before[n]) for n, p in learner.model.named_parameters())
    assert learner.optimizer.param_groups[0]["lr"] == lr  # the schedule did not move


# --- seeded subsets ------------------------------------------------------------------------------------------------


def test_seeded_subsets_draw_the_rows_sources_take_draws() -> None:
    import datasets

    from xlsweep.data.sources import take
    from xlsweep.train.transfer import subset_rows

    features = {"input_ids": torch.arange(50).view(50, 1), "labels": torch.arange(50)}
    drawn = subset_rows(features, 7, mode="seeded", seed=4)
    ds = datasets.Dataset.from_dict({"i": list(range(50))})
    assert drawn["labels"].tolist() == take(ds, 7, mode="seeded", seed=4)["i"]
    assert drawn["labels"].tolist() != list(range(7))
    assert subset_rows(features, 7)["labels"].tolist() == list(range(7))
    assert subset_rows(features, 0, mode="seeded")["labels"].tolist() == list(range(50))
    assert subset_rows(features, 7, mode="seeded", seed=5)["labels"].tolist() != drawn["labels"].tolist()


def test_a_trial_with_seeded_subsets_trains_on_the_drawn_rows(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.train.transfer import subset_rows

    cfg, prepared, learner = _learner(prepared_smoke, "metaxl", subset="seeded", subset_seed=7)
    full_source, full_target = prepared.features.get("ana", "train"), prepared.features.get("zul", "train")
    for got, full, n in ((learner.source, full_source, 48), (learner.target, full_target, 16)):
        assert got is not None
        want = subset_rows(full, n, mode="seeded", seed=7)
        assert torch.equal(got["input_ids"], want["input_ids"])
        assert not torch.equal(got["input_ids"], full["input_ids"][:n])
