from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.plan import expand_grid, load_sweep

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "tune_configs").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_opens_with_its_command(path: Path) -> None:
    assert path.read_text().startswith(f"# xlsweep sweep tune_configs/{path.name}\n")
    assert expand_grid(load_sweep(path))


@pytest.mark.parametrize("command", [[], ["sweep"], ["resume"], ["ui"], ["report"], ["best-pairs"], ["validate"],
                                     ["languages"], ["export-synthetic"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_validate_lists_the_trials_of_a_config() -> None:
    result = runner.invoke(app, ["validate", str(CONFIGS[0].parent / "demo.yaml")])
    assert result.exit_code == 0
    assert "10 trials" in result.output and "query=zul" in result.output


def test_a_bad_config_is_one_clear_error_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmeta: {support: [ana], query: [klingon]}\n")
    for command in ("validate", "sweep"):
        result = runner.invoke(app, [command, str(bad)])
        assert result.exit_code == 2
        assert "meta.query: unknown language 'klingon'" in result.output
        assert "ana, bel, cor, dun, eki, zul" in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


def test_languages_prints_the_relatedness_matrix() -> None:
    result = runner.invoke(app, ["languages"])
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert rows["zul"][-1] == "1.00" and rows["ana"][-1] == "0.00"


def test_resume_names_what_it_could_not_find(tmp_path: Path) -> None:
    result = runner.invoke(app, ["resume", "nosuch", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "'nosuch' is neither a sweep directory (with state.json) nor a sweep name" in result.output


def _sweep_dir(tmp_path: Path, status: str, *, with_ray: bool = True) -> Path:
    import json

    import yaml

    from xlsweep.sweep.sweep_dir import sweep_yaml

    out = tmp_path / "runs" / "demo" / "20261123-120000"
    out.mkdir(parents=True)
    (out / "sweep.yaml").write_text(yaml.safe_dump(sweep_yaml(load_sweep(CONFIGS[0].parent / "demo.yaml")),
                                                   sort_keys=False, allow_unicode=True))
    (out / "state.json").write_text(json.dumps({"sweep_id": "x", "tracking_uri": "sqlite:///x.db",
                                                "parent_run_id": "p", "cache_dir": str(tmp_path), "status": status}))
    if with_ray:
        (out / "ray" / "demo").mkdir(parents=True)
    return out


def test_resume_finds_a_sweep_by_name_and_refuses_a_finished_one(tmp_path: Path) -> None:
    out = _sweep_dir(tmp_path, "finished")
    for target in ("demo", str(tmp_path / "runs" / "demo"), str(out)):
        result = runner.invoke(app, ["resume", target, "--output-dir", str(tmp_path / "runs")])
        assert result.exit_code == 2 and f"the sweep in {out} has already finished" in result.output


def test_resume_of_a_sweep_that_never_started_a_trial_starts_its_trials(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stopped in stage 1 (Ctrl-C, SIGTERM): the resume command it printed starts Tune afresh (issue 12, point 2)."""
    from xlsweep.sweep import runner as runner_module

    out = _sweep_dir(tmp_path, "interrupted", with_ray=False)
    monkeypatch.chdir(tmp_path)
    launched = []
    monkeypatch.setattr(runner_module, "_launch", lambda *args, restore, **kwargs: launched.append(restore))
    result = runner.invoke(app, ["resume", str(out)])
    assert launched == [False] and "(its trials had not started)" in result.output


def test_ui_needs_an_existing_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2 and "no MLflow database at" in result.output


# ----------------------------------------------------------------- bad input: one error before any work (issue 12)
SMOKE = (CONFIGS[0].parent / "smoke.yaml").read_text()
SMALL_DATA = "  synthetic: {train_size: 40, dev_size: 16, test_size: 16}\n"


def _bert_dir(path: Path, *, positions: int = 128, layers: int = 2, hidden: int = 32, roberta: bool = False) -> Path:
    """A small encoder saved as save_pretrained writes it (config.json, weights, a vocabulary)."""
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    config_class, model_class = (XLMRobertaConfig, XLMRobertaModel) if roberta else (BertConfig, BertModel)
    config = config_class(vocab_size=40, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=positions)
    model_class(config).save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    return path


def _qa_files(tmp_path: Path) -> str:
    """The synthetic QA benchmark as SQuAD JSON files; returns a custom-benchmark ``data`` section."""
    from xlsweep.data.export import export_synthetic
    from xlsweep.data.synthetic import SyntheticBenchmark

    bench = SyntheticBenchmark(task="qa", train_size=20, dev_size=8, test_size=8)
    sources = export_synthetic(bench, tmp_path / "qa")
    langs = ", ".join(bench.languages)
    return (f"data:\n  task: qa\n  doc_stride: 24\n  benchmark: custom\n  languages: [{langs}]\n"
            f"  qa_whitespace_languages: [{langs}]\n  sources: {{'*': '{sources['*']}'}}\n")


def _edit_squad(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    import json

    data = json.loads(path.read_text())
    edit(data["data"][0]["paragraphs"][2])
    path.write_text(json.dumps(data))


def _answer(paragraph, **changes):  # type: ignore[no-untyped-def]
    paragraph["qas"][0]["answers"][0].update(changes)


def _config(tmp_path: Path, case: str) -> tuple[bytes, list[str]]:  # noqa: PLR0911 - one branch per case
    """(the config file's bytes, fragments the one error must contain) of each refused case."""
    tiny = SMOKE.replace("data:\n  synthetic: {train_size: 600, dev_size: 64, test_size: 64}\n", "data:\n" + SMALL_DATA)
    model = "model: {name: %s}\n"
    qa = "meta: {support: [ana], query: [bel], steps: 4, support_size: 4, query_size: 4}\n"
    cases: dict[str, tuple[str | bytes, list[str]]] = {
        "not-utf8": (tiny.encode() + "# caf\u00e9\n".encode("latin-1"), ["not UTF-8 text (byte 0xe9"]),
        "alias-bomb": (tiny + "x: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
            f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)),
            ["expands (through its aliases)"]),
        "duplicate-key": (tiny + "stage1: {epochs: 2}\n", ["duplicate key 'stage1' (first at line"]),
        "seed-repeat": (tiny + "  seed: [0, 0]\n", ["grid.seed: 0 appears more than once"]),
        "lr-spellings": (tiny + "  meta.inner_lr: [0.001, 1.0e-3]\n", ["grid.meta.inner_lr: 0.001 appears"]),
        "pairs-repeat": (tiny.replace("product: {support: [ana], query: [bel, zul]}", "pairs: [bel, bel]"),
                         ["grid.aux.pairs: 'bel' appears more than once"]),
        "self-pair": (tiny.replace("product: {support: [ana], query: [bel, zul]}",
                                   "[{support: [bel], query: [bel]}]"), ["support and query are both ['bel']"]),
        "meta-support-axis": (tiny + "  meta.support: [[ana], [bel]]\n", ["grid.meta.support: the support and query"]),
        "nan-lr": (tiny.replace("inner_lr: 1.0e-3", "inner_lr: .nan"), ["meta.inner_lr: got nan; expected a finite"]),
        "inf-decay": (tiny.replace("stage1: {epochs: 1}", "stage1: {epochs: 1, weight_decay: .inf}"),
                      ["stage1.weight_decay: got inf; expected a finite number"]),
        "big-seed": (tiny + "seed: 4294967296\n", ["seed: got 4294967296; expected a seed from 0 to 2**32 - 1"]),
        "negative-seed": (tiny.replace("stage1: {epochs: 1}", "stage1: {epochs: 1, seed: -1}"),
                          ["stage1.seed: got -1; expected a seed"]),
        "heads": (tiny + "model: {tiny: {hidden_size: 128, num_heads: 3}}\n",
                  ["model.tiny.num_heads: got 3; expected a divisor"]),
        "words-per-pool": (tiny.replace(SMALL_DATA, "  synthetic: {train_size: 40, words_per_pool: 0}\n"),
                           ["words_per_pool must be at least 4"]),
        "too-many-samples": (tiny + "search: {space: {meta.meta_lr: {loguniform: [1.0e-5, 1.0e-3]}}, "
                                    "num_samples: 100000000, metric: dev_avg}\n", ["expected at most 10,000"]),
        "cache-dir-file": (tiny + f"cache_dir: {tmp_path / 'afile'}\n", ["cache_dir:", "is a file"]),
        "output-dir-file": (tiny + f"output_dir: {tmp_path / 'afile' / 'sub'}\n", ["output_dir:", "which is a file"]),
        "model-missing": (tiny + model % (tmp_path / "nosuch"), ["model.name:", "nosuch: no such directory"]),
        "model-relative-missing": (tiny + model % "./models/nosuch", ["./models/nosuch: no such directory"]),
        "model-no-config": (tiny + model % tmp_path, ["has no config.json"]),
        "model-bogus-hub-name": (tiny + model % "nosuch-org/nosuch-encoder",
                                 ["'nosuch-org/nosuch-encoder' is neither a local model directory nor a model this "
                                  "machine can load", "hf download nosuch-org/nosuch-encoder"]),
    }
    if case.startswith(("max-length", "rtn", "bottleneck")):
        bert = _bert_dir(tmp_path / "bert", positions=66, roberta=case == "max-length-roberta")
        metaxl = ("meta: {algorithm: metaxl, support: [ana], query: [zul], split: train}\n"
                  "grid: {seed: [0]}\n" + model % bert)
        cases |= {
            "max-length": (tiny.replace("data:\n", "data:\n  max_length: 67\n") + model % bert,
                           ["data.max_length: got 67;", "66 position embeddings, so expected at most 66"]),
            "max-length-roberta": (tiny.replace("data:\n", "data:\n  max_length: 65\n") + model % bert,
                                   ["data.max_length: got 65;", "minus the padding offset 2", "expected at most 64"]),
            "rtn-layers": (tiny.split("meta:")[0] + metaxl + "metaxl: {rtn_layers: [3], bottleneck: 8}\n",
                           ["metaxl.rtn_layers: got 3;", "has 2 layers, so expected 0..2"]),
            "bottleneck": (tiny.split("meta:")[0] + metaxl + "metaxl: {bottleneck: 32}\n",
                           ["metaxl.bottleneck: got 32; expected fewer units than the hidden size", "(32)"]),
        }
    if case.startswith("qa-"):
        data = _qa_files(tmp_path)
        base = "name: qa\n" + data + qa + "stage1: {epochs: 1}\n"
        bel_test = tmp_path / "qa" / "bel" / "test.json"
        edits = {
            "qa-answer-not-in-context": lambda p: _answer(p, text="xyzzy"),
            "qa-start-out-of-range": lambda p: _answer(p, answer_start=10_000),
            "qa-start-off": lambda p: _answer(p, answer_start=p["qas"][0]["answers"][0]["answer_start"] + 1),
            "qa-no-answers": lambda p: p["qas"][0].update(answers=[]),
            "qa-empty-context": lambda p: p.update(context=""),
        }
        _edit_squad(bel_test, edits[case])
        cases |= {case: (base, [f"{bel_test}:", "question id '2' (data[0].paragraphs[2].qas[0])"])}
    if case == "mlqa-unknown-language":
        cases |= {case: ("name: qa\ndata: {task: qa, doc_stride: 24, benchmark: custom, source: en, "
                         "languages: [en, ru], sources: {'*': 'x/{lang}.{split}.json'}}\n"
                         "meta: {support: [en], query: [ru]}\n",
                         ["data.languages: ['ru'] are not languages MLQA's official answer normalisation knows"])}
    if case == "sentiment-extra-field":
        for lang in ("ana", "bel", "cor", "dun", "eki", "zul"):
            for split in ("train", "dev", "test"):
                (tmp_path / f"{lang}.{split}.csv").write_text("text,label\n" + "fine,1\nbad,0\n" * 10)
        (tmp_path / "bel.test.csv").write_text("body,label\nfine,1,extra\n")
        cases |= {case: ("name: s\ndata: {task: sentiment, benchmark: custom, "
                         "languages: [ana, bel, cor, dun, eki, zul], "
                         f"sources: {{'*': '{tmp_path}/{{lang}}.{{split}}.csv'}}}}\n"
                         "meta: {support: [ana], query: [bel], support_size: 4, query_size: 4}\n",
                         [f"{tmp_path / 'bel.test.csv'}, line 2: 3 comma-separated fields; the header"])}
    text, fragments = cases[case]
    return (text.encode() if isinstance(text, str) else text), fragments


REFUSED = ["not-utf8", "alias-bomb", "duplicate-key", "seed-repeat", "lr-spellings", "pairs-repeat", "self-pair",
           "meta-support-axis", "nan-lr", "inf-decay", "big-seed", "negative-seed", "heads", "words-per-pool",
           "too-many-samples", "cache-dir-file", "output-dir-file", "model-missing", "model-relative-missing",
           "model-no-config", "max-length", "max-length-roberta", "rtn-layers", "bottleneck",
           "qa-answer-not-in-context", "qa-start-out-of-range", "qa-start-off", "qa-no-answers", "qa-empty-context",
           "mlqa-unknown-language", "sentiment-extra-field"]


@pytest.fixture
def no_work(no_work: list[str], tmp_path: Path) -> list[str]:
    """conftest's ``no_work``, with a plain file ``afile`` in ``tmp_path`` (for paths that must be directories)."""
    (tmp_path / "afile").write_text("not a directory\n")
    return no_work


def _one_error(result, fragments: list[str]) -> None:  # type: ignore[no-untyped-def]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-2000:]
    assert "Traceback" not in result.output and len(lines[0]) < 1500
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("case", REFUSED)
def test_bad_input_is_one_error_from_validate_and_sweep_before_ray_or_mlflow(case: str, tmp_path: Path,
                                                                            no_work: list[str]) -> None:
    text, fragments = _config(tmp_path, case)
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    for command in ("validate", "sweep"):
        _one_error(runner.invoke(app, [command, str(path)]), fragments)
    assert no_work == []
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()
    assert not (tmp_path / "mlartifacts").exists()


def test_a_bogus_hub_name_is_refused_by_sweep_and_only_warned_about_by_an_offline_validate(tmp_path: Path,
                                                                                           no_work: list[str]) -> None:
    """Offline, an unknown hub name and an uncached real one look alike: validate says it did not check it."""
    text, fragments = _config(tmp_path, "model-bogus-hub-name")
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    _one_error(runner.invoke(app, ["sweep", str(path)]), fragments)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and "warning: model config of 'nosuch-org/nosuch-encoder' not checked" in result.output
    assert no_work == [] and not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()


def test_sweep_refuses_an_output_dir_option_that_is_a_file(tmp_path: Path, no_work: list[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(SMOKE)
    result = runner.invoke(app, ["sweep", str(path), "--output-dir", str(tmp_path / "afile")])
    _one_error(result, [f"output_dir: {tmp_path / 'afile'} is a file"])
    assert no_work == [] and not (tmp_path / "mlflow.db").exists()


def test_resume_checks_the_model_again_before_any_work(tmp_path: Path, no_work: list[str]) -> None:
    import yaml

    out = _sweep_dir(tmp_path, "interrupted")
    saved = yaml.safe_load((out / "sweep.yaml").read_text())
    saved["model"]["name"] = str(tmp_path / "gone")  # the model directory was removed since
    (out / "sweep.yaml").write_text(yaml.safe_dump(saved))
    _one_error(runner.invoke(app, ["resume", str(out)]), ["model.name:", "gone: no such directory"])
    assert no_work == []


def test_validate_says_what_it_checked_for_a_local_model(tmp_path: Path, no_work: list[str]) -> None:
    bert = _bert_dir(tmp_path / "bert")
    path = tmp_path / "ok.yaml"
    path.write_text(SMOKE + f"model: {{name: {bert}}}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: valid; sweep 'smoke' has 2 trials"
    assert lines[1] == ("checked: 2 trial configs (keys, types, ranges, languages, no repeated values or X-MAML "
                        f"settings), synthetic data, output and cache directories, model config ({bert})")


def test_validate_reads_local_data_files_and_says_so(tmp_path: Path, no_work: list[str]) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text("name: qa\n" + _qa_files(tmp_path) + "meta: {support: [ana], query: [bel], support_size: 4, "
                    "query_size: 4}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "data files exist, output and cache directories, 9 local data files read" in result.output


def test_validate_and_sweep_warn_of_cells_that_repeat_a_trial_before_any_work(no_work: list[str]) -> None:
    twin = CONFIGS[0].parent / "twins" / "metaxl-table5.yaml"  # JT once per RTN layer: it reads none
    warning = ("warning: 9 of 24 trials repeat an earlier trial's training (metaxl.rtn_layers: not read by jt): they "
               "add compute, not results")
    result = runner.invoke(app, ["validate", str(twin)])
    assert result.exit_code == 0 and warning in result.output.replace("\n", " ")
    result = runner.invoke(app, ["sweep", str(twin)])  # refused at MLflow (the fixture): the warning came first
    assert warning in result.output.replace("\n", " ") and no_work == ["MLflow"]
