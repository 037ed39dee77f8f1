"""Tests for :mod:`xlsweep.config.load`: parsing, grid expansion and the messages of configuration errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from xlsweep.config import AuxChoice, ConfigError, TrialConfig, to_dict
from xlsweep.plan import expand_grid, load_sweep, parse_sweep, parse_trial

XLA = {"support": ["ana"], "query": ["bel"]}


def _sweep(meta: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    """A raw sweep: a valid xla-maml trial (ana → bel) with ``meta`` keys and whole sections overridden."""
    return {"name": "t", "meta": {**XLA, **(meta or {})}, **sections}


def _error(raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_sweep(raw)
    return str(info.value)


def _cells(raw: dict[str, Any]) -> list[tuple[dict[str, Any], TrialConfig]]:
    return expand_grid(parse_sweep(raw))


# ----------------------------------------------------------------- valid sweeps and grids
def test_minimal_sweep_uses_defaults() -> None:
    sweep = parse_sweep(_sweep())
    assert sweep.name == "t"
    assert sweep.trial.meta.support == ("ana",) and sweep.trial.meta.query == ("bel",)
    assert sweep.trial.meta.inner_lr == 1e-3 and sweep.trial.meta.sampling == "random"
    assert expand_grid(sweep) == [({}, sweep.trial)]


def test_product_grid_times_seed_axis_gives_one_cell_per_combination() -> None:
    raw = _sweep(grid={"aux": {"product": {"support": ["ana"], "query": ["bel", "cor"]}}, "seed": [0, 1]})
    cells = _cells(raw)
    assert [overrides for overrides, _ in cells] == [
        {"aux": "ana→bel", "seed": 0},
        {"aux": "ana→bel", "seed": 1},
        {"aux": "ana→cor", "seed": 0},
        {"aux": "ana→cor", "seed": 1},
    ]
    assert [(c.meta.support, c.meta.query, c.seed) for _, c in cells] == [
        (("ana",), ("bel",), 0),
        (("ana",), ("bel",), 1),
        (("ana",), ("cor",), 0),
        (("ana",), ("cor",), 1),
    ]


def test_pairs_grid_gives_every_ordered_pair() -> None:
    sweep = parse_sweep(_sweep(grid={"aux": {"pairs": ["bel", "cor", "dun"]}}))
    assert [(c.support, c.query) for c in sweep.grid.aux] == [
        (("bel",), ("cor",)), (("bel",), ("dun",)),
        (("cor",), ("bel",)), (("cor",), ("dun",)),
        (("dun",), ("bel",)), (("dun",), ("cor",)),
    ]
    assert len(expand_grid(sweep)) == 6


def test_list_grid_with_a_language_set_and_its_label() -> None:
    sweep = parse_sweep(_sweep(grid={"aux": [{"support": ["bel", "cor"], "query": ["dun"]}]}))
    assert sweep.grid.aux == (AuxChoice(("bel", "cor"), ("dun",)),)
    [(overrides, cfg)] = expand_grid(sweep)
    assert overrides == {"aux": "bel+cor→dun"}
    assert cfg.meta.support == ("bel", "cor") and cfg.meta.query == ("dun",)


def test_x_maml_product_has_empty_query_and_support_label() -> None:
    raw = {"meta": {"algorithm": "x-maml"}, "grid": {"aux": {"product": {"support": ["bel", "cor"]}}}}
    cells = _cells(raw)
    assert [overrides for overrides, _ in cells] == [{"aux": "bel"}, {"aux": "cor"}]
    assert [(c.meta.support, c.meta.query) for _, c in cells] == [(("bel",), ()), (("cor",), ())]


def test_product_skips_choices_whose_support_equals_query() -> None:
    sweep = parse_sweep(_sweep(grid={"aux": {"product": {"support": ["ana", "bel"], "query": ["bel"]}}}))
    assert [c.label for c in sweep.grid.aux] == ["ana→bel"]


def test_dotted_grid_axis_sets_a_nested_key() -> None:
    cells = _cells(_sweep(grid={"meta.inner_lr": [0.1, 1]}))
    assert [c.meta.inner_lr for _, c in cells] == [0.1, 1.0]
    assert isinstance(cells[1][1].meta.inner_lr, float)


def test_single_language_may_be_written_without_brackets() -> None:
    sweep = parse_sweep({"meta": {"support": "ana", "query": "bel"}})
    assert sweep.trial.meta.support == ("ana",) and sweep.trial.meta.query == ("bel",)


# ----------------------------------------------------------------- YAML files
def test_yaml_exponent_without_dot_is_a_float(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("meta:\n  support: [ana]\n  query: [bel]\n  inner_lr: 1e-3\n  meta_lr: 5E-5\n")
    sweep = load_sweep(path)
    assert sweep.name == "exp"  # the file stem
    assert sweep.trial.meta.inner_lr == 1e-3 and isinstance(sweep.trial.meta.inner_lr, float)
    assert sweep.trial.meta.meta_lr == 5e-5


def test_yaml_grid_file_expands(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(
        "name: demo\n"
        "meta: {algorithm: x-maml, sampling: cover}\n"
        "grid:\n  aux: {product: {support: [bel, cor]}}\n  meta.inner_lr: [1e-2, 1e-3]\n"
    )
    cells = expand_grid(load_sweep(path))
    assert [o for o, _ in cells] == [
        {"aux": "bel", "meta.inner_lr": 1e-2},
        {"aux": "bel", "meta.inner_lr": 1e-3},
        {"aux": "cor", "meta.inner_lr": 1e-2},
        {"aux": "cor", "meta.inner_lr": 1e-3},
    ]
    assert all(c.meta.sampling == "cover" for _, c in cells)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file"):
        load_sweep(tmp_path / "nope.yaml")


def test_invalid_yaml_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("meta: {support: [ana\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_sweep(path)


def test_file_errors_are_prefixed_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "lr.yaml"
    path.write_text("meta: {support: [ana], query: [bel], inner_lr: -1}\n")
    with pytest.raises(ConfigError, match=r"lr\.yaml: meta\.inner_lr: got -1\.0; expected a positive number"):
        load_sweep(path)


# ----------------------------------------------------------------- errors
def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


INVALID = {  # id: (raw sweep, fragments the message must contain)
    "unknown-top-key": (_sweep(grdi={}), ["grdi: unknown key", "did you mean 'grid'?"]),
    "unknown-meta-key": (_sweep({"inner_rl": 0.1}),
                         ["meta.inner_rl: unknown key", "did you mean 'inner_lr'?", "allowed keys"]),
    "string-lr": (_sweep({"inner_lr": "fast"}), ["meta.inner_lr: got 'fast' (str); expected a number"]),
    "float-steps": (_sweep({"steps": 2.5}), ["meta.steps: got 2.5 (float); expected an integer"]),
    "string-bool": (_sweep({"first_order": "yes"}), ["meta.first_order: got 'yes' (str); expected true or false"]),
    "zero-inner-lr": (_sweep({"inner_lr": 0}), ["meta.inner_lr: got 0.0; expected a positive number"]),
    "negative-meta-lr": (_sweep({"meta_lr": -1e-4}), ["meta.meta_lr: got -0.0001; expected a positive number"]),
    "zero-stage1-lr": (_sweep(stage1={"lr": 0}), ["stage1.lr: got 0.0; expected a positive number"]),
    "unknown-support": (_sweep({"support": ["ana", "xx"]}), ["meta.support: unknown language 'xx'", "ana, bel, cor"]),
    "unknown-query": (_sweep({"query": ["yy"]}), ["meta.query: unknown language 'yy'", "ana, bel, cor"]),
    "unknown-eval-target": (_sweep(eval={"targets": ["bel", "zz"]}),
                            ["eval.targets: unknown language 'zz'", "ana, bel, cor"]),
    "unknown-pairs-language": (_sweep(grid={"aux": {"pairs": ["bel", "qq"]}}),
                               ["grid cell {'aux': 'bel→qq'}", "meta.query: unknown language 'qq'"]),
    "empty-aux-list": (_sweep(grid={"aux": []}), ["grid.aux", "empty", "expected at least one"]),
    "aux-product-all-same": (_sweep(grid={"aux": {"product": {"support": ["bel"], "query": ["bel"]}}}),
                             ["grid.aux.product: every support set is its query set (['bel'])",
                              "never pairs with itself"]),
    "aux-unknown-form": (_sweep(grid={"aux": {"triples": ["bel"]}}),
                         ["grid.aux: got keys ['triples']", "'product'", "'pairs'"]),
    "unknown-sampling": (_sweep({"sampling": "walk"}), ["meta.sampling: got 'walk'", "'random'", "'cover'"]),
    "xla-without-query": (_sweep({"query": []}), ["meta.query: empty", "xla-maml needs the query language"]),
    "x-maml-with-query": (_sweep({"algorithm": "x-maml"}), ["meta.query: got ['bel']", "x-maml", "leave query empty"]),
    "parallel-x-maml": (_sweep({"algorithm": "x-maml", "query": [], "parallel": True}),
                        ["meta.parallel", "x-maml", "xla-maml"]),
    "unknown-algorithm": (_sweep({"algorithm": "maml"}), ["meta.algorithm: got 'maml'", "'x-maml', 'xla-maml'"]),
    "grid-unknown-nested-key": (_sweep(grid={"meta.inner_rl": [0.1]}),
                                ["grid.meta.inner_rl: unknown key 'inner_rl'", "did you mean 'inner_lr'?"]),
    "grid-unknown-key": (_sweep(grid={"sed": [0, 1]}), ["grid.sed: unknown key 'sed'", "did you mean 'seed'?"]),
    "grid-empty-list": (_sweep(grid={"seed": []}), ["grid.seed: got []", "expected a non-empty list"]),
    "grid-not-a-list": (_sweep(grid={"seed": 3}), ["grid.seed: got 3", "expected a non-empty list"]),
    "grid-bad-value": (_sweep(grid={"meta.inner_lr": [0.1, -1]}),
                       ["grid cell {'meta.inner_lr': -1}", "meta.inner_lr: got -1.0; expected a positive number"]),
    "no-support": ({"meta": {"query": ["bel"]}}, ["meta.support: empty", "grid.aux"]),
    "not-a-mapping": (["not", "a", "mapping"], ["config: got list; expected a mapping"]),
    "bad-name": ({**_sweep(), "name": "bad name"}, ["name: got 'bad name'"]),
}


@pytest.mark.parametrize(("raw", "fragments"), list(INVALID.values()), ids=list(INVALID))
def test_invalid_config_raises_a_message_naming_key_value_and_expectation(raw: Any, fragments: list[str]) -> None:
    message = _error(raw)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_x_maml_episode_that_does_not_fit_in_the_split_raises() -> None:
    raw = {"meta": {"algorithm": "x-maml", "support": ["bel"], "support_size": 300, "query_size": 300}}
    assert re.search(r"meta.support_size: 600 examples .* 500 examples of the 'dev' split", _error(raw))


# ----------------------------------------------------------------- round trip
def test_to_dict_round_trips_through_parse_trial() -> None:
    raw = _sweep({"adapt": ["classifier"], "inner_lr": 0.05, "first_order": True, "sampling": "cover"},
                 eval={"targets": ["bel", "zul"]}, seed=7, data={"synthetic": {"purity": 0.5}})
    cfg = parse_sweep(raw).trial
    plain = to_dict(cfg)
    assert plain["meta"]["support"] == ["ana"] and plain["eval"]["targets"] == ["bel", "zul"]
    assert parse_trial(plain) == cfg


def test_to_dict_round_trips_every_grid_cell() -> None:
    raw = _sweep(grid={"aux": {"pairs": ["bel", "cor"]}, "meta.first_order": [False, True]})
    for _, cfg in _cells(raw):
        assert parse_trial(to_dict(cfg)) == cfg
