"""scripts/bench_sweep.py runs end to end (a real Ray + MLflow sweep of 2 short trials) and ends with its JSON line."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_sweep.py"
KEYS = ("overhead_fraction", "overhead_per_trial_s", "loop_trial_s", "sweep_wall_s", "loop_wall_s", "trials",
        "fraction_of_measured_trial")


@pytest.mark.ray
@pytest.mark.slow
def test_bench_sweep_reports_finite_overhead(prepared_smoke, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_sweep", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    _, _, cache = prepared_smoke  # the session's smoke stage 1: the benchmark only warms it

    assert bench.main(["--trials", "2", "--steps", "2", "--json", "--cache-dir", str(cache)]) == 0

    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert set(KEYS) <= set(result)
    assert all(math.isfinite(result[k]) for k in KEYS)
    assert result["trials"] == 2 and result["loop_trial_s"] > 0
    assert result["overhead_fraction"] == pytest.approx(result["overhead_per_trial_s"] / 60)
    assert "same results on both sides: yes" in "\n".join(out)  # both sides ran the same trials
