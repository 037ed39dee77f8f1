"""The methods' options in configs (issue 13): the algorithm as a grid axis, episode languages, Reptile, few-shot
protocols, MetaXL's RTN / step / JT batches / subsets, and the renamed MetaXL keys — grids and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from xlsweep.config import ConfigError, TrialConfig
from xlsweep.plan import expand_grid, parse_sweep

XLA = {"support": ["ana"], "query": ["bel"]}


def _sweep(meta: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    return {"name": "t", "meta": {**XLA, **(meta or {})}, **sections}


def _metaxl(metaxl: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    return {"name": "t", "meta": {"algorithm": "metaxl", "support": ["ana"], "query": ["zul"], "split": "train"},
            "metaxl": metaxl or {}, **sections}


def _cells(raw: dict[str, Any]) -> list[tuple[dict[str, Any], TrialConfig]]:
    return expand_grid(parse_sweep(raw))


def _error(raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_sweep(raw)
    return str(info.value)


# ----------------------------------------------------------------- meta.algorithm as a grid axis
def test_x_maml_and_xla_maml_share_one_aux_axis() -> None:
    """Table 3 of the XLA-MAML paper: "X-MAML hi" next to "XLA-MAML en → hi", one sweep."""
    cells = _cells(_sweep(grid={"aux": {"product": {"support": ["ana"], "query": ["bel", "cor"]}},
                                "meta.algorithm": ["x-maml", "xla-maml"]}))
    got = [(c["aux"], cfg.meta.algorithm, cfg.meta.support, cfg.meta.query) for c, cfg in cells]
    assert got == [("ana→bel", "x-maml", ("bel",), ()), ("ana→bel", "xla-maml", ("ana",), ("bel",)),
                   ("ana→cor", "x-maml", ("cor",), ()), ("ana→cor", "xla-maml", ("ana",), ("cor",))]


def test_an_x_maml_cell_of_a_two_language_choice_uses_both_the_papers_same_pair() -> None:
    cells = _cells(_sweep(grid={"aux": [{"support": ["bel"], "query": ["cor"]}],
                                "meta.algorithm": ["x-maml", "xla-maml", "reptile"]}))
    assert [(cfg.meta.algorithm, cfg.meta.support, cfg.meta.query) for _, cfg in cells] == [
        ("x-maml", ("bel", "cor"), ()), ("xla-maml", ("bel",), ("cor",)), ("reptile", ("bel",), ("cor",))]


def test_x_maml_cells_that_would_repeat_one_setting_are_refused() -> None:
    message = _error(_sweep(grid={"aux": {"pairs": ["bel", "cor"]}, "meta.algorithm": ["x-maml", "xla-maml"]}))
    assert "grid: the x-maml cells" in message and "same X-MAML setting (on cor+bel)" in message
    assert "'aux': 'bel→cor'" in message and "'aux': 'cor→bel'" in message


def test_cells_that_differ_only_in_keys_their_method_does_not_read_are_counted_and_named() -> None:
    from xlsweep.plan import repeated_trials

    raw = _metaxl(grid={"aux": [{"support": ["ana"], "query": ["zul"]}, {"support": ["bel"], "query": ["zul"]}],
                        "meta.algorithm": ["target-only", "jt", "metaxl"], "metaxl.rtn_lr": [1e-3, 1e-4],
                        "seed": [0, 1]})
    cells = _cells(raw)
    assert len(cells) == 24
    # per seed: target-only trains once on zul (its 4 cells: 3 repeats), jt once per aux (2 repeats), metaxl never
    [line] = repeated_trials(cells)
    assert line.startswith("10 of 24 trials repeat an earlier trial's training (")
    assert "metaxl.rtn_lr: not read by jt, target-only; aux's support languages: not read by target-only)" in line
    assert repeated_trials(_cells(_metaxl(grid={"metaxl.rtn_lr": [1e-3, 1e-4], "seed": [0, 1]}))) == []
    assert repeated_trials(_cells(_sweep(grid={"aux": {"pairs": ["ana", "bel", "cor"]}, "seed": [0, 1]}))) == []
    # a search sample whose values its method ignores repeats too (the sample index itself is no setting)
    sampled = _metaxl({"epochs": 1}, meta={"algorithm": "jt", "support": ["ana"], "query": ["zul"], "split": "train"},
                      search={"space": {"metaxl.rtn_lr": {"loguniform": [1e-5, 1e-3]}}, "num_samples": 3,
                              "metric": "dev_avg"})
    assert repeated_trials(_cells(sampled))[0].startswith("2 of 3 trials repeat")


def test_when_the_algorithm_is_swept_parallel_applies_to_the_cross_lingual_cells_only() -> None:
    cells = _cells(_sweep({"parallel": True}, grid={"aux": {"product": {"support": ["ana"], "query": ["bel"]}},
                                                    "meta.algorithm": ["x-maml", "xla-maml"]}))
    assert [(cfg.meta.algorithm, cfg.meta.parallel) for _, cfg in cells] == [("x-maml", False), ("xla-maml", True)]
    # a config that asks x-maml itself for parallel episodes is still an error
    assert "meta.parallel: true needs support and query in different languages" in _error(
        {"name": "t", "meta": {"algorithm": "x-maml", "parallel": True},
         "grid": {"aux": {"product": {"support": ["bel"]}}}})


def test_x_maml_with_a_query_outside_a_grid_is_still_an_error_that_names_the_grid_rule() -> None:
    message = _error(_sweep({"algorithm": "x-maml"}))
    assert "meta.query: got ['bel']; x-maml" in message and "but data.source" in message


def test_the_trial_tag_names_the_languages_the_method_used() -> None:
    from types import SimpleNamespace

    from xlsweep.sweep.trainable import _tags

    raw = _sweep(grid={"aux": {"product": {"support": ["ana"], "query": ["bel"]}},
                       "meta.algorithm": ["x-maml", "xla-maml"]})
    ctx = SimpleNamespace(sweep=parse_sweep(raw), sweep_id="t-1", evidence={})
    tags = [_tags(ctx, cell, cfg) for cell, cfg in _cells(raw)]  # type: ignore[arg-type]
    assert [(t["xlsweep.algorithm"], t["xlsweep.aux"], t["xlsweep.support"], t["xlsweep.query"]) for t in tags] == [
        ("x-maml", "bel", "bel", "bel"), ("xla-maml", "ana→bel", "ana", "bel")]


# ----------------------------------------------------------------- episodes, Reptile, few-shot protocols
def test_episode_languages_defaults_to_one_and_union_is_the_papers() -> None:
    (_, cfg), = _cells(_sweep())
    assert cfg.meta.episode_languages == "one"
    (_, cfg), = _cells(_sweep({"episode_languages": "union", "support": ["ana", "bel"], "query": ["cor"],
                               "sampling": "cover", "parallel": True}))
    assert cfg.meta.episode_languages == "union"


@pytest.mark.parametrize(("raw", "fragments"), [
    (_sweep({"episode_languages": "union", "parallel": True, "support": ["ana", "bel"], "query": ["bel", "cor"]}),
     ["meta.parallel: true with episode_languages: union needs disjoint support and query sets; bel is in both"]),
    (_sweep({"episode_languages": "mixed"}), ["meta.episode_languages: got 'mixed'", "'one', 'union'"]),
    (_sweep({"algorithm": "reptile", "query": []}), ["meta.query: empty; reptile needs the query language set"]),
    (_sweep({"parallel": True, "split": "train"}, eval={"few_shot": {"enabled": True, "protocol": "target-inner"}}),
     ["eval.few_shot.protocol: target-inner with meta.parallel: true needs meta.split: dev"]),
    (_sweep({"support_size": 600}, data={"synthetic": {"train_size": 600, "dev_size": 64, "test_size": 64}},
            eval={"few_shot": {"enabled": True, "protocol": "target-inner"}}),
     ["meta.support_size: 600 examples per episode do not fit in the 64 examples"]),
    (_metaxl(eval={"few_shot": {"enabled": True, "protocol": "target-inner"}}),
     ["eval.few_shot.protocol: target-inner is the XLA-MAML paper's", "metaxl trials fine-tune", "finetune"]),
    (_sweep(eval={"few_shot": {"protocol": "paper"}}), ["eval.few_shot.protocol: got 'paper'", "'target-inner'"]),
], ids=["union-parallel-overlap", "unknown-episode-languages", "reptile-no-query", "target-inner-parallel-train",
        "target-inner-dev-too-small", "target-inner-metaxl", "unknown-protocol"])
def test_episode_and_few_shot_errors_name_the_value(raw: dict[str, Any], fragments: list[str]) -> None:
    message = _error(raw)
    for fragment in fragments:
        assert fragment in message


def test_union_episodes_fit_in_the_pooled_rows_of_the_support_languages() -> None:
    data = {"synthetic": {"train_size": 600, "dev_size": 64, "test_size": 64}}
    _cells(_sweep({"episode_languages": "union", "support": ["ana", "bel"], "query": ["cor"], "support_size": 100},
                  data=data))  # 2 × 64 dev rows pooled
    assert "100 examples per episode do not fit in the 64" in _error(_sweep({"support_size": 100}, data=data))


def test_x_maml_cells_of_a_target_inner_sweep_fine_tune_their_own_model() -> None:
    cells = _cells(_sweep(eval={"few_shot": {"enabled": True, "protocol": "target-inner"}},
                          grid={"meta.algorithm": ["x-maml", "xla-maml"],
                                "aux": {"product": {"support": ["ana"], "query": ["bel"]}}}))
    assert [cfg.meta.algorithm for _, cfg in cells] == ["x-maml", "xla-maml"]


# ----------------------------------------------------------------- MetaXL's options and renamed keys
def test_metaxl_defaults_and_named_variants() -> None:
    (_, cfg), = _cells(_metaxl())
    x = cfg.metaxl
    assert (x.rtn, x.step, x.jt_batches, x.subset) == ("identity-init", "authors-code", "balanced", "first")
    (_, cfg), = _cells(_metaxl({"rtn": "paper", "step": "paper", "jt_batches": "pooled", "subset": "seeded",
                                "subset_seed": 42}))
    assert (cfg.metaxl.rtn, cfg.metaxl.step, cfg.metaxl.jt_batches, cfg.metaxl.subset_seed) == (
        "paper", "paper", "pooled", 42)
    cells = _cells(_metaxl(grid={"metaxl.rtn": ["paper", "authors-code", "identity-init"]}))
    assert [cfg.metaxl.rtn for _, cfg in cells] == ["paper", "authors-code", "identity-init"]


@pytest.mark.parametrize(("raw", "fragments"), [
    (_metaxl({"target_in_step": True}), ["metaxl.target_in_step: replaced by metaxl.step (true: authors-code",
                                         "false: paper"]),
    (_metaxl({"residual": False}), ["metaxl.residual: replaced by metaxl.rtn (paper: Eq. 1 without a residual"]),
    (_metaxl({"gate": True}), ["metaxl.gate: replaced by metaxl.rtn"]),
    (_metaxl(grid={"metaxl.target_in_step": [True, False]}), ["grid.metaxl.target_in_step: replaced by metaxl.step"]),
    (_metaxl({"rtn": "eq1"}), ["metaxl.rtn: got 'eq1'", "'identity-init', 'paper', 'authors-code'"]),
    (_metaxl({"step": "code"}), ["metaxl.step: got 'code'", "'authors-code', 'paper'"]),
    (_metaxl({"jt_batches": "mixed"}), ["metaxl.jt_batches: got 'mixed'", "'balanced', 'pooled'"]),
    (_metaxl({"subset": "random"}), ["metaxl.subset: got 'random'", "'first', 'seeded'"]),
    (_metaxl({"target_batch": 1}), ["metaxl.target_batch: got 1; step authors-code splits each target batch in "
                                    "halves", "at least 2"]),
], ids=["target_in_step", "residual", "gate", "grid-target_in_step", "rtn", "step", "jt_batches", "subset",
        "authors-code-batch-of-one"])
def test_metaxl_errors_name_the_value_and_the_new_key(raw: dict[str, Any], fragments: list[str]) -> None:
    message = _error(raw)
    for fragment in fragments:
        assert fragment in message


def test_the_paper_step_takes_a_target_batch_of_one() -> None:
    (_, cfg), = _cells(_metaxl({"step": "paper", "target_batch": 1}))
    assert cfg.metaxl.target_batch == 1


@pytest.mark.parametrize(("meta", "fragment"), [
    ({"optimizer": "adam"}, "meta.optimizer: got 'adam', which reptile does not read"),
    ({"schedule": "constant"}, "meta.schedule: got 'constant', which reptile does not read"),
], ids=["optimizer", "schedule"])
def test_reptile_refuses_an_optimiser_or_schedule_it_would_ignore(meta: dict[str, Any], fragment: str) -> None:
    message = _error(_sweep({"algorithm": "reptile", **meta}))
    assert fragment in message and "expected the default" in message
    (_, cfg), = _cells(_sweep({"algorithm": "reptile"}))  # the defaults: nothing set that does nothing
    assert (cfg.meta.optimizer, cfg.meta.schedule) == ("adamw", "linear")


def test_a_reptile_cell_beside_other_methods_takes_the_defaults_of_the_keys_it_does_not_read() -> None:
    cells = _cells(_sweep({"optimizer": "adam", "schedule": "constant"},
                          grid={"meta.algorithm": ["xla-maml", "reptile"]}))
    assert [(cfg.meta.algorithm, cfg.meta.optimizer, cfg.meta.schedule) for _, cfg in cells] == [
        ("xla-maml", "adam", "constant"), ("reptile", "adamw", "linear")]
    message = _error(_sweep(grid={"meta.algorithm": ["xla-maml", "reptile"], "meta.optimizer": ["adam", "adamw"]}))
    assert "meta.optimizer: got 'adam', which reptile does not read" in message  # swept for reptile too: refused
