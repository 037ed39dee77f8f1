"""The synthetic twins of the papers' tables: each validates, runs on the embedded
default (synthetic data, tiny local encoder) and has the shape of the table or figure it mirrors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from xlsweep.config import TrialConfig
from xlsweep.plan import expand_grid, load_sweep

TWINS = Path(__file__).resolve().parents[2] / "tune_configs" / "twins"
EXPECTED = ("metaxl-table2-ner.yaml", "metaxl-table3-sentiment.yaml", "metaxl-table5.yaml",
            "xla-maml-figure2.yaml", "xla-maml-table3.yaml", "xla-maml-table4-qa.yaml")


def _trials(name: str) -> list[TrialConfig]:
    return [cfg for _, cfg in expand_grid(load_sweep(TWINS / name))]


def test_the_twins_are_the_ones_the_results_page_lists() -> None:
    """docs/results/twins.md lists each twin in its overview table, and no other."""
    assert tuple(sorted(p.name for p in TWINS.glob("*.yaml"))) == EXPECTED
    page = (TWINS.parents[1] / "docs" / "results" / "twins.md").read_text()
    listed = re.findall(r"^\| `([\w-]+\.yaml)` \|", page, re.M)
    assert tuple(sorted(listed)) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_every_twin_validates_offline_and_says_what_it_mirrors(name: str) -> None:
    text = (TWINS / name).read_text()
    assert text.startswith(f"# xlsweep sweep tune_configs/twins/{name}\n")
    assert "Synthetic twin of the" in text and "§" in text and "Scaled down" in text
    trials = _trials(name)
    assert trials
    for cfg in trials:  # the embedded default: nothing to download
        assert cfg.model.name == "tiny" and cfg.data.benchmark == "synthetic"


def test_table3_twin_has_both_algorithms_one_and_two_aux_rows_few_shot_and_3_seeds() -> None:
    """XLA-MAML paper Table 3: X-MAML and XLA-MAML rows per auxiliary setting, zero- and few-shot, 3 runs."""
    trials = _trials("xla-maml-table3.yaml")
    cells = Counter((cfg.meta.algorithm, cfg.meta.support, cfg.meta.query) for cfg in trials)
    assert cells == {("x-maml", ("dun",), ()): 3, ("xla-maml", ("ana",), ("dun",)): 3,
                     ("x-maml", ("dun", "eki"), ()): 3, ("xla-maml", ("dun",), ("eki",)): 3}
    assert {cfg.seed for cfg in trials} == {0, 1, 2}
    assert all(cfg.eval.few_shot.enabled and cfg.eval.few_shot.protocol == "target-inner" for cfg in trials)
    assert all(cfg.meta.support_size == cfg.meta.query_size == 8 for cfg in trials)  # §4.2: batch 8


def test_table4_twin_is_qa_with_both_algorithms_on_one_aux_language_zero_and_few_shot() -> None:
    """XLA-MAML paper Table 4 (MLQA): "X-MAML hi → X" and "XLA-MAML hi → X", zero-shot and few-shot, F1/EM."""
    trials = _trials("xla-maml-table4-qa.yaml")
    assert {(cfg.meta.algorithm, cfg.meta.support, cfg.meta.query) for cfg in trials} == {
        ("x-maml", ("dun",), ()), ("xla-maml", ("ana",), ("dun",))}
    assert all(cfg.data.task == "qa" and cfg.eval.few_shot.protocol == "target-inner" for cfg in trials)


def test_figure2_twin_is_the_source_to_every_other_language_of_a_15_language_family() -> None:
    """XLA-MAML paper Figure 2: en → every XNLI language (15) as the auxiliary, a heatmap over every target."""
    trials = _trials("xla-maml-figure2.yaml")
    assert {cfg.data.synthetic.languages for cfg in trials} == {15}
    assert all(cfg.meta.algorithm == "xla-maml" and cfg.meta.support == ("ana",) for cfg in trials)
    queries = sorted(cfg.meta.query for cfg in trials)
    assert len(queries) == 14 and len(set(queries)) == 14 and ("ana",) not in queries
    assert all(cfg.eval.targets == () for cfg in trials)  # every language is a target column


@pytest.mark.parametrize(("name", "targets"), [("metaxl-table2-ner.yaml", {"cor", "eki", "zul"}),
                                               ("metaxl-table3-sentiment.yaml", {"eki", "zul"})])
def test_metaxl_main_table_twins_run_the_four_methods_with_the_rtn_after_the_last_layer(
        name: str, targets: set[str]) -> None:
    """MetaXL paper Tables 2/3: target only, JT (and JT w/ RTN, §4.4), MetaXL; RTN after the top layer, 100
    target sentences."""
    trials = _trials(name)
    assert Counter(cfg.meta.algorithm for cfg in trials) == dict.fromkeys(
        ("target-only", "jt", "jt-rtn", "metaxl"), len(targets))
    assert {q for cfg in trials for q in cfg.meta.query} == targets
    for cfg in trials:
        assert cfg.metaxl.rtn_layers == (cfg.model.tiny.num_layers,) and cfg.metaxl.rtn == "paper"
        assert cfg.data.limits["*.train"] == 100 and cfg.meta.support == ("ana",)


def test_table5_twin_places_the_rtn_first_middle_last_and_at_both_ends_next_to_jt() -> None:
    """MetaXL paper Table 5: JT, MetaXL L0 / L6 / L12 / L0,12 — on the 2-layer encoder 0 / 1 / 2 / 0,2."""
    trials = _trials("metaxl-table5.yaml")
    placements = {cfg.metaxl.rtn_layers for cfg in trials if cfg.meta.algorithm == "metaxl"}
    depth = trials[0].model.tiny.num_layers
    assert placements == {(0,), (depth // 2,), (depth,), (0, depth)}
    assert {cfg.meta.algorithm for cfg in trials} == {"jt", "metaxl"}
