"""What every trial of a sweep shares, built once and cached by content hash.

1. the encoder directory (the tiny default is built here; a hub name or a local
   directory is used as it is),
2. the features of each (language, split), built on first use by whichever
   process needs them (:class:`FeatureStore`),
3. the stage-1 model: the encoder fine-tuned on the source language's train split (one for the sweep, or one
   per trial seed with ``stage1.per_seed``: :func:`stage1_seed`),
4. the baseline: the stage-1 model's test scores on every target language,
   zero-shot and, when few-shot evaluation is on, after few-shot fine-tuning.

A stage 1 that learnt nothing — a final training loss at chance level, or one predicted class for
every test row of a target (see :mod:`xlsweep.tasks.base`) — is reported in ``Prepared.degenerate``.

The sweep driver calls :func:`prepare` for every trial config before launching
trials; a trial calls it again and finds everything cached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xlsweep.cache import cached, file_digest, fingerprint
from xlsweep.config import DataConfig, TrialConfig, to_dict
from xlsweep.data.benchmark import (
    Benchmark,
    benchmark_languages,
    load_benchmark,
    split_key,
    synthetic_benchmark,
    synthetic_key,
)
from xlsweep.data.features import Features
from xlsweep.data.sources import resolve_limit, take
from xlsweep.methods import needed_splits
from xlsweep.models.encoder import enable_activation_checkpointing, load_tokenizer, loading_report, quiet_transformers
from xlsweep.models.tiny import build_tiny_encoder
from xlsweep.tasks import get_task
from xlsweep.tasks.base import degenerate_loss
from xlsweep.train.fewshot import few_shot_scores
from xlsweep.train.finetune import finetune

__all__ = ["FeatureStore", "Prepared", "prepare", "stage1_fingerprint", "stage1_seed"]

_VERSION = 2  # bump when a builder below changes what it writes
Log = Callable[[str], None]


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class FeatureStore:
    """The features (and metric references) of each language's split, built on first use and cached.

    Picklable: it travels to Tune workers, which build or load what they need; a file
    lock per (language, split) makes concurrent trials wait for one builder.
    """

    def __init__(self, data: DataConfig, encoder_dir: Path, encoder_key: dict[str, Any], cache_dir: Path) -> None:
        self.data, self.encoder_dir, self.encoder_key, self.cache_dir = data, encoder_dir, encoder_key, cache_dir
        self._benchmark: Benchmark | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_benchmark": None}  # rebuilt on demand, never shipped

    def key(self, language: str, split: str) -> dict[str, Any]:
        d = self.data
        return {"v": _VERSION, "encoder": self.encoder_key, "max_length": d.max_length,
                "doc_stride": d.doc_stride if d.task == "qa" else None,
                **split_key(d, language, split, self.cache_dir)}

    def directory(self, language: str, split: str, log: Log = lambda _: None) -> Path:
        def build(out: Path) -> None:
            if self._benchmark is None:
                self._benchmark = load_benchmark(self.data)
            ds = self._benchmark.load(language, split)
            limit = resolve_limit(self.data.limits, language, split)
            if limit:
                ds = take(ds, limit, mode=self.data.limit_mode, seed=self.data.limit_seed)
            log(f"featurising {language}.{split} ({len(ds)} examples) ...")
            for line in self._benchmark.skipped_lines(language, split):  # hub splits too (files: said in validate)
                log(f"  skipped rows: {line}")
            features, references = get_task(self.data.task).featurize(
                ds, load_tokenizer(self.encoder_dir), max_length=self.data.max_length, doc_stride=self.data.doc_stride)
            torch.save(features, out / "features.pt")
            (out / "references.json").write_text(json.dumps(references, ensure_ascii=False))

        return cached(self.cache_dir, "features", self.key(language, split), build)

    def get(self, language: str, split: str) -> Features:
        return torch.load(self.directory(language, split) / "features.pt", mmap=True, weights_only=True)

    def references(self, language: str, split: str) -> Any:
        return json.loads((self.directory(language, split) / "references.json").read_text())


@dataclass(frozen=True)
class Prepared:
    encoder_dir: Path
    stage1_dir: Path
    features: FeatureStore
    baseline: dict[str, float]  # "<metric>/<lang>" (and "fs_<metric>/<lang>") of the stage-1 model
    degenerate: tuple[str, ...] = ()  # why stage 1 learnt nothing, if it did not: loss at chance, constant predictions
    baseline_outcomes: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> stage 1's per-example outcomes


# What from_pretrained reads from a model directory: config, weights, tokenizer (vocab, merges, sentencepiece), code
MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".py", ".tiktoken")


def _encoder_key(cfg: TrialConfig, cache_dir: Path) -> dict[str, Any]:
    """The encoder's identity: the tiny default's settings, a local directory's content (config, weights and
    tokenizer files by sha256: replacing the model there rebuilds everything made from it), or a hub name."""
    if cfg.model.name == "tiny":  # the tokenizer is trained on the synthetic corpus (every task's words)
        return {"v": _VERSION, "tiny": to_dict(cfg.model.tiny), "data": synthetic_key(cfg.data.synthetic)}
    local = Path(cfg.model.name).expanduser()
    if local.is_dir():
        files = sorted(p for p in local.iterdir() if p.is_file() and p.suffix in MODEL_FILES
                       and not p.name.startswith("."))
        return {"v": _VERSION, "files": {p.name: file_digest(p, cache_dir) for p in files}}
    return {"v": _VERSION, "name": cfg.model.name}


def stage1_seed(cfg: TrialConfig) -> int:
    """The seed stage 1 fine-tunes with: the trial's with ``stage1.per_seed``, else ``stage1.seed`` (shared)."""
    return cfg.seed if cfg.stage1.per_seed else cfg.stage1.seed


