"""The pair search in Ray Tune: a Tune ``Searcher`` and scheduler around :class:`PairSearch`.

* :class:`PairSearcher` (a Tune ``Searcher``) creates the trials the search asks for: the first
  rung's pairs with the first seed, later the survivors' extra seeds; it returns ``None`` while a
  rung is still running and ``FINISHED`` when the search is over. Its state (the whole
  :class:`~xlsweep.pairsearch.search.PairSearch`) is saved with Tune's experiment state, so a
  resumed sweep continues the search mid-rung.
* :class:`PairScheduler` (a Tune ``TrialScheduler``) feeds every checkpoint's dev scores to the
  search, **pauses** a trial that has reached its rung's meta-step (Tune resumes it later from its
  checkpoint), and when a rung is complete lets the search decide: promoted trials are resumed,
  the others stopped. Each trial's MLflow run gets a rung tag (the rung and meta-step it reached)
  and, when stopped, a stopped tag (why); the parent run gets the meta-steps spent after every rung
  (``pair_search/spent_steps``, ``pair_search/compute_fraction``), through :mod:`xlsweep.tracking`.

:mod:`xlsweep.sweep.pair_report` reads the finished search back and reports it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from xlsweep.config import SweepConfig
from xlsweep.pairsearch.search import PairSearch
from xlsweep.plan.pair_search import build_prior, new_search, search_setup
from xlsweep.sweep.pair_evidence import Recalled
from xlsweep.tracking.runs import log_parent_metric, tag_trial_run
from xlsweep.tracking.tags import RUNG_TAG, SEARCH_METRIC, STOPPED_TAG

__all__ = ["PairScheduler", "PairSearcher", "pair_search_components"]


class PairSearcher(Searcher):  # type: ignore[misc]
    """Tune's source of trials: one per (pair, seed) run the search starts from scratch."""

    def __init__(self, search: PairSearch, labels: list[str], *, max_concurrent: int = 0) -> None:
        super().__init__()  # Tune sets metric and mode (search.metric: dev_avg, max)
        self.search, self.labels, self.max_concurrent = search, labels, max_concurrent
        self.trials: dict[str, tuple[int, int]] = {}  # Tune trial id -> (pair, seed)
        self.busy: Callable[[], int] = lambda: 0  # trials running or about to (set by the scheduler)

    def key(self, trial_id: str, config: dict[str, Any]) -> tuple[int, int]:
        if trial_id not in self.trials:  # a trial Tune restored: its config says which run it is
            self.trials[trial_id] = (self.labels.index(config["aux"]), int(config["seed"]))
        return self.trials[trial_id]

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.search.finished:
            return Searcher.FINISHED  # type: ignore[return-value]  # Tune's "no more trials" (a str)
        if self.max_concurrent and self.busy() >= self.max_concurrent:
            return None  # (Tune's own limit would count paused trials as running, and wait for them forever)
        started = set(self.trials.values())
        for run in self.search.pending():
            if run.start == 0 and (run.pair, run.seed) not in started:
                self.trials[trial_id] = (run.pair, run.seed)
                return {"aux": self.labels[run.pair], "seed": run.seed}
        return None  # the rest of the rung is paused or running: wait for its decision

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        pass  # the scheduler sees every result first and tells the search

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump({"search": self.search, "labels": self.labels, "trials": self.trials}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)  # noqa: S301 - our own file in the sweep's Tune directory
        self.search, self.labels, self.trials = state["search"], state["labels"], state["trials"]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "busy"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, busy=lambda: 0)


