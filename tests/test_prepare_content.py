"""Shared artefacts follow the content of what they are made of (issue 12, points 1 and 13): a data file edited in
place, or another model saved to the same directory, rebuilds features, stage 1 and the baseline."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
import yaml

from tests.conftest import SMOKE
from xlsweep.data.export import export_synthetic
from xlsweep.data.synthetic import SyntheticBenchmark
from xlsweep.plan import expand_grid, parse_sweep
from xlsweep.prepare import prepare

ROTATE = {"entailment": "neutral", "neutral": "contradiction", "contradiction": "entailment"}


def _smoke_trial(**data: object):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(SMOKE.read_text())
    raw["data"] |= data
    (_, cfg), *_ = expand_grid(parse_sweep(raw))
    return cfg


def _rotate_labels(path: Path) -> None:
    """Every row of an XNLI TSV gets the next label."""
    lines = path.read_text().splitlines(keepends=True)
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split("\t")
        fields[1] = ROTATE[fields[1]]
        out.append("\t".join(fields))
    path.write_text("".join(out))


def test_data_files_edited_in_place_rebuild_features_stage1_and_baseline(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    smoke, _, cache = prepared_smoke  # the session's tiny encoder (same synthetic corpus)
    s = smoke.data.synthetic
    bench = SyntheticBenchmark(task="nli", seed=s.seed, train_size=s.train_size, dev_size=s.dev_size,
                               test_size=s.test_size)
    sources = export_synthetic(bench, tmp_path / "xnli")
    cfg = _smoke_trial(benchmark="custom", languages=list(bench.languages), sources=sources,
                       limits={"*.train": 64})
    before = prepare(cfg, cache)
    test_dir = before.features.directory("cor", "test")
    labels_before = before.features.get("cor", "test")["labels"].clone()

    _rotate_labels(tmp_path / "xnli" / "xnli.test.tsv")  # in place: the same path template
    new_test = prepare(cfg, cache)
    assert new_test.features.directory("cor", "test") != test_dir
    # NLI_LABELS order: entailment, neutral, contradiction
    assert new_test.features.get("cor", "test")["labels"].tolist() == [(int(v) + 1) % 3 for v in labels_before]
    assert new_test.stage1_dir == before.stage1_dir  # the train split did not change
    assert new_test.baseline != before.baseline  # the new scores, not the cached ones

    _rotate_labels(tmp_path / "xnli" / "xnli.train.tsv")
    after = prepare(cfg, cache)
    assert after.stage1_dir != before.stage1_dir  # trained on the new train labels
    assert prepare(cfg, cache).stage1_dir == after.stage1_dir  # and cached again from then on


def test_another_model_saved_to_the_same_directory_rebuilds_stage1_and_baseline(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    smoke, prepared, cache = prepared_smoke
    model_dir = tmp_path / "encoder"
    AutoTokenizer.from_pretrained(prepared.encoder_dir).save_pretrained(model_dir)
    first = AutoModelForMaskedLM.from_pretrained(prepared.encoder_dir)
    first.save_pretrained(model_dir)
    cfg = _smoke_trial(limits={"ana.train": 64})
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name=str(model_dir)))
    before = prepare(cfg, cache)
    train_dir = before.features.directory("ana", "train")
    baselines = {p for p in cache.glob("baseline-*") if p.is_dir()}

    torch.manual_seed(1)
    second = AutoModelForMaskedLM.from_config(first.config)  # another model, saved over the first
    second.save_pretrained(model_dir)
    os.utime(model_dir / "config.json")  # (the config is byte-identical; only the weights differ)
    after = prepare(cfg, cache)

    assert after.stage1_dir != before.stage1_dir
    assert after.features.directory("ana", "train") != train_dir
    trained = AutoModelForMaskedLM.from_pretrained(model_dir).state_dict()
    assert all(torch.equal(trained[k], v) for k, v in second.state_dict().items() if k in trained)
    rescored = {p for p in cache.glob("baseline-*") if p.is_dir()} - baselines
    assert len(rescored) == len(before.baseline)  # every target scored again


def test_stage1_records_its_final_loss_and_a_chance_level_one_is_degenerate(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    import math

    from xlsweep.prepare import TRAINING_FILE, _loss_warning

    cfg, prepared, _ = prepared_smoke
    recorded = json.loads((prepared.stage1_dir / TRAINING_FILE).read_text())["final_loss"]
    assert math.isfinite(recorded)
    (tmp_path / TRAINING_FILE).write_text(json.dumps({"final_loss": 1.1}))
    assert _loss_warning(cfg, tmp_path) == "final training loss 1.1000 is at chance level (ln 3 = 1.0986)"
    (tmp_path / TRAINING_FILE).write_text(json.dumps({"final_loss": 0.2}))
    assert _loss_warning(cfg, tmp_path) is None
    assert _loss_warning(cfg, tmp_path / "cached-before") is None  # older caches: unknown, not flagged


def test_per_seed_stage1_trains_one_model_per_trial_seed_and_finds_it_again(prepared_smoke) -> None:  # type: ignore[no-untyped-def]
    """stage1.per_seed: trial seed s starts from stage 1 fine-tuned with seed s (cached by content); seed 0's is
    the shared stage 1 the session built (stage1.seed 0), so nothing is trained twice."""
    cfg, shared, cache = prepared_smoke
    per_seed = dataclasses.replace(cfg, stage1=dataclasses.replace(cfg.stage1, per_seed=True))
    seed0 = prepare(dataclasses.replace(per_seed, seed=0), cache)
    seed1 = prepare(dataclasses.replace(per_seed, seed=1), cache)
    assert seed0.stage1_dir == shared.stage1_dir  # the same content: one cache entry
    assert seed1.stage1_dir != shared.stage1_dir
    assert seed1.baseline != shared.baseline  # another stage-1 model, another baseline row entry
    assert prepare(dataclasses.replace(per_seed, seed=1), cache).stage1_dir == seed1.stage1_dir  # resumed: found
