"""The pair search in Ray Tune and MLflow: a Tune ``Searcher`` and scheduler around :class:`PairSearch`.

* :class:`PairSearcher` (a Tune ``Searcher``) creates the trials the search asks for: the first
  rung's pairs with the first seed, later the survivors' extra seeds; it returns ``None`` while a
  rung is still running and ``FINISHED`` when the search is over. Its state (the whole
  :class:`~xlsweep.pairsearch.search.PairSearch`) is saved with Tune's experiment state, so a
  resumed sweep continues the search mid-rung.
* :class:`PairScheduler` (a Tune ``TrialScheduler``) feeds every checkpoint's dev scores to the
  search, **pauses** a trial that has reached its rung's meta-step (Tune resumes it later from its
  checkpoint), and when a rung is complete lets the search decide: promoted trials are resumed,
  the others stopped. Each trial's MLflow run gets ``xlsweep.rung`` (the rung and meta-step it
  reached) and, when stopped, ``xlsweep.stopped`` (why); the parent run gets the meta-steps spent
  after every rung (``pair_search/spent_steps``, ``pair_search/compute_fraction``).
* :func:`report_pair_search` reads the finished search back from MLflow — every trial's dev
  history and test deltas — and writes the chosen pair and tied set per target, the compute spent
  vs the full grid and the completed heatmap (CSV and PNG) to the sweep directory and the parent run.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from xlsweep.config import SweepConfig
from xlsweep.pairsearch.completion import complete_grid, write_completed_csv, write_completed_heatmap
from xlsweep.pairsearch.prior import PriorError
from xlsweep.pairsearch.search import PairSearch, SearchResult
from xlsweep.plan.pair_search import build_prior, new_search
from xlsweep.sweep.errors import SweepError
from xlsweep.tracking import PARENT_TAG, TRIAL_TAG, find_trial_run

__all__ = ["PairScheduler", "PairSearcher", "check_prior", "pair_search_components", "report_pair_search"]

Log = Callable[[str], None]


def check_prior(sweep: SweepConfig) -> None:
    """Build the search's prior now (before Ray and MLflow): a language it lacks is one clear error."""
    try:
        build_prior(sweep)
    except PriorError as err:
        raise SweepError(f"pair_search.prior: {err}") from None


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
        self._tag(trial, {"xlsweep.rung": f"{run.rung} (meta-step {step})"})
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
                   f"the {len({r.pair for r in runs})} pairs most likely the best of some target")
            self._tag(trial, {"xlsweep.stopped": why})
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
    def _client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.tracking_uri)

    def _tag(self, trial: Any, tags: dict[str, str]) -> None:
        client = self._client()
        run = find_trial_run(client, self.experiment_id, self.parent_run_id, trial.trial_id)
        if run is not None:
            for key, value in tags.items():
                client.set_tag(run.info.run_id, key, value)

    def _log_parent(self, rung: int) -> None:
        client = self._client()
        sched = self.search.schedule
        client.log_metric(self.parent_run_id, "pair_search/spent_steps", float(self.search.spent), step=rung)
        client.log_metric(self.parent_run_id, "pair_search/compute_fraction", self.search.spent / sched.grid_steps,
                          step=rung)


def pair_search_components(sweep: SweepConfig, *, tracking_uri: str, experiment_id: str,
                           parent_run_id: str) -> tuple[PairSearcher, PairScheduler]:
    """The Tune searcher and scheduler of ``sweep``'s pair search (the prior was checked before Ray started)."""
    search = new_search(sweep, build_prior(sweep))
    searcher = PairSearcher(search, [p.label for p in search.pairs], max_concurrent=sweep.max_concurrent)
    return searcher, PairScheduler(searcher, tracking_uri=tracking_uri, experiment_id=experiment_id,
                                   parent_run_id=parent_run_id)


