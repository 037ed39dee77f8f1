"""For each target language, the auxiliary choices ranked by their mean improvement over the stage-1 baseline.

An auxiliary choice is a report row (:func:`xlsweep.report.row_groups.row_groups`): a method with
its auxiliary languages and varying settings. Its improvement on a target is, per seed,
its score minus the stage-1 baseline of the same seed; the ranking uses the mean over
seeds. Two tests go with it, both the report's test (:func:`xlsweep.report.verdict.compare`: by
default the two-sided hierarchical paired bootstrap over seeds and test examples):

* **significant** — the choice differs from stage 1, adjusted (Holm by default) over every
  (target, choice) test of the sweep (one family, also when ``--target`` shows one target);
  the paper-shaped tables and the heatmap take their per-target cells from here, so a cell has
  one verdict everywhere;
* **tied with the best** — per target, :func:`xlsweep.report.stats.tied_with_best`: the best
  choice (highest mean) and every choice not significantly worse than it, paired, corrected
  over that target's comparisons with the best (the answer to "which auxiliary choice for
  target X" is a set, not a rank). A choice that cannot be tested against the best stays in the set.

Meta-learning rows whose auxiliary languages include the target are kept and marked ``†``
(they saw the target's data). The **zero-shot** answer is the best choice among those whose
training never read the target's data (the target in neither support nor query languages;
MetaXL-family choices always read it): :attr:`RankedPair.zero_shot`, :func:`zero_shot_best`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xlsweep.report.row_groups import TRANSFER, RowGroup, SeedGrid, languages, over, row_groups, seed_grid
from xlsweep.report.stats import DEFAULT_ALPHA, PairedTest, adjust, pool_tests, tied_with_best
from xlsweep.report.sweep_results import ReportError, RunRecord
from xlsweep.report.verdict import Evidence, TestOptions, compare, record_evidence
from xlsweep.tracking.runs import points_cell, statistic_cell

__all__ = ["RankedPair", "answer_text", "best_pairs", "best_pairs_lines", "write_best_pairs_csv", "zero_shot_best"]


@dataclass(frozen=True)
class RankedPair:
    """One auxiliary choice on one target: its rank and mean improvement (a fraction) with the tests.

    Attributes:
        test: The paired test against the stage-1 baseline (raw p in ``test.p``).
        p_adjusted: ``test.p`` after Holm over every (target, choice) test (NaN if untested).
        tied: In the set tied with the best (the best itself included).
        vs_best: The paired test "the best is better than this choice" (None for the best).
        vs_best_adjusted: Its p-value Holm-adjusted over the target's comparisons with the best.
        run_ids: ``(seed, MLflow run id)`` of the choice's trials.
        family: The size of ``p_adjusted``'s family (the sweep's tested (target, choice) pairs).
        correction: The family's correction (``holm`` or ``bh``).
    """

    target: str
    rank: int
    label: str
    algorithm: str
    aux_languages: tuple[str, ...]
    test: PairedTest
    p_adjusted: float = math.nan
    tied: bool = False
    vs_best: PairedTest | None = None
    vs_best_adjusted: float = math.nan
    run_ids: tuple[tuple[int, str], ...] = ()
    family: int = 0
    correction: str = "holm"

    @property
    def uses_target(self) -> bool:
        """A meta-learning choice whose auxiliary languages include the target (MetaXL always trains on it)."""
        return self.target in self.aux_languages and self.algorithm not in TRANSFER

    @property
    def zero_shot(self) -> bool:
        """The choice's training never read the target's data: the target is none of its auxiliary languages
        (support ∪ query), and it is not a MetaXL-family choice (those train on their target)."""
        return self.target not in self.aux_languages and self.algorithm not in TRANSFER

    @property
    def significant(self) -> bool:
        """Tested, and the adjusted p-value is below α."""
        return self.test.tested and self.p_adjusted < self.test.alpha

    @property
    def best(self) -> bool:
        return self.tied and self.vs_best is None


def best_pairs(records: Sequence[RunRecord], metric: str, *, target: str | None = None,
               alpha: float = DEFAULT_ALPHA, options: TestOptions | None = None) -> dict[str, list[RankedPair]]:
    """Target -> its auxiliary choices, best mean improvement first (NaN last, ties in row order).

    ``options`` (default: the bootstrap and Holm at ``alpha``) say how to test and correct.

    Raises:
        ReportError: If no trial scored ``metric``, or ``target`` is not among the scored targets.
    """
    groups = row_groups(records)
    grids = {g.label: seed_grid(g.records, metric) for g in groups}
    targets = languages(grids.values())
    if not targets:
        available = sorted({m for r in records for m, per in r.scores.items() if per})
        raise ReportError(f"no {metric!r} scores in the finished trials: expected one of {available}")
    if target is not None and target not in targets:
        raise ReportError(f"--target: unknown target {target!r}: expected one of {', '.join(targets)}")
    options = options or TestOptions(alpha=alpha)
    evidence = {g.label: Evidence(*_stage1_evidence(g.records, metric)) for g in groups}
    ranked = {lang: _ranked(lang, groups, grids, evidence, options) for lang in targets}
    family = [(lang, i) for lang, per in ranked.items() for i, p in enumerate(per) if p.test.tested]
    pooled = pool_tests([ranked[lang][i].test for lang, i in family])  # the sweep's seed variance, one family
    for (lang, i), test in zip(family, pooled, strict=True):
        ranked[lang][i] = replace(ranked[lang][i], test=test)
    tested = [test.p for test in pooled]
    adjusted = iter(adjust(tested, options.correction))
    ranked = {lang: [replace(p, p_adjusted=next(adjusted) if p.test.tested else math.nan, family=len(tested),
                             correction=options.correction) for p in per] for lang, per in ranked.items()}
    return {target: ranked[target]} if target is not None else ranked


def zero_shot_best(pairs: Sequence[RankedPair]) -> RankedPair | None:
    """The best-ranked choice of one target that never read the target's data (None if every choice did)."""
    return next((p for p in pairs if p.zero_shot), None)


