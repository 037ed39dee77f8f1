"""What a user can get wrong in a config, refused by validation (issue 12, points 3 and 9; issue 13's MLQA codes)."""

from __future__ import annotations

from typing import Any

import pytest

from xlsweep.config import ConfigError
from xlsweep.plan import expand_grid, parse_sweep

XLA = {"support": ["ana"], "query": ["bel"]}


def _sweep(meta: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    return {"name": "t", "meta": {**XLA, **(meta or {})}, **sections}


def _error(raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_sweep(raw)
    return str(info.value)


# ----------------------------------------------------------------- repeated grid values (point 3)
REPEATS = {  # id: (grid, fragments of the one error)
    "seed": ({"seed": [0, 0]}, ["grid.seed: 0 appears more than once", "sweep grid.seed"]),
    "float-spellings": ({"meta.inner_lr": [0.001, 1.0e-3]}, ["grid.meta.inner_lr: 0.001 appears more than once",
                                                            "0.001 and 1.0e-3 are one value"]),
    "int-and-float": ({"meta.meta_lr": [1, 1.0]}, ["grid.meta.meta_lr: 1.0 appears"]),
    "equal-lists": ({"eval.targets": [["bel", "cor"], ["bel", "cor"]]}, ["grid.eval.targets: ('bel', 'cor') appears"]),
    "list-and-scalar": ({"eval.targets": [["bel"], "bel"]}, ["grid.eval.targets: ('bel',) appears"]),
    "dicts-in-any-order": ({"data.limits": [{"*.dev": 10, "ana.train": 5}, {"ana.train": 5, "*.dev": 10}]},
                           ["grid.data.limits:", "appears more than once"]),
    "aux-list": ({"aux": [XLA, {"support": "ana", "query": ["bel"]}]}, ["grid.aux: 'ana→bel' appears"]),
    "aux-list-set-order": ({"aux": [{"support": ["ana", "cor"], "query": ["bel"]},
                                    {"support": ["cor", "ana"], "query": ["bel"]}]}, ["grid.aux: 'ana+cor→bel'"]),
    "aux-product-support": ({"aux": {"product": {"support": ["ana", "ana"], "query": ["bel"]}}},
                            ["grid.aux.product.support: ['ana'] appears more than once"]),
    "aux-product-query": ({"aux": {"product": {"support": ["ana"], "query": ["bel", "cor", "bel"]}}},
                          ["grid.aux.product.query: ['bel'] appears"]),
    "aux-pairs": ({"aux": {"pairs": ["bel", "bel"]}}, ["grid.aux.pairs: 'bel' appears more than once"]),
    "aux-pairs-three": ({"aux": {"pairs": ["bel", "cor", "bel"]}}, ["grid.aux.pairs: 'bel' appears"]),
}


@pytest.mark.parametrize("case", REPEATS, ids=list(REPEATS))
def test_a_repeated_grid_value_is_refused_after_type_normalisation(case: str) -> None:
    grid, fragments = REPEATS[case]
    message = _error(_sweep(grid=grid))
    for fragment in fragments:
        assert fragment in message, message


def test_two_axes_that_resolve_to_one_trial_are_refused() -> None:
    # each axis has distinct values, but a whole-section axis and a key inside it make equal cells
    message = _error(_sweep(grid={"stage1": [{"lr": 0.01}, {"lr": 0.02}], "stage1.lr": [0.01, 0.02]}))
    assert message.startswith("grid: cells") and "resolve to the same trial" in message


def test_a_self_pair_is_refused_in_every_form() -> None:
    assert "grid.aux[0]: support and query are both ['bel']" in _error(
        _sweep(grid={"aux": [{"support": ["bel"], "query": ["bel"]}]}))
    assert "grid.aux[1]: support and query are both ['bel', 'cor']" in _error(
        _sweep(grid={"aux": [XLA, {"support": ["bel", "cor"], "query": ["cor", "bel"]}]}))
    assert "meta.query: support and query are both ['bel']; xla-maml" in _error(
        _sweep({"support": ["bel"], "query": ["bel"]}))


def test_product_and_pairs_still_skip_self_pairs() -> None:
    cells = expand_grid(parse_sweep(_sweep(grid={"aux": {"product": {"support": ["ana", "bel"],
                                                                      "query": ["ana", "bel"]}}})))
    assert [c["aux"] for c, _ in cells] == ["ana→bel", "bel→ana"]


@pytest.mark.parametrize("key", ["meta.support", "meta.query", "meta"])
def test_support_and_query_can_only_be_swept_through_grid_aux(key: str) -> None:
    message = _error(_sweep(grid={key: [["bel"], ["cor"]]}))
    assert message.startswith(f"grid.{key}: the support and query languages are swept with grid.aux")
    message = _error(_sweep(grid={"seed": [0, 1]}, search={"space": {key: {"choice": [["bel"], ["cor"]]}},
                                                         "metric": "dev_avg"}))
    assert f"search.space.{key}" in message


def test_repeated_search_choices_are_refused() -> None:
    search = {"space": {"meta.inner_lr": {"choice": [0.001, 1e-3]}}, "metric": "dev_avg"}
    assert "search.space.meta.inner_lr.choice: 0.001 appears more than once" in _error(_sweep(search=search))


def test_random_samples_are_distinct_and_too_many_for_the_choices_are_refused() -> None:
    search = {"space": {"meta.inner_lr": {"choice": [0.001, 0.01]}, "meta.meta_lr": {"choice": [1e-4, 1e-5]}},
              "metric": "dev_avg", "num_samples": 4}
    cells = expand_grid(parse_sweep(_sweep(search=search)))
    points = {(c["meta.inner_lr"], c["meta.meta_lr"]) for c, _ in cells}
    assert len(points) == 4  # all four combinations, each once
    message = _error(_sweep(search={**search, "num_samples": 5}))
    assert message.startswith("search.num_samples: got 5, but search.space has only 4 distinct combinations")


def test_too_many_trials_are_refused_before_any_is_built() -> None:
    message = _error(_sweep(grid={"seed": list(range(200)), "meta.steps": list(range(1, 101))}))
    assert message.startswith("grid: 20,000 grid cells make 20,000 trials; expected at most 10,000 per sweep")
    search = {"space": {"meta.meta_lr": {"loguniform": [1e-5, 1e-3]}}, "metric": "dev_avg",
              "num_samples": 10**9}
    message = _error(_sweep(search=search))
    assert "1 grid cells × 1,000,000,000 search samples make 1,000,000,000 trials" in message


# ----------------------------------------------------------------- values validation missed (point 9)
@pytest.mark.parametrize(("section", "key", "value"), [
    ("meta", "inner_lr", float("nan")), ("meta", "meta_lr", float("inf")), ("meta", "weight_decay", float("nan")),
    ("meta", "warmup_ratio", float("nan")), ("stage1", "lr", float("inf")), ("stage1", "weight_decay", float("inf")),
    ("stage1", "warmup_ratio", float("-inf")), ("metaxl", "rtn_lr", float("nan")),
    ("metaxl", "max_grad_norm", float("inf")), ("data", "synthetic", {"purity": float("nan")}),
    ("eval", "few_shot", {"lr": float("nan")}), ("resources", "cpu", float("nan")),
])
def test_a_float_setting_must_be_finite(section: str, key: str, value: Any) -> None:
    raw = _sweep()
    raw[section] = {**raw.get(section, {}), key: value}
    message = _error(raw)
    assert "expected a finite number" in message and (f"{section}.{key}" in message)


def test_a_non_finite_grid_value_is_refused() -> None:
    assert "grid.meta.inner_lr: got nan; expected a finite number" in _error(
        _sweep(grid={"meta.inner_lr": [0.1, float("nan")]}))


@pytest.mark.parametrize("path", ["seed", "stage1.seed", "data.limit_seed", "data.synthetic.seed", "model.tiny.seed",
                                  "search.seed", "grid.seed"])
@pytest.mark.parametrize("value", [2**32, -1, 10**30])
def test_a_seed_must_fit_every_random_generator(path: str, value: int) -> None:
    raw = _sweep()
    if path == "grid.seed":
        raw["grid"] = {"seed": [0, value]}
    else:
        *sections, key = path.split(".")
        node = raw
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = value
    assert f"{path}: got {value}; expected a seed from 0 to 2**32 - 1 (4294967295)" in _error(raw)


def test_the_largest_seed_is_accepted() -> None:
    assert parse_sweep(_sweep(seed=2**32 - 1, stage1={"seed": 0})).trial.seed == 2**32 - 1


def test_tiny_encoder_heads_must_divide_its_width() -> None:
    message = _error(_sweep(model={"tiny": {"hidden_size": 128, "num_heads": 3}}))
    assert message == ("model.tiny.num_heads: got 3; expected a divisor of model.tiny.hidden_size (128), "
                       "e.g. 2, 4, 8")
    assert "model.tiny.num_layers: got 0; expected a positive number" in _error(
        _sweep(model={"tiny": {"num_layers": 0}}))


@pytest.mark.parametrize("words", [0, 3, -2])
def test_words_per_pool_below_the_benchmark_minimum_is_refused(words: int) -> None:
    message = _error(_sweep(data={"synthetic": {"words_per_pool": words}}))
    assert message.startswith("data.synthetic: words_per_pool must be at least 4")


# ----------------------------------------------------------------- MLQA language codes (issue 13)
QA_CUSTOM = {"task": "qa", "doc_stride": 24, "benchmark": "custom", "source": "en",
             "languages": ["en", "de", "ru", "th"], "sources": {"*": "data/{lang}.{split}.json"}}
QA_META = {"support": ["en"], "query": ["de"]}


def test_qa_on_a_language_the_official_normaliser_does_not_know_is_refused() -> None:
    message = _error(_sweep(QA_META, data=QA_CUSTOM))
    assert "data.languages: ['ru', 'th'] are not languages MLQA's official answer normalisation knows" in message
    assert "data.qa_whitespace_languages: ['ru', 'th']" in message


def test_declared_whitespace_languages_are_accepted_and_checked() -> None:
    sweep = parse_sweep(_sweep(QA_META, data={**QA_CUSTOM, "qa_whitespace_languages": ["ru", "th"]}))
    assert sweep.trial.data.qa_whitespace_languages == ("ru", "th")
    assert "data.qa_whitespace_languages: ['de'] are normalised as MLQA's official script does" in _error(
        _sweep(QA_META, data={**QA_CUSTOM, "qa_whitespace_languages": ["ru", "th", "de"]}))
    assert "data.qa_whitespace_languages: unknown language 'fr'" in _error(
        _sweep(QA_META, data={**QA_CUSTOM, "qa_whitespace_languages": ["ru", "th", "fr"]}))
    assert "only applies to qa" in _error(_sweep(QA_META, data={**QA_CUSTOM, "task": "nli",
                                                                "qa_whitespace_languages": ["ru"]}))


def test_the_synthetic_benchmark_keeps_its_invented_languages_for_qa() -> None:
    assert parse_sweep(_sweep(data={"task": "qa", "doc_stride": 24})).trial.data.task == "qa"
    assert "the synthetic benchmark has its own languages" in _error(
        _sweep(data={"task": "qa", "doc_stride": 24, "qa_whitespace_languages": ["ana"]}))
