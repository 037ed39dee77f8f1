"""Real-format files through the pipeline: a custom benchmark over exported files, and missing files caught early."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.data.export import export_synthetic
from xlsweep.data.synthetic import SyntheticBenchmark
from xlsweep.plan import expand_grid, load_sweep, parse_sweep
from xlsweep.prepare import prepare

CONFIGS = Path(__file__).resolve().parents[1] / "tune_configs"


def _as_custom(path: Path, sources: dict[str, str]) -> dict:  # type: ignore[type-arg]
    raw = yaml.safe_load(path.read_text())
    languages = list(SyntheticBenchmark(train_size=1, dev_size=1, test_size=1).languages)
    raw["data"] |= {"benchmark": "custom", "languages": languages, "sources": sources}
    if raw["data"].get("task") == "qa":  # invented codes: EM/F1 on whitespace tokens, declared as such
        raw["data"]["qa_whitespace_languages"] = languages
    return raw


def test_qa_from_squad_json_files_matches_the_synthetic_benchmark_end_to_end(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, cache = prepared_smoke  # the session's encoder (same synthetic corpus and tiny config)
    synthetic = load_sweep(CONFIGS / "smoke-qa.yaml")
    s = synthetic.trial.data.synthetic
    bench = SyntheticBenchmark(task="qa", seed=s.seed, train_size=s.train_size, dev_size=s.dev_size,
                               test_size=s.test_size, n_topics=s.n_topics, words_per_pool=s.words_per_pool,
                               purity=s.purity)
    custom = parse_sweep(_as_custom(CONFIGS / "smoke-qa.yaml", export_synthetic(bench, tmp_path / "mlqa")))
    (_, from_files), *_ = expand_grid(custom)
    (_, from_memory), *_ = expand_grid(synthetic)

    files, memory = prepare(from_files, cache), prepare(from_memory, cache)
    assert files.features.directory("cor", "test") != memory.features.directory("cor", "test")  # two caches
    for key in ("input_ids", "offset_mapping", "start_positions", "example_index"):
        assert files.features.get("cor", "test")[key].equal(memory.features.get("cor", "test")[key])
    assert files.baseline == pytest.approx(memory.baseline, abs=1e-9)  # same stage 1, same EM and F1
    assert set(files.baseline) == {f"{m}/{lang}" for m in ("em", "f1") for lang in bench.languages}


def test_a_missing_data_file_stops_the_sweep_before_ray_or_mlflow(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.sweep.runner import SweepError, run_sweep

    monkeypatch.chdir(tmp_path)  # relative paths are read from the launching directory
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ana.train.txt").write_text("ana:x\tO\n")
    sweep = parse_sweep(_as_custom(CONFIGS / "smoke-ner.yaml", {"*": "data/{lang}.{split}.txt"}))
    with pytest.raises(SweepError) as err:
        run_sweep(sweep, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", output_dir=str(tmp_path / "runs"),
                  log=lambda _: None)
    message = str(err.value)
    assert f"{tmp_path / 'data' / 'bel.dev.txt'}: no such file" in message  # absolute, so trials find it too
    assert "bel.dev (meta-learning" in message and "zul.test (evaluation" in message
    assert "ana.train" not in message  # it exists
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()  # nothing started

    result = CliRunner().invoke(app, ["validate", str(tmp_path / "sweep.yaml")])
    assert result.exit_code == 2  # no such config: the CLI's own error
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(_as_custom(CONFIGS / "smoke-ner.yaml",
                                                                  {"*": "data/{lang}.{split}.txt"})))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "sweep.yaml")])
    assert result.exit_code == 2 and "zul.test" in result.output and "no such file" in result.output


def test_a_file_with_the_wrong_content_is_a_data_error_naming_it_before_stage_1(prepared_smoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from xlsweep.data.schema import DataError

    _, _, cache = prepared_smoke
    bench = SyntheticBenchmark(task="ner", train_size=20, dev_size=8, test_size=8)
    sources = export_synthetic(bench, tmp_path)
    bad = Path(sources["*"].format(lang="zul", split="test"))
    bad.write_text("zul:x\tB-MISC\n", encoding="utf-8")
    sweep = parse_sweep(_as_custom(CONFIGS / "smoke-ner.yaml", sources))
    (_, cfg), *_ = expand_grid(sweep)
    cfg = dataclasses.replace(cfg, stage1=dataclasses.replace(cfg.stage1, lr=1.2345e-3))  # a stage 1 never built
    stage1_before = sorted(Path(cache).glob("stage1-*"))
    with pytest.raises(DataError, match=rf"{bad}.*B-MISC"):
        prepare(cfg, cache)
    assert sorted(Path(cache).glob("stage1-*")) == stage1_before  # no stage 1 was trained
