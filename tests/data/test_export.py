"""Round trip: the synthetic benchmark written in the real formats reads back as exactly the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlsweep.data.export import export_synthetic
from xlsweep.data.schema import TASKS
from xlsweep.data.sources import RealBenchmark
from xlsweep.data.synthetic import SPLITS, SyntheticBenchmark


@pytest.mark.parametrize("task", TASKS)
def test_exported_files_read_back_as_the_synthetic_rows(task: str, tmp_path: Path) -> None:
    bench = SyntheticBenchmark(task=task, train_size=30, dev_size=10, test_size=10)
    sources = export_synthetic(bench, tmp_path)
    real = RealBenchmark(task, bench.languages, sources)
    for lang in bench.languages:
        for split in SPLITS:
            assert real.load(lang, split).to_list() == bench.load(lang, split).to_list(), (lang, split)


def test_each_task_is_written_in_its_released_format(tmp_path: Path) -> None:
    def first_line(task: str) -> str:
        sources = export_synthetic(SyntheticBenchmark(task=task, train_size=3, dev_size=2, test_size=2),
                                   tmp_path / task)
        path = Path(sources["*"].format(lang="cor", split="dev"))
        return path.read_text(encoding="utf-8").splitlines()[0]

    assert first_line("nli") == "language\tgold_label\tsentence1\tsentence2\tpairID"  # XNLI's columns
    assert first_line("qa").startswith('{"version": "1.1", "data": [{"title"')  # SQuAD 1.1
    token, tag = first_line("ner").split("\t")
    assert token.startswith("cor:") and tag in {"O", "B-PER", "B-ORG", "B-LOC"}  # WikiAnn as MetaXL ships it
    assert first_line("sentiment").startswith('{"id": "0", "text": ')


# ----------------------------------------------------------------- one benchmark, one set of defaults (issue 12, 17)
def test_the_benchmark_defaults_are_the_configs() -> None:
    import dataclasses
    import inspect

    from xlsweep.config.schema import SyntheticDataConfig
    from xlsweep.data.families import resolve_family

    parameters = inspect.signature(SyntheticBenchmark).parameters
    family_fields = {"languages", "family_seed"}  # the config's way of choosing the benchmark's `family`
    for f in dataclasses.fields(SyntheticDataConfig):
        if f.name not in family_fields:
            assert parameters[f.name].default == f.default, f.name
    assert parameters["family"].default == resolve_family(SyntheticDataConfig())


def _export(tmp_path: Path, *options: str) -> tuple[str, RealBenchmark]:
    from typer.testing import CliRunner

    from xlsweep.cli import app

    result = CliRunner().invoke(app, ["export-synthetic", str(tmp_path), "--task", "sentiment", "--train-size", "12",
                                      "--dev-size", "4", "--test-size", "4", *options])
    assert result.exit_code == 0, result.output
    sources = {"*": str(tmp_path / "{lang}" / "{split}.jsonl")}
    return result.output, RealBenchmark("sentiment", ("ana", "bel", "cor", "dun", "eki", "zul"), sources)


@pytest.mark.parametrize("options", [(), ("--purity", "0.9", "--n-topics", "9", "--words-per-pool", "5",
                                          "--seed", "3")])
def test_export_writes_the_benchmark_a_sweep_builds_from_the_same_settings(tmp_path: Path,
                                                                            options: tuple[str, ...]) -> None:
    from xlsweep.data.benchmark import load_benchmark
    from xlsweep.plan import synthetic_data

    output, files = _export(tmp_path, *options)
    settings = {"train_size": 12, "dev_size": 4, "test_size": 4,
                **{name.removeprefix("--").replace("-", "_"): float(value) if "." in value else int(value)
                   for name, value in zip(options[::2], options[1::2], strict=True)}}
    built = load_benchmark(synthetic_data("sentiment", settings))
    assert f"purity {settings.get('purity', 0.35)}" in output
    for lang in built.languages:
        for split in SPLITS:
            assert files.load(lang, split).to_list() == built.load(lang, split).to_list(), (lang, split)


@pytest.mark.parametrize(("options", "message"), [
    (("--purity", "0"), "error: --purity: got 0.0; expected a number in (0, 1]"),
    (("--purity", "nan"), "error: --purity: got nan; expected a finite number"),
    (("--n-topics", "4"), "error: --n-topics: got 4; expected a positive multiple of 3"),
    (("--train-size", "0"), "error: --train-size: got 0; expected a positive number"),
    (("--seed", "-1"), "error: --seed: got -1; expected a seed from 0 to 2**32 - 1"),
    (("--words-per-pool", "3"), "words_per_pool must be at least 4"),
])
def test_export_refuses_bad_settings_as_a_config_would(tmp_path: Path, options: tuple[str, ...], message: str) -> None:
    from typer.testing import CliRunner

    from xlsweep.cli import app

    result = CliRunner().invoke(app, ["export-synthetic", str(tmp_path / "out"), *options])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "out").exists()


def test_the_printed_custom_section_is_a_valid_config(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from xlsweep.cli import app
    from xlsweep.plan import parse_sweep

    result = CliRunner().invoke(app, ["export-synthetic", str(tmp_path), "--task", "qa", "--train-size", "4",
                                      "--dev-size", "2", "--test-size", "2"])
    section = yaml.safe_load(result.output.split("use it as a custom benchmark:\n")[1])
    sweep = parse_sweep({**section, "meta": {"support": ["ana"], "query": ["bel"], "support_size": 1,
                                             "query_size": 1}})
    assert sweep.trial.data.qa_whitespace_languages == sweep.trial.data.languages
