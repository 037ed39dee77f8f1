"""What every trial of a sweep shares, built once and cached by content hash.

1. the encoder directory (the tiny default is built here; a hub name or a local
   directory is used as it is),
2. the tokenised features of every language and split,
3. the stage-1 model: the encoder fine-tuned on the source language, and its
   zero-shot accuracy on every language's test split (the baseline).

The sweep driver calls :func:`prepare` before launching trials; a trial calls it
again and finds everything cached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xlsweep.cache import cached, fingerprint
from xlsweep.config.load import to_dict
from xlsweep.config.schema import TrialConfig
from xlsweep.data.benchmark import load_benchmark
from xlsweep.data.features import featurize_pairs
from xlsweep.data.synthetic import LABELS, SPLITS, SyntheticBenchmark
from xlsweep.models.encoder import load_classifier, load_tokenizer, quiet_transformers
from xlsweep.models.tiny import build_tiny_encoder
from xlsweep.train.evaluate import accuracy
from xlsweep.train.finetune import finetune

__all__ = ["Prepared", "load_features", "prepare"]

_VERSION = 1  # bump when a builder below changes what it writes
Log = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    encoder_dir: Path
    features_dir: Path
    stage1_dir: Path
    baseline: dict[str, float]  # language -> zero-shot test accuracy of the stage-1 model
    num_labels: int


def load_features(features_dir: Path, language: str, split: str) -> dict[str, torch.Tensor]:
    path = Path(features_dir) / f"{language}.{split}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no features for language {language!r}, split {split!r} at {path}")
    return torch.load(path, mmap=True, weights_only=True)


def _encoder_key(cfg: TrialConfig) -> dict[str, Any]:
    if cfg.model.name == "tiny":
        return {"v": _VERSION, "tiny": to_dict(cfg.model.tiny), "data": to_dict(cfg.data.synthetic)}
    return {"v": _VERSION, "name": cfg.model.name}


def _features_key(cfg: TrialConfig) -> dict[str, Any]:
    return {"v": _VERSION, "encoder": _encoder_key(cfg), "data": to_dict(cfg.data)}


def _stage1_key(cfg: TrialConfig) -> dict[str, Any]:
    return {"v": _VERSION, "features": _features_key(cfg), "stage1": to_dict(cfg.stage1)}


def prepare(cfg: TrialConfig, cache_dir: str | Path, *, log: Log = lambda _: None) -> Prepared:
    quiet_transformers()
    benchmark = load_benchmark(cfg.data)
    encoder_key = _encoder_key(cfg)

    def build_encoder(out: Path) -> None:
        log(f"building the tiny default encoder (tokenizer + {cfg.model.tiny.num_layers}-layer BERT) ...")
        assert isinstance(benchmark, SyntheticBenchmark)
        t = cfg.model.tiny
        build_tiny_encoder(out, benchmark.corpus(), vocab_size=t.vocab_size, hidden_size=t.hidden_size,
                           num_layers=t.num_layers, num_heads=t.num_heads, intermediate_size=t.intermediate_size,
                           max_position=max(128, cfg.data.max_length), mlm_steps=t.mlm_steps, seed=t.seed)

    if cfg.model.name == "tiny":
        encoder_dir = cached(cache_dir, "encoder", encoder_key, build_encoder)
    else:
        encoder_dir = Path(cfg.model.name)  # a local directory or a hub name, loaded as it is

    features_key = _features_key(cfg)

    def build_features(out: Path) -> None:
        log(f"featurising {len(benchmark.languages)} languages × {len(SPLITS)} splits ...")
        tokenizer = load_tokenizer(encoder_dir)
        for lang in benchmark.languages:
            for split in SPLITS:
                feats = featurize_pairs(benchmark.load(lang, split), tokenizer, max_length=cfg.data.max_length)
                torch.save(feats, out / f"{lang}.{split}.pt")

    features_dir = cached(cache_dir, "features", features_key, build_features)
    stage1_key = _stage1_key(cfg)

    def build_stage1(out: Path) -> None:
        s = cfg.stage1
        log(f"stage 1: fine-tuning on {cfg.data.source!r} ({s.epochs} epochs, lr {s.lr}) ...")
        torch.manual_seed(s.seed)
        model = load_classifier(encoder_dir, len(LABELS))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        finetune(model, load_features(features_dir, cfg.data.source, "train"), epochs=s.epochs, lr=s.lr,
                 batch_size=s.batch_size, weight_decay=s.weight_decay, warmup_ratio=s.warmup_ratio, seed=s.seed,
                 device=device, on_epoch=lambda e, loss: log(f"  epoch {e + 1}/{s.epochs}: loss {loss:.4f}"))
        baseline = {
            lang: accuracy(model, load_features(features_dir, lang, "test"), batch_size=256, device=device)
            for lang in benchmark.languages
        }
        log("  baseline (zero-shot test accuracy): "
            + "  ".join(f"{lang} {acc:.3f}" for lang, acc in baseline.items()))
        model.cpu().save_pretrained(out)
        load_tokenizer(encoder_dir).save_pretrained(out)
        (out / "baseline.json").write_text(json.dumps(baseline, indent=1))

    stage1_dir = cached(cache_dir, "stage1", stage1_key, build_stage1)
    baseline = json.loads((stage1_dir / "baseline.json").read_text())
    return Prepared(encoder_dir, features_dir, stage1_dir, baseline, len(LABELS))


def stage1_fingerprint(cfg: TrialConfig) -> str:
    """Equal for trials that share a stage-1 model (the driver prepares each distinct one once)."""
    return fingerprint(_stage1_key(cfg))
