"""From a sweep config's ``pair_search`` section to a :class:`~xlsweep.pairsearch.search.PairSearch`, checked first.

Everything a pair search needs is decided here, without Ray or MLflow: the candidates (the
cells of ``grid.aux``), the targets (``eval.targets`` or every language), the seeds (``grid.seed``),
the resource levels (every ``meta.checkpoint_every`` meta-steps up to ``meta.steps``), the budget
and the prior. :func:`check_pair_search` refuses, with one message naming the key, what cannot be
searched; it runs when a config is loaded, before Ray starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from xlsweep.cache import fingerprint
from xlsweep.config import SweepConfig, TrialConfig, to_dict
from xlsweep.data.benchmark import benchmark_languages, synthetic_benchmark
from xlsweep.methods import all_methods
from xlsweep.pairsearch.pair import Pair
from xlsweep.pairsearch.prior import Prior, planted_prior, uriel_code, uriel_prior
from xlsweep.pairsearch.search import SURVIVORS_PER_TARGET, PairSearch, SearchOptions

__all__ = ["Evidence", "SearchSetup", "build_prior", "check_pair_search", "describe", "evidence_key", "new_search",
           "planned_trials", "search_setup"]

Evidence = Mapping[tuple[int, int], Mapping[int, Mapping[str, float]]]
"""Dev scores earlier sweeps reported on a search's cells: (pair, seed) -> meta-step -> target -> score."""


