"""Smoke test of ``scripts/bench_step.py``: tiny sizes, the JSON line's ratios are there and sensible."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_step.py"
KEYS = ("so_vs_plain", "fo_vs_plain", "higher_vs_func_so", "metaxl_vs_plain")
TINY = ["--hidden", "32", "--layers", "2", "--vocab", "500", "--small-vocab", "200", "--length", "16",
        "--repeats", "2", "--warmup", "1", "--device", "cpu", "--json"]


def _script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_step", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_step", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_bench_step_prints_the_ratios_as_its_last_line(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    script, threads = _script(monkeypatch), torch.get_num_threads()
    with torch.random.fork_rng():
        # One thread: a second one only oversubscribes a busy CI machine.
        assert script.main([*TINY, "--threads", "1"]) == 0
    assert torch.get_num_threads() == threads  # main restores what it changed
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("vocab 500:") for line in lines) and any(line.startswith("vocab 200:") for line in lines)
    result = json.loads(lines[-1])
    for ratios in (result, result["small_vocab"]):
        for key in KEYS:
            assert isinstance(ratios[key], float) and math.isfinite(ratios[key]) and ratios[key] > 0, (key, ratios)
    assert set(result["steps"]) == {"plain", "so_func", "fo_func", "so_higher", "metaxl", "plain_ckpt", "so_func_top"}
    for option in ("ckpt_vs_plain", "top_vs_so"):  # the memory options, measured next to the steps they change
        measured = result["memory_options"][option]
        assert measured["time"] > 0 and measured["peak_memory"] > 0
    assert all(len(s["times_ms"]) == 2 for s in result["steps"].values())
    assert result["threads"] == 1 and result["torch"] == torch.__version__
