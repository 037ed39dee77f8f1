"""Checks that need the file system or the model's config, run by ``xlsweep validate`` and before a sweep starts.

:func:`preflight` runs after the config has parsed (types, ranges, languages, grid) and after
the data files were found to exist, and before Ray starts or an MLflow store is opened:

* **directories**: ``output_dir`` and ``cache_dir`` (and each of their parents) are directories or do not
  exist yet, never a file;
* **the model** (:func:`check_model`): a local ``model.name`` is a directory with ``config.json``, weights
  and tokenizer files, and a hub name's config loads (from the local HF cache, or the hub when reachable;
  ``validate`` on a machine without the hub, given ``warn``, says so in one line and skips that model's checks,
  which the sweep makes before it starts);
  the model's config, not its weights, is read once per name, and every trial's ``data.max_length``,
  ``metaxl.rtn_layers`` and ``metaxl.bottleneck`` must fit it; the task needs a head transformers has;
* **local data contents** (:func:`check_local_data`): every local file a trial reads is read with the
  task's reader once, so a wrong column, a label, a QA answer that is not in its context, ... is one error
  before any work. Hub sources are read when the sweep prepares its data (they need the network).

Every problem is one :class:`~xlsweep.config.errors.ConfigError`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from xlsweep.config import ConfigError, SweepConfig, TrialConfig
from xlsweep.config.yaml_reader import cut
from xlsweep.data.benchmark import benchmark_sources, load_benchmark
from xlsweep.data.schema import DataError
from xlsweep.data.sources import parse_source, resolve_source
from xlsweep.methods import method, needed_splits
from xlsweep.plan.grid import Cells
from xlsweep.plan.objective import objective_languages

__all__ = ["check_directories", "check_local_data", "check_model", "hub_reachable", "hub_unreachable", "preflight",
           "position_limit"]

# RoBERTa-style encoders number positions from padding_idx + 1 (= 2), so two of their position embeddings are
# never used by a token (transformers' create_position_ids_from_input_ids).
_PADDING_OFFSET_TYPES = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text",
                                   "roberta-prelayernorm", "xmod", "ibert", "longformer", "mpnet"})
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model",
              "spiece.model", "tokenizer.model")
_HEADS = {"nli": ("SEQUENCE_CLASSIFICATION", "sequence-classification"),
          "sentiment": ("SEQUENCE_CLASSIFICATION", "sequence-classification"),
          "ner": ("TOKEN_CLASSIFICATION", "token-classification"),
          "qa": ("QUESTION_ANSWERING", "question-answering")}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")  # huggingface_hub's repo-id rule, in short


Warn = Callable[[str], None]


def preflight(cells: Cells, sweep: SweepConfig, *, output_dir: str | None = None,
              warn: Warn | None = None, note: Warn | None = None) -> list[str]:
    """Run every check of this module; return one phrase per check made (``validate`` prints them).

    ``warn`` (``validate`` gives one; a sweep does not): a hub model whose config is neither in the local HF
    cache nor downloadable because the hub is unreachable is reported through it and not checked, instead
    of being an error. ``note`` is told, per local file read, the rows its format's rule skipped.
    """
    done = [check_directories(sweep, output_dir)]
    done += check_model((cfg for _, cfg in cells), warn=warn)
    done += check_local_data(cells, sweep, note=note)
    return [d for d in done if d]


# --------------------------------------------------------------------- directories
def check_directories(sweep: SweepConfig, output_dir: str | None = None) -> str:
    """``output_dir`` (or the ``--output-dir`` override) and ``cache_dir`` are not files, nor inside one, and can be
    created and written: a probe directory is made and removed in the directory itself, or where it does not
    exist yet in its nearest existing ancestor (nothing is left behind)."""
    for key, value in (("output_dir", output_dir or sweep.output_dir), ("cache_dir", sweep.cache_dir)):
        path = Path(value).expanduser()
        for part in (path, *path.parents):
            if part.exists() and not part.is_dir():
                what = "is a file" if part == path else f"is inside {part}, which is a file"
                raise ConfigError(f"{key}: {cut(str(path), 200)} {what}; expected a directory (or a path "
                                  "that does not exist yet) — choose another path or move the file")
        _probe(key, path)
    return "output and cache directories"


def _probe(key: str, path: Path) -> None:
    """Make and remove a directory in ``path`` (or its nearest existing ancestor); ConfigError naming ``key``."""
    import tempfile

    ancestor = next(part for part in (path, *path.absolute().parents) if part.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".xlsweep-probe-", dir=ancestor))
    except OSError as err:
        verb = "written" if ancestor == path else "created"
        where = "" if ancestor == path else \
            f" (its nearest existing directory {cut(str(ancestor), 200)} refuses a new directory)"
        raise ConfigError(f"{key}: {cut(str(path), 200)} cannot be {verb}{where}: {err.strerror or err}; expected a "
                          "directory xlsweep can create and write — choose another path") from None


# --------------------------------------------------------------------- model
def position_limit(config: Any) -> int | None:
    """Tokens per row a model's position embeddings allow (``None`` when the config does not say)."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or positions <= 0:
        return None
    return positions - (2 if getattr(config, "model_type", "") in _PADDING_OFFSET_TYPES else 0)