@dataclass(frozen=True)
class SearchSetup:
    """The axes of a pair search."""

    pairs: tuple[Pair, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    checkpoints: tuple[int, ...]
    options: SearchOptions

    def label(self, pair: int) -> str:
        return self.pairs[pair].label

    def index(self, label: str) -> int:
        return [p.label for p in self.pairs].index(label)


def search_setup(sweep: SweepConfig) -> SearchSetup:
    """Candidates, targets, seeds, resource levels and options of ``sweep``'s pair search."""
    cfg, ps = sweep.trial, sweep.pair_search
    seeds = next((tuple(int(str(s)) for s in values) for name, values in sweep.grid.axes if name == "seed"),
                 (cfg.seed,))
    every, steps = cfg.meta.checkpoint_every, cfg.meta.steps
    options = SearchOptions(budget=ps.budget, budget_steps=ps.budget_steps, eta=ps.eta, screen=ps.screen,
                            first=ps.first, use_prior=ps.prior != "none", alpha=ps.alpha, seed=ps.seed,
                            final_seeds=ps.final_seeds)
    return SearchSetup(pairs=tuple(Pair(c.support, c.query) for c in sweep.grid.aux),
                       targets=tuple(cfg.eval.targets or benchmark_languages(cfg.data)), seeds=seeds, steps=steps,
                       checkpoints=tuple(sorted({*range(every, steps + 1, every), steps})), options=options)


def _prior_kind(sweep: SweepConfig) -> str:
    kind = sweep.pair_search.prior
    if kind == "auto":
        return "planted" if sweep.trial.data.benchmark == "synthetic" else "uriel+"
    return kind


def check_pair_search(sweep: SweepConfig) -> SweepConfig:
    """Refuse what cannot be searched; return ``sweep`` with the search's objective (every target's dev score).

    Raises:
        ValueError: One message naming the key, the value and what is expected.
    """
    ps, cfg = sweep.pair_search, sweep.trial
    if ps.budget_steps < 0:
        raise ValueError(f"pair_search.budget_steps: got {ps.budget_steps}; expected a number of meta-steps > 0 "
                         "(or 0: use pair_search.budget)")
    if not ps.budget_steps and not 0 < ps.budget <= 1:
        raise ValueError(f"pair_search.budget: got {ps.budget}; expected a fraction of the full grid's meta-steps in "
                         "(0, 1], e.g. 0.15 (or pair_search.budget_steps: a number of meta-steps)")
    if ps.eta <= 1:
        raise ValueError(f"pair_search.eta: got {ps.eta}; expected a reduction factor > 1")
    every, steps = cfg.meta.checkpoint_every, cfg.meta.steps
    if ps.first < 0 or ps.first % every or ps.first >= steps:
        raise ValueError(f"pair_search.first: got {ps.first}; expected meta-steps of the first rung: a multiple of "
                         f"meta.checkpoint_every ({every}) below meta.steps ({steps}), or 0 (the first checkpoint)")
    if not 0 < ps.screen <= 1:
        raise ValueError(f"pair_search.screen: got {ps.screen}; expected a share of the pairs in (0, 1]")
    if not 0 < ps.alpha < 1:
        raise ValueError(f"pair_search.alpha: got {ps.alpha}; expected a significance level in (0, 1)")
    if len(sweep.grid.aux) < 3:
        raise ValueError(f"pair_search: grid.aux has {len(sweep.grid.aux)} cell(s); a search needs at least 3 "
                         "(run a grid this small as it is: pair_search.enabled: false)")
    others = [name for name, _ in sweep.grid.axes if name != "seed"]
    if others:
        raise ValueError(f"pair_search: grid.{others[0]} is swept too; the search covers grid.aux (and grid.seed) "
                         "only: fix the other keys, or tune them first (search.space)")
    s = sweep.search
    if s.space or s.scheduler != "none" or s.searcher != "random":
        raise ValueError("pair_search: search.space, search.scheduler and search.searcher must stay unset; the pair "
                         "search schedules its trials itself")
    if s.metric not in ("", "dev_avg"):
        raise ValueError(f"search.metric: got {s.metric!r}; the pair search decides on the dev score of every target "
                         "language (dev_avg's languages): leave it empty or set dev_avg")
    episodes = [m.name for m in all_methods() if m.meta_steps]  # meta-steps are the search's resource
    if cfg.meta.algorithm not in episodes:
        raise ValueError(f"pair_search: meta.algorithm {cfg.meta.algorithm!r}; the search is over auxiliary languages "
                         f"of {' and '.join(episodes)}")
    if cfg.meta.split == "dev":
        raise ValueError("pair_search: meta.split is 'dev', so every pair trains on the dev split of its own "
                         "languages and has no held-out dev score for them as targets; the search decides on dev "
                         "scores only: set meta.split: train (for XNLI: translate-train data, e.g. data.sources "
                         "'*.train' from XNLI-MT files, with data.limits '*.train': N)")
    kind = _prior_kind(sweep)
    setup = search_setup(sweep)
    if ps.final_seeds != "auto" and not 0 <= ps.final_seeds <= len(setup.seeds):
        raise ValueError(f"pair_search.final_seeds: got {ps.final_seeds}; expected the seeds the survivors run with, "
                         f"1 to the {len(setup.seeds)} of grid.seed, 0 (all of them) or auto")
    if kind == "planted" and cfg.data.benchmark != "synthetic":
        raise ValueError(f"pair_search.prior: planted relatedness exists only for the synthetic benchmark, not "
                         f"{cfg.data.benchmark!r}; use uriel+ or none")
    if kind == "uriel+":
        for lang in _prior_languages(setup, cfg.data.source):
            uriel_code(lang)  # PriorError (a ValueError) names a code without an ISO 639-3 mapping
    new_search(sweep, None)  # plans the rungs as the run will (budget, eta, first rung, final seeds): a ValueError
    search = dataclasses.replace(s, metric="dev_avg", languages=s.languages or setup.targets)
    return dataclasses.replace(sweep, search=search)


def _prior_languages(setup: SearchSetup, source: str) -> list[str]:
    """Every language the prior must know: the targets, the pairs' languages and the stage-1 ``source`` (whose
    similarity to a pair's languages is a feature of the pooled model)."""
    return list(dict.fromkeys([*setup.targets, *(x for p in setup.pairs for x in p.languages), source]))


def build_prior(sweep: SweepConfig) -> Prior | None:
    """The search's prior: the synthetic family's planted relatedness, URIEL+ distances, or none.

    Raises:
        PriorError: If the prior lacks a language (URIEL+ does not know it) or urielplus is missing.
    """
    kind, languages = _prior_kind(sweep), _prior_languages(search_setup(sweep), sweep.trial.data.source)
    if kind == "none":
        return None
    if kind == "planted":
        bench = synthetic_benchmark(sweep.trial.data.synthetic)
        return planted_prior(bench.relatedness, languages)
    return uriel_prior(languages, distances=sweep.pair_search.prior_distances)


def new_search(sweep: SweepConfig, prior: Prior | None, evidence: Evidence | None = None) -> PairSearch:
    """The search of ``sweep``, starting from ``evidence`` (earlier sweeps' dev scores on its cells, free)."""
    setup = search_setup(sweep)
    return PairSearch(setup.pairs, setup.targets, seeds=setup.seeds, steps=setup.steps,
                      checkpoints=setup.checkpoints, prior=prior, source=sweep.trial.data.source,
                      options=setup.options, evidence=evidence)


def evidence_key(cfg: TrialConfig, stage1: str) -> str:
    """Equal for trials whose dev scores are the same experiment's: the same stage-1 model (``stage1``: its
    fingerprint) and every setting of the cell but its auxiliary languages and seed. A pair search recalls the
    trials of earlier sweeps whose key is its cells' (:mod:`xlsweep.sweep.pair_evidence`)."""
    cell = to_dict(cfg)
    cell["meta"] = {k: v for k, v in cell["meta"].items() if k not in ("support", "query")}
    cell.pop("seed", None)
    return fingerprint({"stage1": stage1, "cell": cell})


def planned_trials(sweep: SweepConfig, evidence: Evidence | None = None) -> int:
    """Trials the search starts: the first rung's runs that ``evidence`` has not already taken to full length, then
    the survivors' extra seeds (every one counted: which pairs survive is not known before the search runs)."""
    search = new_search(sweep, None, evidence)
    rungs = search.schedule.rungs
    if not rungs:
        return 0
    first = len(search.pending())
    return first + rungs[-1].candidates * (rungs[-1].seeds - rungs[0].seeds)


def describe(sweep: SweepConfig) -> list[str]:
    """What ``xlsweep validate`` says about the search: budget, rungs, trials, and targets left without a survivor."""
    search = new_search(sweep, None)
    sched = search.schedule
    last, n_seeds = sched.rungs[-1].seeds, len(search.seeds)  # the survivors': every seed, or final_seeds of them
    how = f"auto: the most that leave {SURVIVORS_PER_TARGET:g} survivors per target, else 1" \
        if sweep.pair_search.final_seeds == "auto" else \
        "pair_search.final_seeds"
    tail = "" if last == n_seeds == 1 else f" × {last} seeds" if last == n_seeds else \
        f" × {last} of the {n_seeds} seeds ({how})"
    rungs = ", ".join(f"{r.candidates} pair(s) to meta-step {r.resource}" for r in sched.rungs) + tail
    lines = [f"pair search: {len(search.pairs)} pairs × {len(search.seeds)} seed(s) × {search.steps} meta-steps = "
             f"{sched.grid_steps} meta-steps for the full grid; budget {sched.total} ({sched.fraction:.1%}), "
             f"{planned_trials(sweep)} trials", f"rungs: {rungs}"]
    survivors, targets = sched.rungs[-1].candidates, len(search.deciding)
    if survivors < targets:
        lines.append(f"note: {survivors} pair(s) reach full length for {targets} target languages: a target without "
                     "a survivor of its own is answered by the model's prediction; raise pair_search.budget for one "
                     "each")
    return lines
