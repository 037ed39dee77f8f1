"""A finished pair search read back from MLflow and reported: the chosen pair and tied set per target, the compute
spent vs the full grid, and the completed heatmap (CSV and PNG), to the sweep directory and the parent run.

Every trial's dev history and test deltas are read through :class:`~xlsweep.tracking.runs.SweepRun`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xlsweep.config import SweepConfig
from xlsweep.pairsearch.completion import complete_grid, write_completed_csv, write_completed_heatmap
from xlsweep.pairsearch.search import PairSearch, SearchResult
from xlsweep.plan.pair_search import build_prior, new_search, search_setup
from xlsweep.sweep.pair_evidence import load_evidence, trial_scores
from xlsweep.tracking import SweepRun
from xlsweep.tracking.tags import AUX_TAG, BEST_PAIR_TAG, SEARCH_METRIC, TIED_PAIRS_TAG, TRIAL_TAG

__all__ = ["report_pair_search"]

Log = Callable[[str], None]


def _from_mlflow(sweep: SweepConfig, tracking_uri: str, parent_run_id: str,
                 out_dir: Path) -> tuple[PairSearch, dict[int, Any]]:
    """The search's observations read back from MLflow (dev history of every trial, and the evidence it recalled
    from earlier sweeps, kept in ``out_dir``), and the test deltas of the pairs that finished with every final
    seed."""
    parent = SweepRun.attach(tracking_uri, parent_run_id)
    recalled = load_evidence(out_dir)
    setup = search_setup(sweep)
    search = new_search(sweep, build_prior(sweep), recalled.evidence(setup) if recalled else None)
    labels = [p.label for p in search.pairs]
    finished: dict[int, dict[int, np.ndarray]] = recalled.deltas(setup) if recalled else {}
    for run in parent.children():
        if TRIAL_TAG not in run.data.tags or run.data.tags.get(AUX_TAG) not in labels:
            continue
        trial = trial_scores(run, search.targets, lambda run_id, key: parent.history(key, run_id))
        pair, seed = labels.index(trial["aux"]), trial["seed"]
        for step, scores in sorted(trial["dev"].items()):
            if len(scores) == len(search.targets):
                search.observe(pair, seed, step, scores)
        if len(trial["delta"]) == len(search.targets):
            finished.setdefault(pair, {})[seed] = np.array([trial["delta"][t] for t in search.targets])
    seeds = search.final_seeds
    full = {p: np.stack([v[s] for s in seeds]) for p, v in finished.items() if set(v) >= set(seeds)}
    return search, full


def report_pair_search(sweep: SweepConfig, *, tracking_uri: str, parent_run_id: str, out_dir: Path,
                       log: Log = print) -> list[Path]:
    """Compute spent vs the grid, the chosen pair and tied set per target, and the completed heatmap.

    Written to ``out_dir`` (``pair_search.md``, ``pair_search_heatmap.{png,csv}``) and to the parent run
    (metrics ``pair_search/*``, tags ``xlsweep.pair_search.best.<target>`` and ``.tied.<target>``, artifacts).
    """
    search, full = _from_mlflow(sweep, tracking_uri, parent_run_id, out_dir)
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
    parent = SweepRun.attach(tracking_uri, parent_run_id)
    last = len(search.schedule.rungs) - 1  # the scheduler logged spent_steps and compute_fraction after each rung
    logged = {step for step, _ in parent.history(f"{SEARCH_METRIC}spent_steps")}
    values = {"grid_steps": result.grid_steps} | ({} if last in logged else {
        "spent_steps": result.spent, "compute_fraction": result.fraction})
    for key, value in values.items():
        parent.log_metric(f"{SEARCH_METRIC}{key}", value, step=last)
    labels = [p.label for p in search.pairs]
    for target in search.targets:
        parent.set_tags({f"{BEST_PAIR_TAG}{target}": labels[result.ranking[target][0]],
                         f"{TIED_PAIRS_TAG}{target}": ", ".join(labels[p] for p in result.tied[target]) or "-"})
    parent.log_artifacts(paths)
    log("")
    for line in lines:
        log(line)
    return paths


def _seeds_phrase(search: PairSearch) -> str:
    n, of = len(search.final_seeds), len(search.seeds)
    phrase = f"all {of} seeds" if n == of else f"{n} of the grid's {of} seeds (pair_search.final_seeds)"
    return phrase + (f"; {len(search.done)} of them recalled from earlier sweeps" if search.done else "")


def _summary(search: PairSearch, result: SearchResult) -> list[str]:
    labels = [p.label for p in search.pairs]
    sched = search.schedule
    lines = [f"pair search: {result.spent} of {result.grid_steps} meta-steps of the full grid "
             f"({result.fraction:.1%}; budget {sched.total}), {len(result.full)} of {len(labels)} pairs run to full "
             f"length with {_seeds_phrase(search)}", "",
             "| target | best (final dev: observed at full length, else predicted ± sd) | tied with the best of the "
             "pairs run to full length | next |",
             "|---|---|---|---|"]
    value = search.rank_values(result.mean, result.var, result.full)
    for k, target in enumerate(search.targets):
        ranking = result.ranking[target]
        best = ranking[0]
        score = f"{100 * value[best, k]:.1f}" if best in result.full else \
            f"{100 * result.mean[best, k]:.1f} ± {100 * math.sqrt(result.var[best, k]):.1f}"
        nxt = ", ".join(labels[p] for p in ranking[1:3])
        tied = ", ".join(labels[p] for p in result.tied[target]) or "-"
        lines.append(f"| {target} | {labels[best]} ({score}) | {tied} | {nxt} |")
    if len(search.final_seeds) == 1:
        lines += ["", "(one seed per pair run to full length: no paired test can tell them apart, so every such pair "
                  "counts as tied; give the survivors more seeds with pair_search.final_seeds or a larger budget)"]
    return lines

