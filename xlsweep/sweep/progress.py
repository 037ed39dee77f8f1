"""A compact progress line for the terminal while a sweep runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray import tune

__all__ = ["ProgressCallback"]


def _label(trial: Any) -> str:
    cfg = trial.config
    rest = " ".join(f"{k}={v}" for k, v in cfg.items() if k != "aux")
    return f"{cfg.get('aux', 'base')} {rest}".strip()


class ProgressCallback(tune.Callback):
    """Prints ``[3/10 done · 2 running · 5 pending] best so far …`` whenever something changes."""

    def __init__(self, total: int, metric: str = "delta_avg", print_fn: Callable[[str], None] = print) -> None:
        self.total, self.metric, self.print = total, metric, print_fn
        self.best: tuple[float, str] | None = None
        self.start = time.monotonic()
        self._seeded = False
        # Our own bookkeeping: Tune calls these hooks before it updates ``trial.status``.
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.failed: set[str] = set()

    def setup(self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None,
              **info: Any) -> None:
        self.start = time.monotonic()  # also when a resumed sweep restores this callback

    def _seed(self, trials: list[Any]) -> None:
        """A resumed sweep: trials that had ended before the interruption count as done (once)."""
        if self._seeded:
            return
        self._seeded = True
        for t in trials:
            if t.status == "TERMINATED":
                self.started.add(t.trial_id)
                self.finished.add(t.trial_id)
            elif t.status == "ERROR":
                self.started.add(t.trial_id)
                self.failed.add(t.trial_id)

    def _status(self, event: str) -> None:
        done = len(self.finished | self.failed)
        running = len(self.started) - done
        pending = self.total - len(self.started)
        best = f"best so far {self.best[1]}: Δavg {100 * self.best[0]:+.1f} pts" if self.best else "no result yet"
        failed = f" · {len(self.failed)} failed" if self.failed else ""
        elapsed = time.monotonic() - self.start
        self.print(f"[{elapsed:5.0f}s] {done}/{self.total} done · {running} running · {pending} pending{failed} "
                   f"| {best} | {event}")

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._seed([t for t in trials if t is not trial])
        self.started.add(trial.trial_id)
        self._status(f"started {_label(trial)}")

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._seed([t for t in trials if t is not trial])
        self.started.add(trial.trial_id)
        self.finished.add(trial.trial_id)
        value = (trial.last_result or {}).get(self.metric)
        if value is not None and (self.best is None or value > self.best[0]):
            self.best = (float(value), _label(trial))
        self._status(f"finished {_label(trial)}")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._seed([t for t in trials if t is not trial])
        self.started.add(trial.trial_id)
        self.failed.add(trial.trial_id)
        self._status(f"FAILED {_label(trial)} (see the summary)")
