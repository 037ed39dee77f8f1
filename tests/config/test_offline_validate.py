"""`validate` on a machine without the HF hub, and the warnings for a real encoder left at the tiny defaults
(issue 13): validate warns and lists the trials, a sweep still refuses before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub.errors import LocalEntryNotFoundError
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.config import TrialConfig
from xlsweep.plan import parse_trial
from xlsweep.plan.encoder_settings import TINY_TUNED, tiny_default_warnings
from xlsweep.plan.preflight import hub_unreachable

runner = CliRunner()
HUB_MODEL = "xlm-roberta-base"  # never in the test machine's HF cache; tests run with HF_HUB_OFFLINE=1
UNCHECKED = (f"warning: model config of '{HUB_MODEL}' not checked: not in the local cache and the hub is "
             "unreachable (a sweep checks it before it starts)")


def _config(tmp_path: Path, model: str = HUB_MODEL, extra: str = "") -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(f"name: hub\nmodel: {{name: {model}}}\nmeta: {{support: [ana], query: [bel]}}\n"
                    f"output_dir: {tmp_path / 'runs'}\ncache_dir: {tmp_path / 'cache'}\n{extra}")
    return path


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_validate_warns_once_about_an_uncached_hub_model_and_lists_the_trials(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(_config(tmp_path, extra="grid: {seed: [0, 1]}\n"))])
    assert result.exit_code == 0, result.output
    assert result.output.count(UNCHECKED) == 1
    assert "valid; sweep 'hub' has 2 trials" in result.output and "query=bel" in result.output
    assert "model config" not in result.output.split("checked:")[1].splitlines()[0]  # not claimed as checked


def test_a_sweep_still_refuses_an_uncached_hub_model_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", str(_config(tmp_path))])
    assert result.exit_code == 2
    assert f"model.name: '{HUB_MODEL}' is neither a local model directory nor a model this machine can load" \
        in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def test_a_local_model_that_cannot_be_read_is_still_an_error_in_validate(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    result = runner.invoke(app, ["validate", str(_config(tmp_path, model=str(tmp_path / "model")))])
    assert result.exit_code == 2 and "has no config.json" in result.output


def test_hub_unreachable_reads_the_exception_chain() -> None:
    try:
        try:
            raise LocalEntryNotFoundError("not in the cache and outgoing traffic disabled")
        except LocalEntryNotFoundError as inner:
            raise OSError("We couldn't connect to 'https://huggingface.co'") from inner
    except OSError as err:
        assert hub_unreachable(err)
    try:
        try:
            raise ConnectionError("Name or service not known")
        except ConnectionError:
            raise OSError("wrapped") from None  # __context__ is kept even with `from None`
    except OSError as err:
        assert hub_unreachable(err)
    assert not hub_unreachable(OSError("xlm-roberta-bas is not a valid model identifier"))
    assert not hub_unreachable(ValueError("Unrecognized model type"))


# ----------------------------------------------------------------- real encoders with the tiny defaults
def test_a_hub_encoder_with_the_tiny_defaults_gets_one_warning_per_key() -> None:
    cfg = parse_trial({"model": {"name": HUB_MODEL}, "meta": {"support": ["ana"], "query": ["bel"]},
                       "eval": {"few_shot": {"enabled": True}}})
    lines = tiny_default_warnings([cfg, cfg])
    keys = [line.split()[0] for line in lines]
    assert keys == ["stage1.lr", "meta.inner_lr", "meta.meta_lr", "eval.few_shot.lr", "data.max_length"]
    assert lines[0].startswith(f"stage1.lr is 0.001, the tiny encoder's default, and {HUB_MODEL} runs with it; "
                               "for a 12-layer base encoder the papers use 2e-5 for MNLI")


def test_metaxl_trials_warn_about_the_rtn_keys_and_not_the_maml_ones() -> None:
    cfg = parse_trial({"model": {"name": HUB_MODEL}, "stage1": {"lr": 2e-5}, "data": {"max_length": 128},
                       "meta": {"algorithm": "metaxl", "support": ["ana"], "query": ["zul"], "split": "train"}})
    assert [line.split()[0] for line in tiny_default_warnings([cfg])] == ["metaxl.rtn_lr", "metaxl.bottleneck"]


def test_the_tiny_encoder_and_set_values_do_not_warn() -> None:
    assert tiny_default_warnings([parse_trial({"meta": {"support": ["ana"], "query": ["bel"]}})]) == []
    set_all = parse_trial({"model": {"name": HUB_MODEL}, "stage1": {"lr": 2e-5}, "data": {"max_length": 128},
                           "meta": {"support": ["ana"], "query": ["bel"], "inner_lr": 1e-5, "meta_lr": 1e-5}})
    assert tiny_default_warnings([set_all]) == []


def test_every_tiny_tuned_value_is_the_schemas_default() -> None:
    default = TrialConfig()
    assert [entry.read(default) for entry in TINY_TUNED] == [entry.tiny for entry in TINY_TUNED]


def test_validate_prints_the_tiny_default_warnings(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "warning: stage1.lr is 0.001, the tiny encoder's default" in result.output
    assert "warning: meta.meta_lr is 0.0001" in result.output


def test_validate_checks_several_configs_and_fails_if_any_is_invalid(tmp_path: Path) -> None:
    good = _config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmeta: {support: [ana], query: [klingon]}\n")
    result = runner.invoke(app, ["validate", str(bad), str(good)])
    assert result.exit_code == 2
    assert f"error: {bad}: meta.query: unknown language 'klingon'" in result.output
    assert f"{good}: valid; sweep 'hub' has 1 trial" in result.output  # checked after the bad one
    assert runner.invoke(app, ["validate", str(good), str(good)]).output.count("valid; sweep 'hub'") == 2


def test_a_sweep_logs_the_tiny_default_warnings_before_any_work(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import BertConfig, BertModel

    import xlsweep.sweep.runner as runner_module
    from xlsweep.plan import load_sweep

    model = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(model)
    (model / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")

    class Stop(Exception):
        pass

    def stop(*args: object, **kwargs: object) -> None:
        raise Stop  # the next step opens the tracking store: the warnings must be out by then

    monkeypatch.setattr(runner_module, "check_tracking", stop)
    lines: list[str] = []
    with pytest.raises(Stop):
        runner_module.run_sweep(load_sweep(_config(tmp_path, model=str(model))), log=lines.append)
    assert [line.split()[1] for line in lines] == ["stage1.lr", "meta.inner_lr", "meta.meta_lr", "data.max_length"]
    assert all(line.startswith("warning: ") and str(model) in line for line in lines)
    assert not (tmp_path / "runs").exists()


def test_an_unreachable_hub_is_one_warning_at_once_without_retries(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline mode not set and no network: the hub is not asked (huggingface_hub would retry ~20 s, a line per
    try); the local cache is read and validate warns once."""
    import socket

    import transformers

    from xlsweep.plan import preflight

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid:4443")
    preflight._answers.cache_clear()
    dialled: list[object] = []

    def no_network(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        dialled.append(address)
        raise OSError("Network is unreachable")

    asked: list[bool] = []

    def from_pretrained(name, *args, local_files_only=False, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(local_files_only)
        if not local_files_only:  # what huggingface_hub would retry for ~20 s
            raise ConnectionError("Max retries exceeded (Network is unreachable)")
        raise LocalEntryNotFoundError("not in the local cache")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", from_pretrained)
    result = runner.invoke(app, ["validate", str(_config(tmp_path, extra="grid: {seed: [0, 1]}\n"))])
    preflight._answers.cache_clear()
    assert result.exit_code == 0, result.output
    assert result.output.count(UNCHECKED) == 1 and "Retry" not in result.output
    assert asked == [True] and dialled == [("hub.invalid", 4443)]