def _stage1_key(cfg: TrialConfig, store: FeatureStore) -> dict[str, Any]:
    """What determines the stage-1 model. ``per_seed`` is not part of it: the model of seed s is the same whether
    it was made for a per-seed sweep's trial seed s or as a shared stage 1 with ``stage1.seed: s`` (and the key of a
    shared stage 1 is what it was before ``per_seed`` existed, so earlier caches stay valid)."""
    stage1 = {k: v for k, v in to_dict(cfg.stage1).items() if k not in ("gradient_checkpointing", "per_seed")}
    stage1["seed"] = stage1_seed(cfg)
    return {"v": _VERSION, "features": store.key(cfg.data.source, "train"), "stage1": stage1}


def _encoder(cfg: TrialConfig, cache_dir: Path, log: Log) -> tuple[Path, dict[str, Any]]:
    key = _encoder_key(cfg, cache_dir)
    if cfg.model.name != "tiny":
        return Path(cfg.model.name), key  # a local directory or a hub name, loaded as it is

    def build(out: Path) -> None:
        t = cfg.model.tiny
        log(f"building the tiny default encoder (tokenizer + {t.num_layers}-layer BERT) ...")
        corpus = synthetic_benchmark(cfg.data.synthetic).corpus()  # every task's words, every language
        build_tiny_encoder(out, corpus, vocab_size=t.vocab_size, hidden_size=t.hidden_size,
                           num_layers=t.num_layers, num_heads=t.num_heads, intermediate_size=t.intermediate_size,
                           max_position=max(128, cfg.data.max_length), mlm_steps=t.mlm_steps, seed=t.seed)

    return cached(cache_dir, "encoder", key, build), key


