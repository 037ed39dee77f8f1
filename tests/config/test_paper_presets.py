"""The paper presets (tune_configs/paper/, issue 13): each validates offline and lists its trials, opens with its
command, and every trial's settings equal the paper values its header lists (key = value <- source), so a
setting changed in a preset without its documented paper value fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from xlsweep.cli import app
from xlsweep.config import TrialConfig
from xlsweep.plan import expand_grid, load_sweep

PAPER = Path(__file__).resolve().parents[2] / "tune_configs" / "paper"
PRESETS = sorted(PAPER.glob("*.yaml"))
ENTRY = re.compile(r"^#   ([a-z_][\w.]*(?:\[[\w-]+\])?) = (.*?)(?:\s+<- (.*))?$")  # key[algorithm]: its trials only
runner = CliRunner()

# what each preset must document (a key dropped from a header fails), and its trial count
XLA_MAML_KEYS = {"model.name", "data.max_length", "stage1.epochs", "stage1.batch_size", "stage1.lr", "meta.split",
                 "meta.steps", "meta.support_size", "meta.query_size", "meta.inner_lr", "meta.meta_lr",
                 "meta.weight_decay", "meta.sampling", "grid.aux"}
METAXL_KEYS = {"model.name", "data.max_length", "data.limits", "data.limit_mode", "meta.algorithm", "metaxl.epochs",
               "metaxl.source_batch", "metaxl.target_batch", "metaxl.lr", "metaxl.rtn_lr", "metaxl.rtn_layers",
               "metaxl.bottleneck", "metaxl.rtn", "metaxl.step", "metaxl.optimizer", "metaxl.weight_decay",
               "stage1.per_seed", "grid.aux"}
XLA_MAML_KEYS |= {"meta.meta_batch", "meta.optimizer", "stage1.per_seed"}
X_MAML_OWN = {"meta.support_size", "meta.query_size", "meta.inner_lr", "meta.meta_lr", "meta.weight_decay",
              "meta.optimizer", "meta.schedule", "meta.meta_batch"}  # X-MAML's code's, per x-maml trial
EXPECTED = {
    "xla-maml-table3-xnli.yaml": (XLA_MAML_KEYS | {"meta.algorithm", "meta.parallel", "eval.few_shot.protocol",
                                                   "eval.few_shot.epochs", "grid.seed"}, 12),
    "xla-maml-figure2-xnli.yaml": (XLA_MAML_KEYS | {"meta.algorithm", "meta.parallel"}, 42),
    "xla-maml-table4-mlqa.yaml": (XLA_MAML_KEYS | {"data.doc_stride", "meta.algorithm", "eval.few_shot.protocol",
                                                   "eval.few_shot.epochs", "grid.seed"}, 6),
    "metaxl-table2-ner.yaml": (METAXL_KEYS | {"metaxl.jt_batches"}, 384),
    "metaxl-table3-sentiment.yaml": (METAXL_KEYS | {"metaxl.jt_batches", "data.split_index"}, 48),
    "metaxl-table5-rtn-placement.yaml": (METAXL_KEYS, 192),
    "metaxl-table5-rtn-placement-sentiment.yaml": (METAXL_KEYS | {"data.split_index"}, 48),
}
X_MAML_PRESETS = ("xla-maml-table3-xnli.yaml", "xla-maml-table4-mlqa.yaml")  # x-maml cells with X-MAML's settings
TUNED = {"metaxl-table2-ner.yaml", "metaxl-table3-sentiment.yaml", "metaxl-table5-rtn-placement.yaml",
         "metaxl-table5-rtn-placement-sentiment.yaml"}  # rtn_lr and bottleneck chosen on dev, per target

# the authors' data/data_index.txt format (github.com/microsoft/MetaXL), a few rows per split
INDEX_FILE = """# tir train index and file
[0, 1, 2]
['product_pos.txt', 'product_neg.txt', 'product_pos.txt']