class PairScheduler(FIFOScheduler):  # type: ignore[misc]
    """Pauses trials at their rung's meta-step, and resumes or stops them as the search decides."""

    def __init__(self, searcher: PairSearcher, *, tracking_uri: str, experiment_id: str, parent_run_id: str) -> None:
        super().__init__()
        self.searcher = searcher
        self.tracking_uri, self.experiment_id, self.parent_run_id = tracking_uri, experiment_id, parent_run_id
        self._controller: Any = None

    def _busy(self) -> int:
        if self._controller is None:
            return 0
        return sum(t.status in ("PENDING", "RUNNING") for t in self._controller.get_trials())

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._controller = tune_controller
        self.searcher.busy = self._busy
        if trial.trial_id not in self.searcher.trials and "aux" not in trial.config:
            return
        pair, seed = self.searcher.key(trial.trial_id, trial.config)
        if trial.status == "PENDING" and self.searcher.search.reached.get((pair, seed), 0) > 0 and \
                (pair, seed) not in {(r.pair, r.seed) for r in self.search.pending()}:
            trial.set_status("PAUSED")  # a paused trial Tune restored as pending: it waits for its rung's decision

    @property
    def search(self) -> PairSearch:
        return self.searcher.search  # the searcher's, also after Tune restored it

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if "delta_avg" in result or "failure" in result or "meta_step" not in result:
            return str(TrialScheduler.CONTINUE)  # the trial's last report (test scores), or its failure
        pair, seed = self.searcher.key(trial.trial_id, trial.config)
        step = int(result["meta_step"])
        scores = {t: result[f"dev/{t}"] for t in self.search.targets if f"dev/{t}" in result}
        if len(scores) == len(self.search.targets):
            self.search.observe(pair, seed, step, scores)
        run = self.search.current_run(pair, seed)
        if run is None or step < run.stop:
            return str(TrialScheduler.CONTINUE)
        self._tag(trial, {RUNG_TAG: f"{run.rung} (meta-step {step})"})
        decision = str(TrialScheduler.CONTINUE if run.stop >= self.search.steps else TrialScheduler.PAUSE)
        if not self.search.pending():
            decision = self._close_rung(tune_controller, trial, decision)
        return decision

    def _close_rung(self, tune_controller: Any, current: Any, decision: str) -> str:
        """The rung is complete: let the search promote; stop the trials it did not keep."""
        rung = self.search.rung
        resource = self.search.schedule.rungs[rung].resource
        kept_before = set(self.search.alive)
        runs = self.search.advance()
        self._log_parent(rung)
        keep = {(r.pair, r.seed) for r in runs}
        for trial in [t for t in tune_controller.get_trials() if t.trial_id in self.searcher.trials]:
            pair, seed = self.searcher.trials[trial.trial_id]
            if (pair, seed) in keep or trial.status in ("TERMINATED", "ERROR"):
                continue
            if pair in kept_before and resource >= self.search.steps:
                continue  # a finished survivor: it is completing its evaluation
            why = (f"pair search: rung {rung} ended at meta-step {resource}; {self.searcher.labels[pair]} is not among "
                   f"the {len({r.pair for r in runs})} pairs kept (each target's most promising in turn)")
            self._tag(trial, {STOPPED_TAG: why})
            if trial is current:
                decision = str(TrialScheduler.STOP)
            elif trial.status == "PAUSED":
                tune_controller.stop_trial(trial)
        if current.trial_id in self.searcher.trials and self.searcher.trials[current.trial_id] in keep:
            decision = str(TrialScheduler.CONTINUE)
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self._drop_if_short(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._drop_if_short(tune_controller, trial)

    def _drop_if_short(self, tune_controller: Any, trial: Any) -> None:
        """A trial that ended before its rung's meta-step (diverged, or failed for good) leaves the race."""
        if trial.trial_id not in self.searcher.trials:
            return
        pair, seed = self.searcher.trials[trial.trial_id]
        if any((r.pair, r.seed) == (pair, seed) for r in self.search.pending()):
            self.search.drop(pair, seed)
            if not self.search.pending() and not self.search.finished:
                self._close_rung(tune_controller, trial, str(TrialScheduler.STOP))

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        self._controller = tune_controller
        waiting = {(r.pair, r.seed) for r in self.search.pending()}
        for trial in tune_controller.get_trials():
            if trial.status == "PENDING":
                return trial
        if self.searcher.max_concurrent and self._busy() >= self.searcher.max_concurrent:
            return None
        for trial in tune_controller.get_trials():
            if trial.status == "PAUSED" and self.searcher.trials.get(trial.trial_id) in waiting:
                return trial
        return None

    def debug_string(self) -> str:
        return f"pair search: rung {self.search.rung}, {self.search.spent} meta-steps spent"

    # ----------------------------------------------------------------- MLflow
    def _tag(self, trial: Any, tags: dict[str, str]) -> None:
        tag_trial_run(self.tracking_uri, self.experiment_id, self.parent_run_id, trial.trial_id, tags)

    def _log_parent(self, rung: int) -> None:
        sched = self.search.schedule
        for key, value in (("spent_steps", self.search.spent), ("compute_fraction",
                                                                 self.search.spent / sched.grid_steps)):
            log_parent_metric(self.tracking_uri, self.parent_run_id, f"{SEARCH_METRIC}{key}", value, step=rung)


def pair_search_components(sweep: SweepConfig, *, tracking_uri: str, experiment_id: str, parent_run_id: str,
                           recalled: Recalled | None = None) -> tuple[PairSearcher, PairScheduler]:
    """The Tune searcher and scheduler of ``sweep``'s pair search (the prior was checked before Ray started),
    starting from what earlier sweeps ran on its cells (``recalled``)."""
    evidence = recalled.evidence(search_setup(sweep)) if recalled else None
    search = new_search(sweep, build_prior(sweep), evidence)
    searcher = PairSearcher(search, [p.label for p in search.pairs], max_concurrent=sweep.max_concurrent)
    return searcher, PairScheduler(searcher, tracking_uri=tracking_uri, experiment_id=experiment_id,
                                   parent_run_id=parent_run_id)