def _stage1_evidence(records: Sequence[RunRecord], metric: str) -> tuple[str, str, Any, Any]:
    task, trial, base = record_evidence(records, metric)
    return task, metric, trial, base


def _ranked(lang: str, groups: Sequence[RowGroup], grids: Mapping[str, SeedGrid], evidence: Mapping[str, Evidence],
            options: TestOptions) -> list[RankedPair]:
    """One target's choices ranked, each with its test against stage 1 and its place in the tied set."""
    entries = []
    for group in groups:
        values, bases = over(grids[group.label], [lang])
        if values:
            deltas = {seed: values[seed] - bases[seed] for seed in values}
            test = compare(values, bases, evidence=evidence[group.label], languages=[lang], options=options)
            entries.append((group, test, deltas))
    entries.sort(key=lambda e: -e[1].mean_diff if not math.isnan(e[1].mean_diff) else math.inf)
    if not entries:
        return []
    scores = {g.label: over(grids[g.label], [lang])[0] for g, _, _ in entries}

    def versus(best: str, other: str) -> PairedTest:  # the best's trials against the other's, seed by seed
        ours, theirs = evidence[best], evidence[other]
        return compare(scores[best], scores[other], languages=[lang], options=options,
                       evidence=Evidence(ours.task or theirs.task, ours.metric, ours.row, theirs.row))

    tie = tied_with_best({g.label: deltas for g, _, deltas in entries}, alpha=options.alpha, compare=versus,
                         correction=options.correction)
    return [RankedPair(lang, i + 1, g.label, g.algorithm, g.aux_languages, test, tied=g.label in tie.tied,
                       vs_best=tie.tests.get(g.label), vs_best_adjusted=tie.adjusted_p.get(g.label, math.nan),
                       run_ids=tuple(sorted((r.seed, r.run_id) for r in g.records)))
            for i, (g, test, _) in enumerate(entries)]


