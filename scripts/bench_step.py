"""Time and peak memory of one training step: plain fine-tuning vs XLA-MAML vs MetaXL, side by side.

    .venv/bin/python scripts/bench_step.py --json            # defaults: hidden 256, 4 layers, vocab 120000 and 8000
    .venv/bin/python scripts/bench_step.py --quick           # 1 warm-up step, 3 timed ones
    .venv/bin/python scripts/bench_step.py --device cuda --amp bf16
    .venv/bin/python scripts/bench_step.py --hidden 32 --layers 2 --vocab 500 --small-vocab 200 --length 16 \\
        --repeats 2 --warmup 1 --json                        # what tests/test_bench_step.py runs

Each step is the real one, through the classes a trial builds (``xlsweep.trial.build_learner``):

* ``plain``: ``supervised_loss`` + backward + AdamW step on ``--batch`` rows (stage 1's optimiser);
* ``so_func`` / ``fo_func`` / ``so_higher``: ``MetaLearner.step()`` of XLA-MAML, ``meta_batch=1``, one
  episode of ``--batch`` support rows of one language and ``--batch`` query rows of another, one inner
  SGD step, second- or first-order, inner loop through ``torch.func`` or ``higher``;
* ``metaxl``: ``TransferLearner.step()`` with method ``metaxl``: a source batch through an RTN after
  layer 1 and one target batch, split in halves (``metaxl.step: authors-code``, the default): one half
  trains θ with the source, the other scores θ'; θ's step is recomputed after φ's, as the authors' code.
  The source pool is sized so that no epoch ends (and no dev scoring runs) while it is measured.
* memory options, each next to the step it changes (``--json``: ``memory_options``, time and peak-memory
  ratios): ``plain_ckpt``, the plain step with gradient checkpointing (``stage1.gradient_checkpointing``);
  ``so_func_top``, the second-order step adapting only the upper half of the layers and the classifier
  (``meta.adapt``). Mixed precision is ``--amp bf16`` on a GPU, for every kind.

Learning rates and the rest come from the config defaults (``MetaConfig``, ``MetaXLConfig``,
``Stage1Config``); the model is a freshly initialised ``BertForSequenceClassification`` with BERT's
default dropout and the attention implementation the learners get from ``from_pretrained`` (``sdpa``;
second-order steps switch it to the math kernel, see ``double_backward_attention``).

The steps are interleaved round-robin (one step of each kind per round, the first kind rotating), so a
background load slows every kind alike and the ratios stay comparable. The whole set runs again with a
small vocabulary (``--small-vocab``): the word embeddings dominate the parameters of a multilingual
encoder, and a meta-step adapts (and copies) all of them, so part of any ratio is a vocabulary effect.
Peak memory is measured in a separate pass of one step per kind, after the timing, so that measuring it
does not perturb the times. With ``--json`` the last line is one JSON object: ``so_vs_plain``,
``fo_vs_plain``, ``higher_vs_func_so``, ``metaxl_vs_plain`` of the main (large-vocabulary) configuration,
``small_vocab`` with the same for the small one, the raw times, device, torch version and threads.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

if importlib.util.find_spec("xlsweep") is None:  # not installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xlsweep.algorithms.finetune import supervised_loss  # noqa: E402
from xlsweep.config.schema import MetaConfig, MetaXLConfig, Stage1Config  # noqa: E402
from xlsweep.data.episodes import EpisodeSampler, language_pairs  # noqa: E402
from xlsweep.data.features import Features, batch_of  # noqa: E402
from xlsweep.models.encoder import enable_activation_checkpointing, quiet_transformers  # noqa: E402
from xlsweep.tasks import get_task  # noqa: E402
from xlsweep.train.meta import MetaLearner  # noqa: E402
from xlsweep.train.transfer import TransferData, TransferLearner, TransferSettings  # noqa: E402

__all__ = ["main"]

STEPS = ("plain", "so_func", "fo_func", "so_higher", "metaxl", "plain_ckpt", "so_func_top")
RATIOS = {"so_vs_plain": ("so_func", "plain"), "fo_vs_plain": ("fo_func", "plain"),
          "higher_vs_func_so": ("so_higher", "so_func"), "metaxl_vs_plain": ("metaxl", "plain")}
MEMORY_OPTIONS = {"ckpt_vs_plain": ("plain_ckpt", "plain"), "top_vs_so": ("so_func_top", "so_func")}  # time and
# peak-memory ratios of the memory options: gradient checkpointing (stage 1), adapting the top half only
POOL = 256  # rows per language for the plain and XLA-MAML steps (drawn at random each step)
RTN_LAYER = 1
MEMORY_STEPS = 1  # steps per kind in the memory pass

StepFn = Callable[[], float]


@dataclass(frozen=True)
class Sizes:
    hidden: int
    layers: int
    heads: int
    vocab: int
    length: int
    batch: int
    attn: str


# ---------------------------------------------------------------------------- model and data
def build_model(sizes: Sizes, seed: int) -> BertForSequenceClassification:
    head: dict[str, Any] = {"num_labels": 3, "attn_implementation": sizes.attn}  # PretrainedConfig kwargs
    config = BertConfig(vocab_size=sizes.vocab, hidden_size=sizes.hidden, num_hidden_layers=sizes.layers,
                        num_attention_heads=sizes.heads, intermediate_size=4 * sizes.hidden,
                        max_position_embeddings=max(512, sizes.length), **head)
    torch.manual_seed(seed)
    return BertForSequenceClassification(config)


def random_features(rows: int, sizes: Sizes, seed: int) -> Features:
    """NLI-shaped features: ``[CLS] a [SEP] b [SEP]`` of random ids, every row ``sizes.length`` tokens."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, sizes.vocab, (rows, sizes.length), generator=gen)  # (N, T); 0..4 are specials
    ids[:, 0], ids[:, sizes.length // 2], ids[:, -1] = 2, 3, 3
    types = torch.zeros(rows, sizes.length, dtype=torch.long)  # (N, T)
    types[:, sizes.length // 2 + 1 :] = 1
    return {
        "input_ids": ids,
        "attention_mask": torch.ones(rows, sizes.length, dtype=torch.long),  # (N, T)
        "token_type_ids": types,
        "labels": torch.randint(0, 3, (rows,), generator=gen),  # (N,)
        "example_id": torch.arange(rows),  # (N,)
    }


# ---------------------------------------------------------------------------- the steps
def plain_step(sizes: Sizes, *, seed: int, device: torch.device, checkpointing: bool = False) -> StepFn:
    """Stage 1's step; ``checkpointing``: with ``stage1.gradient_checkpointing`` (activations recomputed)."""
    s1 = Stage1Config()
    model: nn.Module = build_model(sizes, seed)
    if checkpointing:
        enable_activation_checkpointing(model)
    model.to(device).train()
    data = random_features(POOL, sizes, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=s1.lr, weight_decay=s1.weight_decay)
    gen = torch.Generator().manual_seed(seed)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = supervised_loss(model, batch_of(data, torch.randperm(POOL, generator=gen)[: sizes.batch], device))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def top_half(sizes: Sizes) -> tuple[str, ...]:
    """``meta.adapt`` patterns of the upper half of the encoder layers and the classifier."""
    return (*(rf"encoder\.layer\.{i}\." for i in range(sizes.layers // 2, sizes.layers)), "classifier")


def xla_maml_step(sizes: Sizes, *, first_order: bool, backend: str, seed: int, device: torch.device,
                  adapt: tuple[str, ...] = ()) -> StepFn:
    """``adapt``: ``meta.adapt`` (default: every parameter, as ``MetaConfig``)."""
    m = replace(MetaConfig(), adapt=adapt) if adapt else MetaConfig()
    data = {"ana": random_features(POOL, sizes, seed + 1), "bel": random_features(POOL, sizes, seed + 2)}
    sampler = EpisodeSampler(data, language_pairs(("ana",), ("bel",)), support_size=sizes.batch,
                             query_size=sizes.batch, mode="random", seed=seed)
    learner = MetaLearner(build_model(sizes, seed), data, sampler, steps=10**6, meta_batch=1, inner_lr=m.inner_lr,
                          inner_steps=1, first_order=first_order, backend=backend,  # type: ignore[arg-type]
                          adapt=m.adapt, meta_lr=m.meta_lr, weight_decay=m.weight_decay,
                          warmup_ratio=m.warmup_ratio, device=device)
    return learner.step


def metaxl_step(sizes: Sizes, *, steps: int, seed: int, device: torch.device) -> StepFn:
    """MetaXL through ``TransferLearner``; its source pool lasts ``steps`` steps without ending an epoch."""
    x = MetaXLConfig()
    source = random_features(sizes.batch * (steps + 1), sizes, seed + 1)
    target, dev = random_features(100, sizes, seed + 2), random_features(sizes.batch, sizes, seed + 3)
    data = TransferData(source=source, target=target, dev=dev, dev_references=None, language="bel")
    settings = TransferSettings(objective="metaxl", rtn=x.rtn, rtn_layers=(RTN_LAYER,), bottleneck=x.bottleneck,
                                epochs=1, source_batch=sizes.batch, target_batch=sizes.batch, lr=x.lr, rtn_lr=x.rtn_lr,
                                weight_decay=x.weight_decay, warmup_ratio=x.warmup_ratio,
                                max_grad_norm=x.max_grad_norm, step=x.step)
    learner = TransferLearner(build_model(sizes, seed), data, settings, task=get_task("nli"), seed=seed, device=device)

    def step() -> float:
        loss = learner.step()
        if learner.dev_scores:
            raise RuntimeError(f"MetaXL scored its dev split at step {learner.step_count}: the source pool "
                               f"({sizes.batch * (steps + 1)} rows) was meant to outlast {steps} steps")
        return loss

    return step


# ---------------------------------------------------------------------------- measuring
def _rss_reader() -> tuple[Callable[[], int] | None, str]:
    """A function returning the current RSS in bytes, and its name; ``None`` where there is none."""
    try:
        import psutil  # type: ignore[import-untyped]

        process = psutil.Process()
        return (lambda: int(process.memory_info().rss)), "psutil"
    except ImportError:
        pass
    if Path("/proc/self/statm").exists():
        page = os.sysconf("SC_PAGE_SIZE")
        return (lambda: int(Path("/proc/self/statm").read_text().split()[1]) * page), "/proc/self/statm"
    return None, ""


def _maxrss() -> int:
    """The process's lifetime peak RSS in bytes (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _release_freed_memory() -> None:
    gc.collect()
    with suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap pages; give them back first


class PeakMemory:
    """Peak memory growth (bytes) of the code run by :meth:`measure` over the memory in use before it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.read, source = _rss_reader() if device.type == "cpu" else (None, "")
        if device.type == "cuda":
            self.method = ("torch.cuda.max_memory_allocated during the step minus the memory allocated before "
                           "it (tensors only: parameters, gradients and optimiser state already resident are "
                           "not counted)")
        elif self.read is not None:
            self.method = (f"peak RSS growth during the step over the RSS before it (after gc and malloc_trim), "
                           f"sampled every 1 ms by a thread ({source}), raised to ru_maxrss where that grew")
        else:
            self.method = ("growth of ru_maxrss (the lifetime peak RSS) during the step: a lower bound, "
                           "0 unless the step sets a new peak for the process")

    def measure(self, fn: Callable[[], object]) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            fn()
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated()) - before
        _release_freed_memory()
        maxrss_before = _maxrss()
        if self.read is None:
            fn()
            return _maxrss() - maxrss_before
        read = self.read
        before = peak = read()
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.001):
                peak = max(peak, read())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            fn()
        finally:
            done.set()
            sampler.join()
        peak = max(peak, read())
        if _maxrss() > maxrss_before:  # the step set a new lifetime peak: that is its exact peak
            peak = max(peak, _maxrss())
        return peak - before


class OtherLoad:
    """Cores used on average by other processes between :meth:`start` and :meth:`stop` (Linux: /proc/stat).

    The whole machine's busy CPU time minus this process's own. With torch using every core, any
    other load oversubscribes the cores, and the times (and ratios) stop meaning much.
    """

    def __init__(self) -> None:
        self.available = Path("/proc/stat").exists()
        self._start = (0.0, 0.0, 0.0)

    @staticmethod
    def _busy_seconds() -> float:
        cpu = Path("/proc/stat").read_text().split("\n", 1)[0]  # "cpu user nice system idle iowait irq ..."
        user, nice, system, _idle, _iowait, *rest = (int(v) for v in cpu.split()[1:])
        return (user + nice + system + sum(rest[:3])) / os.sysconf("SC_CLK_TCK")  # + irq, softirq, steal

    def _now(self) -> tuple[float, float, float]:
        own = os.times()
        return time.perf_counter(), self._busy_seconds(), own.user + own.system

    def start(self) -> None:
        if self.available:
            self._start = self._now()

    def stop(self) -> float | None:
        if not self.available:
            return None
        (wall0, busy0, own0), (wall1, busy1, own1) = self._start, self._now()
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / max(wall1 - wall0, 1e-9)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _summary(times_ms: Sequence[float], peak_bytes: int) -> dict[str, Any]:
    q1, median, q3 = (statistics.quantiles(times_ms, n=4, method="inclusive") if len(times_ms) > 1
                      else [times_ms[0]] * 3)
    return {"median_ms": median, "iqr_ms": q3 - q1, "times_ms": [round(t, 3) for t in times_ms],
            "peak_mib": peak_bytes / 2**20}


def bench(sizes: Sizes, *, warmup: int, repeats: int, seed: int, device: torch.device,
          amp: torch.dtype | None) -> dict[str, Any]:
    """Every step kind of :data:`STEPS` for one set of sizes: times (ms), medians, IQRs, peak memory (MiB)."""
    total = warmup + repeats + MEMORY_STEPS
    steps: dict[str, StepFn] = {
        "plain": plain_step(sizes, seed=seed, device=device),
        "so_func": xla_maml_step(sizes, first_order=False, backend="functional", seed=seed, device=device),
        "fo_func": xla_maml_step(sizes, first_order=True, backend="functional", seed=seed, device=device),
        "so_higher": xla_maml_step(sizes, first_order=False, backend="higher", seed=seed, device=device),
        "metaxl": metaxl_step(sizes, steps=total, seed=seed, device=device),
        "plain_ckpt": plain_step(sizes, seed=seed, device=device, checkpointing=True),
        "so_func_top": xla_maml_step(sizes, first_order=False, backend="functional", seed=seed, device=device,
                                     adapt=top_half(sizes)),
    }

    def run(name: str) -> float:
        with torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext():
            return steps[name]()

    times: dict[str, list[float]] = {name: [] for name in STEPS}
    other = OtherLoad()
    other.start()
    for r in range(warmup + repeats):  # round-robin, the first kind rotating
        k = r % len(STEPS)
        for name in STEPS[k:] + STEPS[:k]:
            _sync(device)
            start = time.perf_counter()
            run(name)
            _sync(device)
            if r >= warmup:
                times[name].append((time.perf_counter() - start) * 1e3)
    other_cores = other.stop()
    memory = PeakMemory(device)
    peaks = {name: max(memory.measure(partial(run, name)) for _ in range(MEMORY_STEPS)) for name in STEPS}
    stats = {name: _summary(ts, peaks[name]) for name, ts in times.items()}
    ratios = {key: stats[a]["median_ms"] / stats[b]["median_ms"] for key, (a, b) in RATIOS.items()}
    ratios["memory_options"] = {key: {"time": stats[a]["median_ms"] / stats[b]["median_ms"],
                                      "peak_memory": stats[a]["peak_mib"] / max(stats[b]["peak_mib"], 1e-9)}
                                for key, (a, b) in MEMORY_OPTIONS.items()}
    params = sum(p.numel() for p in build_model(sizes, seed).parameters())
    return {"vocab": sizes.vocab, "params": params, "embedding_params": sizes.vocab * sizes.hidden,
            "other_load_cores": other_cores, **ratios, "steps": stats, "memory": memory.method}


# ---------------------------------------------------------------------------- reporting
LABELS = {
    "plain": "plain fine-tuning (batch {b})",
    "so_func": "XLA-MAML SO, torch.func ({b}+{b})",
    "fo_func": "XLA-MAML FO, torch.func ({b}+{b})",
    "so_higher": "XLA-MAML SO, higher ({b}+{b})",
    "metaxl": "MetaXL, RTN@{rtn} (src {b}, tgt {b}+{b})",
    "plain_ckpt": "plain, gradient checkpointing",
    "so_func_top": "XLA-MAML SO, adapt top half only",
}


def print_table(result: dict[str, Any], batch: int) -> None:
    plain = result["steps"]["plain"]["median_ms"]
    print(f"\nvocab {result['vocab']}: {result['params'] / 1e6:.1f}M parameters, "
          f"{result['embedding_params'] / 1e6:.1f}M of them word embeddings")
    print(f"{'step':<38}{'median ms':>11}{'IQR ms':>9}{'x plain':>9}{'peak mem MiB':>14}")
    for name in STEPS:
        s = result["steps"][name]
        label = LABELS[name].format(b=batch, rtn=RTN_LAYER)
        print(f"{label:<38}{s['median_ms']:>11.1f}{s['iqr_ms']:>9.1f}{s['median_ms'] / plain:>9.2f}"
              f"{s['peak_mib']:>14.1f}")
    print("ratios: " + "  ".join(f"{key}={result[key]:.2f}" for key in RATIOS))
    print("memory options (time, peak memory vs the step without): " + "  ".join(
        f"{key}={m['time']:.2f}x time, {m['peak_memory']:.2f}x memory" for key, m in result["memory_options"].items()))
    other = result["other_load_cores"]
    if other is not None:
        print(f"other processes used {other:.2f} cores on average while these steps were timed")
        threads, cores = torch.get_num_threads(), os.cpu_count() or 1
        if other > 0.25:
            over = " (oversubscribed)" if threads + other > cores + 0.25 else ""
            print(f"WARNING: the machine was shared: {other:.2f} cores of other load next to torch's {threads} "
                  f"threads on {cores} cores{over}; these times are unreliable, re-run on an idle machine")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"cpu ({cpu})"


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--hidden", type=_positive, default=256)
    p.add_argument("--layers", type=_positive, default=4)
    p.add_argument("--heads", type=_positive, default=4)
    p.add_argument("--vocab", type=_positive, default=120_000, help="the main configuration's vocabulary")
    p.add_argument("--small-vocab", type=int, default=8000, help="the second configuration's (0: skip it)")
    p.add_argument("--length", type=_positive, default=64, help="tokens per row")
    p.add_argument("--batch", type=_positive, default=8, help="plain batch; XLA-MAML support = query = MetaXL batches")
    p.add_argument("--repeats", type=_positive, default=None, help="timed steps per kind (default 10; --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per kind first (default 2; --quick 1)")
    p.add_argument("--quick", action="store_true", help="a fast run: 1 warm-up step and 3 timed ones")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", choices=("none", "bf16"), default="none", help="bf16: every step under autocast")
    p.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa", help="attention (the learners': sdpa)")
    p.add_argument("--threads", type=_positive, default=None, help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="end with one line of JSON (ratios, raw times)")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 10)
    args.warmup = (1 if args.quick else 2) if args.warmup is None else args.warmup
    if args.warmup < 0 or args.small_vocab < 0:
        p.error(f"--warmup and --small-vocab must be >= 0, got {args.warmup} and {args.small_vocab}")
    if min(args.vocab, args.small_vocab or 6) <= 5:
        p.error(f"vocabularies need more than the 5 special ids, got {args.vocab} and {args.small_vocab}")
    if args.layers < RTN_LAYER:
        p.error(f"MetaXL puts its RTN after layer {RTN_LAYER}: --layers must be at least that, got {args.layers}")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; torch's thread count is restored on return (callers may run it in-process)."""
    args = parse_args(argv)
    threads_before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(args.threads or cores)
    try:
        run_all(args)
    finally:
        torch.set_num_threads(threads_before)
    return 0


def run_all(args: argparse.Namespace) -> None:
    quiet_transformers()
    device = torch.device(args.device)
    amp = torch.bfloat16 if args.amp == "bf16" else None
    sizes = Sizes(hidden=args.hidden, layers=args.layers, heads=args.heads, vocab=args.vocab, length=args.length,
                  batch=args.batch, attn=args.attn)
    m, x = MetaConfig(), MetaXLConfig()
    halves = " split in halves" if x.step == "authors-code" else ""
    print(f"bench_step: one training step per kind, median of {args.repeats} after {args.warmup} warm-up "
          f"(kinds interleaved round-robin)")
    print(f"model: BertForSequenceClassification, hidden {sizes.hidden}, {sizes.layers} layers, {sizes.heads} "
          f"heads, ffn {4 * sizes.hidden}, attention {sizes.attn} (second order: math kernel), dropout 0.1, "
          f"3 labels; rows of {sizes.length} tokens")
    print(f"steps: plain batch {sizes.batch} (AdamW); XLA-MAML meta_batch 1, support {sizes.batch} + query "
          f"{sizes.batch} of two languages, 1 inner SGD step (lr {m.inner_lr}), all parameters adapted; MetaXL "
          f"source {sizes.batch}, target {sizes.batch}{halves} (step {x.step}), RTN after layer {RTN_LAYER}, "
          f"bottleneck {x.bottleneck}; memory options: the plain step with gradient checkpointing "
          f"(stage1.gradient_checkpointing), the SO step adapting only {' '.join(top_half(sizes))} (meta.adapt)")
    print(f"device: {_device_name(device)}, torch threads {torch.get_num_threads()}, amp {args.amp}, "
          f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    results = []
    for vocab in (args.vocab, args.small_vocab) if args.small_vocab else (args.vocab,):
        results.append(bench(replace(sizes, vocab=vocab), warmup=args.warmup, repeats=args.repeats,
                             seed=args.seed, device=device, amp=amp))
        print_table(results[-1], sizes.batch)
        gc.collect()
    print(f"\nmemory: {results[0]['memory']}; one step per kind, after the timing")
    if args.json:
        main_result, *small = results
        out: dict[str, Any] = {key: round(main_result[key], 4) for key in RATIOS}
        out["small_vocab"] = (small[0] | {key: round(small[0][key], 4) for key in RATIOS}) if small else None
        out |= {"vocab": main_result["vocab"], "params": main_result["params"],
                "other_load_cores": main_result["other_load_cores"], "steps": main_result["steps"],
                "memory_options": main_result["memory_options"],
                "config": asdict(sizes) | {"repeats": args.repeats, "warmup": args.warmup, "amp": args.amp,
                                           "seed": args.seed},
                "device": _device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                "memory": main_result["memory"]}
        print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