# --------------------------------------------------------------------- the report
def _from_mlflow(sweep: SweepConfig, tracking_uri: str, parent_run_id: str) -> tuple[PairSearch, dict[int, Any]]:
    """The search's observations read back from MLflow (dev history of every trial), and the test deltas of the
    pairs that finished with every final seed."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    runs = client.search_runs([parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                              max_results=10000)
    search = new_search(sweep, build_prior(sweep))
    labels = [p.label for p in search.pairs]
    finished: dict[int, dict[int, np.ndarray]] = {}
    for run in runs:
        tags = run.data.tags
        if TRIAL_TAG not in tags or tags.get("xlsweep.aux") not in labels:
            continue
        pair, seed = labels.index(tags["xlsweep.aux"]), int(tags["xlsweep.seed"])
        history: dict[int, dict[str, float]] = {}
        for t in search.targets:
            for m in client.get_metric_history(run.info.run_id, f"dev/{t}"):
                history.setdefault(m.step, {})[t] = m.value
        for step in sorted(history):
            if len(history[step]) == len(search.targets):
                search.observe(pair, seed, step, history[step])
        if run.info.status == "FINISHED" and all(f"delta/{t}" in run.data.metrics for t in search.targets):
            finished.setdefault(pair, {})[seed] = np.array([run.data.metrics[f"delta/{t}"] for t in search.targets])
    seeds = search.final_seeds
    full = {p: np.stack([v[s] for s in seeds]) for p, v in finished.items() if set(v) >= set(seeds)}
    return search, full


def report_pair_search(sweep: SweepConfig, *, tracking_uri: str, parent_run_id: str, out_dir: Path,
                       log: Log = print) -> list[Path]:
    """Compute spent vs the grid, the chosen pair and tied set per target, and the completed heatmap.

    Written to ``out_dir`` (``pair_search.md``, ``pair_search_heatmap.{png,csv}``) and to the parent run
    (metrics ``pair_search/*``, tags ``xlsweep.pair_search.best.<target>`` and ``.tied.<target>``, artifacts).
    """
    from mlflow.tracking import MlflowClient

    from xlsweep.tracking import log_artifact

    search, full = _from_mlflow(sweep, tracking_uri, parent_run_id)
    result = search.result()
    lines = _summary(search, result)
    paths = [out_dir / "pair_search.md"]
    paths[0].write_text("\n".join(lines) + "\n")
    if full:
        partial = [(p, search.checkpoints.index(step), v) for (p, _, step), v in search.obs.items()]
        grid = complete_grid(search.pairs, search.targets, full, prior=search.prior, source=search.source,
                             partial=partial, dev_levels=len(search.checkpoints))
        paths.append(write_completed_csv(grid, out_dir / "pair_search_heatmap.csv"))
        paths.append(write_completed_heatmap(grid, out_dir / "pair_search_heatmap.png", title=(
            f"{sweep.name}: Δ test {sweep.trial.data.task} vs stage 1; {len(full)} of {len(search.pairs)} pairs run "
            f"to full length, {result.fraction:.0%} of the grid's compute")))
    client = MlflowClient(tracking_uri)
    last = len(search.schedule.rungs) - 1  # the scheduler logged spent_steps and compute_fraction after each rung
    logged = {m.step for m in client.get_metric_history(parent_run_id, "pair_search/spent_steps")}
    values = {"grid_steps": result.grid_steps} | ({} if last in logged else {
        "spent_steps": result.spent, "compute_fraction": result.fraction})
    for key, value in values.items():
        client.log_metric(parent_run_id, f"pair_search/{key}", float(value), step=last)
    labels = [p.label for p in search.pairs]
    for target in search.targets:
        client.set_tag(parent_run_id, f"xlsweep.pair_search.best.{target}", labels[result.ranking[target][0]])
        client.set_tag(parent_run_id, f"xlsweep.pair_search.tied.{target}",
                       ", ".join(labels[p] for p in result.tied[target]) or "-")
    for path in paths:
        log_artifact(client, tracking_uri, parent_run_id, path)
    log("")
    for line in lines:
        log(line)
    return paths


def _seeds_phrase(search: PairSearch) -> str:
    n, of = len(search.final_seeds), len(search.seeds)
    return f"all {of} seeds" if n == of else f"{n} of the grid's {of} seeds (pair_search.final_seeds)"


def _summary(search: PairSearch, result: SearchResult) -> list[str]:
    labels = [p.label for p in search.pairs]
    sched = search.schedule
    lines = [f"pair search: {result.spent} of {result.grid_steps} meta-steps of the full grid "
             f"({result.fraction:.1%}; budget {sched.total}), {len(result.full)} of {len(labels)} pairs run to full "
             f"length with {_seeds_phrase(search)}", "",
             "| target | best (predicted final dev) | tied with the best of the pairs run to full length | next |",
             "|---|---|---|---|"]
    for k, target in enumerate(search.targets):
        ranking = result.ranking[target]
        best = ranking[0]
        sd = math.sqrt(result.var[best, k])
        nxt = ", ".join(labels[p] for p in ranking[1:3])
        tied = ", ".join(labels[p] for p in result.tied[target]) or "-"
        lines.append(f"| {target} | {labels[best]} ({100 * result.mean[best, k]:.1f} ± {100 * sd:.1f}) | {tied} | "
                     f"{nxt} |")
    return lines