def _is_path_like(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or "\\" in name or not _REPO_ID.match(name)


def _local_model(path: Path, name: str) -> None:
    if not path.exists():
        raise ConfigError(f"model.name: {cut(name, 200)}: no such directory (looked in {path.resolve()}); expected "
                          "a model directory (config.json, weights, tokenizer files), a hub name such as "
                          "bert-base-multilingual-cased, or 'tiny'")
    if not path.is_dir():
        raise ConfigError(f"model.name: {cut(name, 200)} is a file; expected a model directory (config.json, "
                          "weights, tokenizer files) as save_pretrained writes it")
    if not (path / "config.json").is_file():
        raise ConfigError(f"model.name: {cut(name, 200)} has no config.json; expected a model directory as "
                          "save_pretrained writes it (config.json, weights, tokenizer files)")
    if not any((path / f).is_file() for f in _WEIGHTS):
        raise ConfigError(f"model.name: {cut(name, 200)} has no weights; expected one of {', '.join(_WEIGHTS)}")
    if not any((path / f).is_file() for f in _TOKENIZER):
        raise ConfigError(f"model.name: {cut(name, 200)} has no tokenizer files; expected one of "
                          f"{', '.join(_TOKENIZER)} (save the tokenizer next to the model with save_pretrained)")


def hub_unreachable(err: BaseException) -> bool:
    """Whether ``err`` (or an exception it was raised from) says the hub could not be asked: offline mode, no
    connection, a time-out, or "not in the local cache" with outgoing traffic off (huggingface_hub's types)."""
    from huggingface_hub import errors

    kinds: tuple[type[BaseException], ...] = (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled,
                                               ConnectionError, TimeoutError)
    try:
        import httpx

        kinds += (httpx.TransportError,)
    except ImportError:  # huggingface_hub before 1.0 uses requests, whose errors are OSError/ConnectionError
        pass
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the HF hub can be asked at all: outgoing traffic allowed (``HF_HUB_OFFLINE``,
    ``TRANSFORMERS_OFFLINE``) and a TCP connection to its host (``HF_ENDPOINT``) opens within ``timeout``
    (tried once per process and host). Without this, huggingface_hub retries an unreachable hub for ~20 s,
    a line per try, before it gives up.
    """
    import urllib.parse

    if any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
           for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return False
    url = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return _answers(url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443), timeout)


@functools.cache
def _answers(host: str, port: int, timeout: float) -> bool:
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _model_config(name: str, *, warn: Warn | None = None) -> Any:
    """The ``PretrainedConfig`` of ``model.name`` (a local directory or a hub name), read without weights.

    With ``warn``, a hub name that cannot be read because the hub is unreachable gives one warning and ``None``.
    """
    from transformers import AutoConfig

    path = Path(name).expanduser()
    local = path.exists() or _is_path_like(name)
    if local:
        _local_model(path, name)
    try:
        if local:
            return AutoConfig.from_pretrained(str(path))
        return AutoConfig.from_pretrained(name, local_files_only=not hub_reachable())  # offline: the cache, at once
    except Exception as err:  # OSError (not found, offline), ValueError (unknown model type), JSON errors
        reason = cut(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__, 300)
        if local:
            raise ConfigError(f"model.name: {cut(name, 200)}/config.json cannot be read ({reason})") from None
        if warn is not None and hub_unreachable(err):
            warn(f"model config of {cut(name, 200)!r} not checked: not in the local cache and the hub is "
                 "unreachable (a sweep checks it before it starts)")
            return None
        raise ConfigError(f"model.name: {cut(name, 200)!r} is neither a local model directory nor a model this "
                          f"machine can load ({type(err).__name__}: {reason}); download it once where the hub is "
                          f"reachable (`hf download {cut(name, 200)}`: it then loads from the HF cache), or set "
                          "model.name to a local directory with config.json") from None


def check_model(cfgs: Iterable[TrialConfig], *, warn: Warn | None = None) -> list[str]:
    """Every trial's model exists and its config fits the trial (positions, layers, width, task head).

    Reads each distinct ``model.name``'s config once (no weights). Returns what was checked. With ``warn``, a
    hub model the unreachable hub cannot give is warned about once and left unchecked (see :func:`preflight`).
    """
    configs: dict[str, Any] = {}
    for cfg in cfgs:
        name = cfg.model.name
        if name == "tiny":  # built here; its checks are config checks (xlsweep.plan.trial_checks)
            continue
        if name not in configs:
            configs[name] = _model_config(name, warn=warn)
        config = configs[name]
        if config is None:  # unreachable hub, warned about
            continue
        from transformers.models.auto import modeling_auto  # only for a model that is not the tiny default

        mapping_name, head = _HEADS[cfg.data.task]
        model_type = getattr(config, "model_type", "")
        if model_type not in getattr(modeling_auto, f"MODEL_FOR_{mapping_name}_MAPPING_NAMES"):
            raise ConfigError(f"model.name: {cut(name, 200)} is a {model_type!r} model, which has no {head} head in "
                              f"transformers; data.task {cfg.data.task} needs one (e.g. a BERT or XLM-R encoder)")
        _fits(cfg, config, name)
    read = [name for name, config in configs.items() if config is not None]
    return [f"model config{'s' if len(read) > 1 else ''} ({', '.join(read)})"] if read else []


def _fits(cfg: TrialConfig, config: Any, name: str) -> None:
    limit = position_limit(config)
    if limit is not None and cfg.data.max_length > limit:
        offset = " minus the padding offset 2 of RoBERTa-style encoders" if limit != config.max_position_embeddings \
            else ""
        raise ConfigError(f"data.max_length: got {cfg.data.max_length}; {cut(name, 200)} has "
                          f"{config.max_position_embeddings} position embeddings{offset}, so expected at most {limit}")
    if method(cfg.meta.algorithm).section != "metaxl":  # the RTN's settings against the model's shape
        return
    layers, hidden = getattr(config, "num_hidden_layers", None), getattr(config, "hidden_size", None)
    for i in cfg.metaxl.rtn_layers:
        if isinstance(layers, int) and i > layers:
            raise ConfigError(f"metaxl.rtn_layers: got {i}; {cut(name, 200)} has {layers} layers, so expected "
                              f"0..{layers} (0: after the embeddings, i: after encoder layer i)")
    if isinstance(hidden, int) and cfg.metaxl.bottleneck >= hidden:
        raise ConfigError(f"metaxl.bottleneck: got {cfg.metaxl.bottleneck}; expected fewer units than the hidden size "
                          f"of {cut(name, 200)} ({hidden}); the paper uses 384 or 192 for a 768-wide encoder")


# --------------------------------------------------------------------- local data
def check_local_data(cells: Cells, sweep: SweepConfig, *, note: Warn | None = None) -> list[str]:
    """Read every local file a trial reads, once per (source, language), with the task's reader.

    A :class:`~xlsweep.data.schema.DataError` (a column, a label, a QA answer not in its context, a language
    code in another case, ...) becomes one :class:`ConfigError` naming the file and the record. Rows a file's
    format skips (MNLI's ``-`` label, 3-star reviews) are told to ``note``, one line per file and split. Hub
    sources are left to the sweep.
    """
    read: set[tuple[str, str, str]] = set()
    for _, cfg in cells:
        if cfg.data.benchmark == "synthetic":
            continue
        sources = benchmark_sources(cfg.data)
        bench = load_benchmark(cfg.data)  # languages in data.split_index: read through the released index
        for lang, split, _ in needed_splits(cfg, objective_languages(sweep, cfg)):
            spec = resolve_source(sources, lang, split)
            if lang in cfg.data.split_index:
                key = (cfg.data.task, os.path.abspath(cfg.data.split_index[lang]), f"{lang}.{split}")
            elif spec is None or parse_source(spec, lang, split).kind != "file":
                continue
            else:
                key = (cfg.data.task, os.path.abspath(str(parse_source(spec, lang, split).path)), lang)
            if key in read:
                continue
            try:
                bench.load(lang, split)
            except DataError as err:
                raise ConfigError(f"data: {err}") from None
            read.add(key)
            if note is not None:
                for line in bench.skipped_lines(lang, split):
                    note(line)
    files = {path for _, path, _ in read}
    return [f"{len(files)} local data file{'' if len(files) == 1 else 's'} read"] if files else []