def prepare(cfg: TrialConfig, cache_dir: str | Path, *, log: Log = lambda _: None,
            dev_languages: tuple[str, ...] = ()) -> Prepared:
    """Build (or find) the encoder, stage 1, the baseline of every target and the features ``cfg`` needs
    (and the dev splits of ``dev_languages``, a search objective's)."""
    quiet_transformers()
    cache = Path(cache_dir).resolve()
    encoder_dir, encoder_key = _encoder(cfg, cache, log)
    store = FeatureStore(cfg.data, encoder_dir, encoder_key, cache)
    task, s, seed = get_task(cfg.data.task), cfg.stage1, stage1_seed(cfg)
    stage1_key = _stage1_key(cfg, store)

    def build_stage1(out: Path) -> None:
        train = store.get(cfg.data.source, "train")
        log(f"stage 1: fine-tuning on {cfg.data.source!r} ({cfg.data.task}, {s.epochs} epochs, lr {s.lr}, "
            f"seed {seed}) ...")
        torch.manual_seed(seed)
        model = task.load_model(encoder_dir)
        log(f"  {loading_report(model)}")
        if s.gradient_checkpointing:
            enable_activation_checkpointing(model)
        losses: list[float] = []

        def on_epoch(epoch: int, loss: float) -> None:
            losses.append(loss)
            log(f"  epoch {epoch + 1}/{s.epochs}: loss {loss:.4f}")

        finetune(model, train, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, weight_decay=s.weight_decay,
                 warmup_ratio=s.warmup_ratio, seed=seed, device=_device(), on_epoch=on_epoch)
        (out / TRAINING_FILE).write_text(json.dumps({"final_loss": losses[-1] if losses else None}))
        model.cpu().save_pretrained(out)
        load_tokenizer(encoder_dir).save_pretrained(out)

    for lang, split, _ in needed_splits(cfg, dev_languages):  # read and featurise every split first: bad data
        store.directory(lang, split, log)  # fails before any training, and trials never race to featurise a split
    stage1_dir = cached(cache, "stage1", stage1_key, build_stage1)
    baseline: dict[str, float] = {}
    outcomes: dict[str, np.ndarray] = {}
    degenerate = [f"stage 1: {reason}" for reason in [_loss_warning(cfg, stage1_dir)] if reason]
    for lang in cfg.eval.targets or benchmark_languages(cfg.data):
        scores, reason, rows = _baseline(cfg, store, stage1_dir, stage1_key, lang, log)
        baseline |= scores
        outcomes |= {lang: rows} if rows is not None else {}
        degenerate += [f"stage 1 on {lang}: {reason}"] if reason else []
    return Prepared(encoder_dir, stage1_dir, store, baseline, tuple(degenerate), outcomes)


TRAINING_FILE, DIAGNOSTICS_FILE = "training.json", "diagnostics.json"  # beside a cached stage 1 / baseline
OUTCOMES_FILE = "outcomes.npy"  # beside a cached baseline: its per-example zero-shot test outcomes


def _loss_warning(cfg: TrialConfig, stage1_dir: Path) -> str | None:
    """Stage 1's final training loss at chance level (a cached stage 1 without its training record: unknown)."""
    path = stage1_dir / TRAINING_FILE
    loss = json.loads(path.read_text()).get("final_loss") if path.is_file() else None
    return degenerate_loss(cfg.data.task, float(loss)) if loss is not None else None