# tir dev index and file
[3, 1]
['product_pos.txt', 'product_pos.txt']

# tir test index and file
[2, 0]
['product_neg.txt', 'product_neg.txt']

# fa train index
[0, 1, None, 2]

# fa dev index
[3, 4]

# fa test index
[5, 0]
"""


def write_released_splits(root: Path) -> None:
    """The authors' index file and the corpora it numbers, as MetaXL's sentiment presets read them:
    data/data_index.txt, data/sentiraama/product_{pos,neg}.txt and data/sentipers.jsonl."""
    (root / "data" / "sentiraama").mkdir(parents=True, exist_ok=True)
    (root / "data" / "data_index.txt").write_text(INDEX_FILE)
    for polarity in ("pos", "neg"):
        (root / "data" / "sentiraama" / f"product_{polarity}.txt").write_text(
            "".join(f"{polarity} review {i}\n" for i in range(4)))
    (root / "data" / "sentipers.jsonl").write_text(
        "".join(f'{{"text": "nazar {i}", "rating": {(-2, -1, 1, 2)[i % 4]}}}\n' for i in range(6)))


@pytest.fixture
def sentiment_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory with the local target data MetaXL's sentiment presets need (not on the hub): the
    authors' released split index and the corpora it numbers (write_released_splits)."""
    write_released_splits(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def paper_values(path: Path) -> dict[str, tuple[Any, str]]:
    """The header's ``#   key = value  <- source`` entries (a source may continue on the next lines).

    ``key[xla-maml]`` is a value of the trials of that algorithm only (in a sweep of several).
    """
    entries: dict[str, tuple[Any, str]] = {}
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# paper values"))
    for line in lines[start + 1:]:
        if not line.startswith("#   "):
            break
        match = ENTRY.match(line)
        if match:
            key, value, source = match.groups()
            assert key not in entries, f"{path.name}: {key} listed twice"
            entries[key] = (yaml.safe_load(value), source or "")
        else:  # the source continues
            value, source = entries[key]
            entries[key] = (value, f"{source} {line.lstrip('# ').removeprefix('<- ')}".strip())
    return entries


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _read(cfg: TrialConfig, overrides: dict[str, Any], key: str) -> Any:
    key = key.split("[")[0]
    if key == "grid.aux":
        return overrides["aux"]
    if key == "grid.seed":
        return cfg.seed
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return _plain(value)


def test_every_published_table_has_a_preset() -> None:
    assert sorted(p.name for p in PRESETS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_a_preset_opens_with_its_command_and_cites_a_source_for_every_paper_value(path: Path) -> None:
    assert path.read_text().startswith(f"# xlsweep sweep tune_configs/paper/{path.name}\n")
    values = paper_values(path)
    required, _ = EXPECTED[path.name]
    documented = {key.split("[")[0] for key in values}
    assert required <= documented, f"undocumented: {sorted(required - documented)}"
    cited = re.compile(r"§|Table|Figure|Appendix|Algorithm|Eq\.|code")
    for key, (_, source) in values.items():
        assert cited.search(source), f"{path.name}: {key} has no source"


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_trial_has_the_papers_values(path: Path) -> None:
    cells = expand_grid(load_sweep(path))
    assert len(cells) == EXPECTED[path.name][1]
    for key, (expected, _) in paper_values(path).items():
        seen: list[Any] = []
        only = key.partition("[")[2].rstrip("]")
        for overrides, cfg in cells:
            if only and cfg.meta.algorithm != only:
                continue
            value = _read(cfg, overrides, key)
            if value not in seen:
                seen.append(value)
        got = seen[0] if len(seen) == 1 else seen
        if key == "grid.aux" or (len(seen) > 1 and isinstance(expected, list)):  # a swept key: its values
            got, expected = sorted(map(repr, seen)), sorted(map(repr, expected if isinstance(expected, list)
                                                                  else [expected]))
        assert got == expected, f"{path.name}: {key} is {got}, the paper's value is {expected}"


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_a_preset_validates_offline_and_lists_its_trials(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        sentiment_targets: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    trials = EXPECTED[path.name][1]
    assert f"valid; sweep 'paper-{path.stem}' has {trials} trials" in result.output
    assert sum(line.startswith("  ") and "support=" in line for line in result.output.splitlines()) == trials
    assert "not checked: not in the local cache and the hub is unreachable" in result.output
    assert "the tiny encoder's default" not in result.output  # real settings, not the tiny encoder's


def test_changing_a_setting_without_its_paper_value_fails(tmp_path: Path) -> None:
    """The check above can fail: a preset whose inner lr was changed (header left alone) is caught."""
    changed = tmp_path / "xla-maml-table3-xnli.yaml"
    changed.write_text((PAPER / changed.name).read_text().replace("  inner_lr: 1.0e-5\n", "  inner_lr: 1.0e-3\n"))
    with pytest.raises(AssertionError, match=r"meta.inner_lr\[xla-maml\] is 0.001, the paper.s value is 1e-05"):
        test_every_trial_has_the_papers_values(changed)


def test_validate_of_every_preset_at_once_lists_the_papers_trials(monkeypatch: pytest.MonkeyPatch,
                                                                   sentiment_targets: Path) -> None:
    """`xlsweep validate tune_configs/paper/*.yaml`, offline (with Table 3's local target corpora in place)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["validate", *map(str, PRESETS)])
    assert result.exit_code == 0, result.output
    listed = sum(line.startswith("  ") and "support=" in line for line in result.output.splitlines())
    assert listed == sum(trials for _, trials in EXPECTED.values())


def test_the_sentiment_preset_names_its_missing_local_corpora(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the authors' index file (the user supplies it) validate says what is missing, and nothing runs."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", str(PAPER / "metaxl-table3-sentiment.yaml")])
    assert result.exit_code == 2
    assert "data.split_index" in result.output
    assert "data/data_index.txt: no such file" in result.output
    assert "github.com/microsoft/MetaXL" in result.output


@pytest.mark.parametrize("name", X_MAML_PRESETS)
def test_x_maml_cells_run_x_maml_s_own_settings_and_xla_maml_cells_the_papers(name: str) -> None:
    """The XLA-MAML paper ran X-MAML with "their public finetuning code" (§4.3): its cells get that code's batch
    split, learning rates, optimiser and schedule; the XLA-MAML cells keep §4.2's."""
    cells = expand_grid(load_sweep(PAPER / name))
    by = {cfg.meta.algorithm: cfg.meta for _, cfg in cells}
    assert (by["x-maml"].support_size, by["x-maml"].query_size, by["x-maml"].inner_lr) == (16, 16, 1e-4)
    assert (by["x-maml"].optimizer, by["x-maml"].schedule, by["x-maml"].weight_decay) == ("adam", "constant", 0.0)
    assert by["x-maml"].meta_batch == 1 and by["x-maml"].support == (by["x-maml"].support[0],)
    assert (by["xla-maml"].support_size, by["xla-maml"].inner_lr, by["xla-maml"].optimizer) == (8, 1e-5, "adam")
    documented = {key.partition("[")[0] for key in paper_values(PAPER / name) if key.endswith("[x-maml]")}
    assert documented == X_MAML_OWN


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_paper_preset_gives_each_seed_its_own_stage1(path: Path) -> None:
    assert all(cfg.stage1.per_seed for _, cfg in expand_grid(load_sweep(path)))


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_the_presets_that_tune_say_which_keys_are_chosen_on_dev(path: Path) -> None:
    sweep = load_sweep(path)
    if path.name in TUNED:
        assert sweep.select_on_dev.keys == ("metaxl.rtn_lr", "metaxl.bottleneck") and sweep.select_on_dev.per_target
        assert {cfg.metaxl.rtn for _, cfg in expand_grid(sweep)} == {"authors-code"}
    else:
        assert not sweep.select_on_dev.keys
