"""The method registry: one declaration per method, found by its module; lengths known before a model is built."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from xlsweep.config import ConfigError
from xlsweep.config.schema import MetaConfig, TrialConfig
from xlsweep.methods import all_methods, method, method_names, prepared_rows
from xlsweep.plan import validate_trial
from xlsweep.trial import build_learner

PAPERS = ("x-maml", "xla-maml", "reptile", "target-only", "jt", "jt-rtn", "metaxl")


def test_every_method_is_declared_once_in_report_order() -> None:
    assert method_names() == PAPERS  # found in xlsweep/methods/*.py, episode methods first, MetaXL's baselines first
    assert MetaConfig().algorithm in method_names()
    assert {m.family for m in all_methods()} == {"episodes", "transfer"}
    assert [m.name for m in all_methods() if m.target_inner is not None] == ["xla-maml", "reptile"]
    assert [m.name for m in all_methods() if m.uses_rtn] == ["jt-rtn", "metaxl"]


def test_the_method_modules_import_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys, xlsweep.methods, xlsweep.plan; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_an_unknown_method_is_one_error_naming_the_known_ones() -> None:
    cfg = TrialConfig(meta=MetaConfig(algorithm="maml", support=("ana",), query=("bel",)))
    with pytest.raises(ConfigError, match=r"meta.algorithm: got 'maml'; expected one of 'x-maml', 'xla-maml', "
                                          r"'reptile', 'target-only', 'jt', 'jt-rtn', 'metaxl'"):
        validate_trial(cfg)
    with pytest.raises(KeyError, match="unknown method 'maml'"):
        method("maml")


def _transfer(cfg: TrialConfig, name: str, **metaxl: Any) -> TrialConfig:
    meta = dataclasses.replace(cfg.meta, algorithm=name, support=("ana",) if name != "target-only" else (),
                               query=("zul",), split="train", steps=3)
    settings = {"epochs": 2, "source_size": 45, "target_size": 13, "source_batch": 8, "target_batch": 4,
                "rtn_layers": (1,), "bottleneck": 16, **metaxl}
    out = dataclasses.replace(cfg, meta=meta, metaxl=dataclasses.replace(cfg.metaxl, **settings))
    validate_trial(out)
    return out


@pytest.mark.parametrize(("name", "metaxl"), [
    ("metaxl", {}), ("metaxl", {"backoff_epochs": 1}), ("metaxl", {"source_size": 0}), ("jt", {}),
    ("jt", {"jt_batches": "pooled"}), ("jt-rtn", {"jt_batches": "pooled", "epochs": 3}), ("target-only", {}),
    ("target-only", {"target_size": 0, "epochs": 1})])
def test_a_transfer_methods_length_from_config_and_sizes_is_its_learners(prepared_smoke, name: str,  # type: ignore[no-untyped-def]
                                                                        metaxl: dict[str, Any]) -> None:
    base, prepared, _ = prepared_smoke
    cfg = _transfer(base, name, **metaxl)
    planned = method(name).total_steps(cfg, prepared_rows(prepared))
    assert planned == build_learner(cfg, prepared).total_steps
    assert planned != cfg.meta.steps  # what the sweep took for every trial's length before


@pytest.mark.parametrize("name", ["x-maml", "xla-maml", "reptile"])
def test_an_episode_methods_length_is_meta_steps(prepared_smoke, name: str) -> None:  # type: ignore[no-untyped-def]
    base, prepared, _ = prepared_smoke
    query = () if name == "x-maml" else ("bel",)
    cfg = dataclasses.replace(base, meta=dataclasses.replace(base.meta, algorithm=name, support=("ana",),
                                                              query=query, steps=7))
    validate_trial(cfg)
    learner = build_learner(cfg, prepared)
    assert method(name).total_steps(cfg, prepared_rows(prepared)) == learner.total_steps == 7