def best_pairs_lines(ranked: Mapping[str, Sequence[RankedPair]], metric: str, *, top: int | None = None,
                     options: TestOptions | None = None) -> list[str]:
    """Fixed-width lines per target: the best choice and the best zero-shot one, then rank, choice, mean Δ and std
    in points, n, ``*`` if significant, tied set; ``options`` name the test (default: the pooled test, Holm)."""
    if top is not None and top < 1:
        raise ReportError(f"--top: expected a positive number of choices per target, got {top}")
    pairs = [p for per in ranked.values() for p in per]
    options = options or TestOptions(alpha=pairs[0].test.alpha if pairs else DEFAULT_ALPHA,
                                      correction=pairs[0].correction if pairs else "holm")
    alpha, tested, name = options.alpha, pairs[0].family if pairs else 0, options.correction_name
    width = max([len("auxiliary choice"), *(len(p.label) + 2 for p in pairs)]) + 2
    lines = [f"Δ {metric} vs the stage-1 baseline, ×100, mean over seeds; † = the choice's auxiliary languages "
             "include the target",
             f"* = significant difference from stage 1 ({options.test_name}), {name}-adjusted over the {tested} "
             f"tests of all targets, α = {alpha:g}",
             "best / tied = the best choice and the choices not significantly worse than it (same test, "
             f"{name} over the target's comparisons with the best, α = {alpha:g})",
             "zero-shot = the best choice whose training never read the target's data (neither support nor query)"]
    for target, per in ranked.items():
        header = f"  {'#':>3}  {'auxiliary choice':<{width}}{'Δ mean':>8}{'std':>7}{'n':>4}  sig  tied"
        lines += ["", f"target {target}: {answer_text(per)}", header]
        for pair in per[:top]:
            label = pair.label + (" †" if pair.uses_target else "")
            test = pair.test
            spread = "" if math.isnan(test.std_diff) else f"{test.std_diff * 100:.1f}"
            line = f"  {pair.rank:>3}  {label:<{width}}{test.mean_diff * 100:>+8.1f}{spread:>7}{test.n:>4}  "
            line += f"{'*' if pair.significant else '':<3}  {'best' if pair.best else 'tied' if pair.tied else ''}"
            lines.append(line.rstrip())
    return lines


def answer_text(pairs: Sequence[RankedPair]) -> str:
    """``best X +11.3* · zero-shot best Y +4.2`` for one target (points; ``*`` significant)."""
    if not pairs:
        return "no choices"
    zero = zero_shot_best(pairs)
    text = f"best {_short(pairs[0])}"
    if zero is None:
        return text + " · zero-shot best: none (every choice read the target's data)"
    return text + (" (zero-shot)" if zero is pairs[0] else f" · zero-shot best {_short(zero)}")


def _short(pair: RankedPair) -> str:
    delta = pair.test.mean_diff
    return f"{pair.label} {'–' if math.isnan(delta) else f'{delta * 100:+.1f}'}{'*' if pair.significant else ''}"


CSV_FIELDS = ("target", "rank", "choice", "algorithm", "aux_languages", "uses_target", "zero_shot",
              "best_zero_shot", "n", "mean_delta (points)", "std_delta (points)", "test", "t", "p", "p_adjusted",
              "correction", "family", "significant", "test_note", "tied_with_best", "p_vs_best", "p_vs_best_adjusted")


def write_best_pairs_csv(ranked: Mapping[str, Sequence[RankedPair]], path: str | Path) -> Path:
    """One line per target and choice; deltas in points to 2 decimals
    (:func:`~xlsweep.tracking.runs.points_written`), t and p to 4 significant digits, NaN empty.

    ``zero_shot``: the choice never read the target's data; ``best_zero_shot``: the best such choice;
    ``test``: ``pooled``, ``bootstrap`` or ``t-test`` (``test_note`` says why a bootstrap fell back);
    ``p`` / ``p_adjusted`` / ``significant``: the test against stage 1, raw and adjusted by ``correction``
    over ``family`` tests;
    ``tied_with_best``: in the target's tied set; ``p_vs_best`` / ``p_vs_best_adjusted``: the
    test "the best is better", raw and Holm-adjusted over the target's comparisons (empty for
    the best).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for per in ranked.values():
            zero = zero_shot_best(per)
            for p in per:
                t = p.test
                writer.writerow({"target": p.target, "rank": p.rank, "choice": p.label, "algorithm": p.algorithm,
                                 "aux_languages": ",".join(p.aux_languages), "uses_target": p.uses_target,
                                 "zero_shot": p.zero_shot, "best_zero_shot": p is zero,
                                 "n": t.n, "mean_delta (points)": points_cell(t.mean_diff),
                                 "std_delta (points)": points_cell(t.std_diff),
                                 "test": t.method, "t": statistic_cell(t.t), "p": statistic_cell(t.p),
                                 "p_adjusted": statistic_cell(p.p_adjusted),
                                 "correction": p.correction, "family": p.family,
                                 "significant": p.significant, "test_note": t.reason or t.note,
                                 "tied_with_best": p.tied,
                                 "p_vs_best": statistic_cell(p.vs_best.p) if p.vs_best else "",
                                 "p_vs_best_adjusted": statistic_cell(p.vs_best_adjusted)})
    return out


