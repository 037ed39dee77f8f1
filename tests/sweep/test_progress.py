"""The progress line counts right, also for a resumed sweep whose first session finished some trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlsweep.sweep.progress import ProgressCallback


@dataclass
class FakeTrial:
    trial_id: str
    status: str = "PENDING"
    config: dict[str, Any] = field(default_factory=dict)
    last_result: dict[str, Any] = field(default_factory=dict)


def test_counts_of_a_fresh_sweep() -> None:
    lines: list[str] = []
    progress = ProgressCallback(total=2, print_fn=lines.append)
    a, b = FakeTrial("a", config={"aux": "ana→bel"}), FakeTrial("b", config={"aux": "ana→zul"})
    progress.on_trial_start(0, [a, b], a)
    assert "0/2 done · 1 running · 1 pending" in lines[-1] and "started ana→bel" in lines[-1]
    a.last_result = {"delta_avg": 0.05}
    progress.on_trial_complete(1, [a, b], a)
    assert "1/2 done · 0 running · 1 pending" in lines[-1] and "Δavg +5.0 pts" in lines[-1]
    progress.on_trial_error(2, [a, b], b)
    assert "2/2 done · 0 running · 0 pending · 1 failed" in lines[-1]


def test_a_resumed_sweep_counts_the_trials_its_first_session_ended() -> None:
    lines: list[str] = []
    progress = ProgressCallback(total=3, print_fn=lines.append)
    done, failed, running = FakeTrial("a", "TERMINATED"), FakeTrial("b", "ERROR"), FakeTrial("c")
    progress.setup()
    progress.on_trial_start(0, [done, failed, running], running)
    assert "2/3 done · 1 running · 0 pending · 1 failed" in lines[-1]