def _baseline(cfg: TrialConfig, store: FeatureStore, stage1_dir: Path, stage1_key: dict[str, Any], lang: str,
              log: Log) -> tuple[dict[str, float], str | None, np.ndarray | None]:
    """The stage-1 model's test scores on ``lang`` (zero-shot, and few-shot when enabled), cached, why its
    zero-shot predictions are degenerate (one class everywhere), if they are, and its per-example zero-shot
    outcomes (:mod:`xlsweep.tasks.outcomes`)."""
    task, fs = get_task(cfg.data.task), cfg.eval.few_shot
    key = {"v": _VERSION, "outcomes": 1, "stage1": stage1_key, "test": store.key(lang, "test"),
           "few_shot": {**to_dict(fs), "dev": store.key(lang, "dev"), "seed": stage1_seed(cfg)} if fs.enabled else None}

    def build(out: Path) -> None:
        model: torch.nn.Module = task.load_model(stage1_dir)
        model.to(_device())
        test, refs = store.get(lang, "test"), store.references(lang, "test")
        diagnostics: dict[str, str] = {}
        outcomes: dict[str, np.ndarray] = {}
        scores = task.evaluate(model, test, refs, language=lang, batch_size=cfg.eval.batch_size, device=_device(),
                               diagnostics=diagnostics, outcomes=outcomes)
        (out / DIAGNOSTICS_FILE).write_text(json.dumps(diagnostics))
        np.save(out / OUTCOMES_FILE, outcomes[lang])
        metrics = {f"{m}/{lang}": v for m, v in scores.items()}
        if fs.enabled:
            few = few_shot_scores(task, model, store.get(lang, "dev"), test, refs, language=lang, epochs=fs.epochs,
                                  lr=fs.lr, batch_size=fs.batch_size, weight_decay=fs.weight_decay,
                                  warmup_ratio=fs.warmup_ratio, seed=stage1_seed(cfg),
                                  eval_batch_size=cfg.eval.batch_size, device=_device())
            metrics |= {f"fs_{m}/{lang}": v for m, v in few.items()}
        log(f"  baseline {lang}: " + "  ".join(f"{k.split('/')[0]} {v:.3f}" for k, v in metrics.items()))
        (out / "baseline.json").write_text(json.dumps(metrics, indent=1))

    found = cached(store.cache_dir, "baseline", key, build)
    diagnostics = json.loads((found / DIAGNOSTICS_FILE).read_text()) if (found / DIAGNOSTICS_FILE).is_file() else {}
    rows = np.load(found / OUTCOMES_FILE, allow_pickle=False) if (found / OUTCOMES_FILE).is_file() else None
    return dict(json.loads((found / "baseline.json").read_text())), diagnostics.get("degenerate"), rows


def stage1_fingerprint(cfg: TrialConfig, cache_dir: str | Path) -> str:
    """Equal for trials that share a stage-1 model."""
    cache = Path(cache_dir).resolve()
    store = FeatureStore(cfg.data, Path(), _encoder_key(cfg, cache), cache)
    return fingerprint(_stage1_key(cfg, store))


@dataclass(frozen=True)
class SplitRecord:
    """One split a run reads, as MLflow records a dataset: what it is, where it comes from, its content hash."""

    name: str  # "<language>.<split>", e.g. "ana.train"
    split: str  # train, dev or test
    digest: str  # sha256 of what determines the split's content: a file's sha256, else the generator's spec
    source_type: str  # "local" (a file), "hugging_face" (a hub dataset) or "synthetic" (generated)
    source: str  # the file's path, the hub spec, or the synthetic benchmark's spec (JSON)
    rows: int  # rows of its features (examples; a QA example may make several windows)
    file_sha256: str | None = None  # a local file's own sha256


def split_records(prepared: Prepared, cfg: TrialConfig, dev_languages: tuple[str, ...] = ()) -> list[SplitRecord]:
    """Every split a trial of ``cfg`` reads (:func:`~xlsweep.methods.needed_splits`), once each, in that order."""
    from xlsweep.data.features import num_rows

    store, records, seen = prepared.features, [], set()
    for lang, split, _ in needed_splits(cfg, dev_languages):
        if (lang, split) in seen:
            continue
        seen.add((lang, split))
        key = split_key(store.data, lang, split, store.cache_dir)
        spec = key.get("source")
        kind = "synthetic" if "synthetic" in key else "local" if "sha256" in key else "hugging_face"
        source = json.dumps(key["synthetic"], sort_keys=True, default=str) if kind == "synthetic" else str(spec)
        records.append(SplitRecord(name=f"{lang}.{split}", split=split, digest=fingerprint(key), source_type=kind,
                                   source=source, rows=num_rows(store.get(lang, split)),
                                   file_sha256=key.get("sha256")))
    return records
