"""For each target language, the auxiliary choices ranked by their mean improvement over the stage-1 baseline.

An auxiliary choice is a report row (:func:`xlsweep.report.rows.row_groups`): a method with
its auxiliary languages and varying settings. Its improvement on a target is, per seed,
its score minus the stage-1 baseline of the same seed; the ranking uses the mean over
seeds, and the flag is the paired test of :mod:`xlsweep.report.stats`. Meta-learning rows whose
auxiliary languages include the target are kept and marked ``†`` (they saw the target's data).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xlsweep.report.records import ReportError, RunRecord
from xlsweep.report.rows import TRANSFER, languages, over, row_groups, seed_grid
from xlsweep.report.stats import DEFAULT_ALPHA, TEST_NAME, PairedTest, paired_test

__all__ = ["RankedPair", "best_pairs", "best_pairs_lines", "write_best_pairs_csv"]


@dataclass(frozen=True)
class RankedPair:
    """One auxiliary choice on one target: its rank and mean improvement (a fraction) with the test."""

    target: str
    rank: int
    label: str
    algorithm: str
    aux_languages: tuple[str, ...]
    test: PairedTest

    @property
    def uses_target(self) -> bool:
        """A meta-learning choice whose auxiliary languages include the target (MetaXL always trains on it)."""
        return self.target in self.aux_languages and self.algorithm not in TRANSFER


def best_pairs(records: Sequence[RunRecord], metric: str, *, target: str | None = None,
               alpha: float = DEFAULT_ALPHA) -> dict[str, list[RankedPair]]:
    """Target -> its auxiliary choices, best mean improvement first (NaN last, ties in row order).

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
    ranked: dict[str, list[RankedPair]] = {}
    for lang in [target] if target is not None else targets:
        entries = []
        for group in groups:
            values, bases = over(grids[group.label], [lang])
            if values:
                entries.append((group, paired_test(values, bases, alpha=alpha)))
        entries.sort(key=lambda e: -e[1].mean_diff if not math.isnan(e[1].mean_diff) else math.inf)
        ranked[lang] = [RankedPair(lang, i + 1, g.label, g.algorithm, g.aux_languages, test)
                        for i, (g, test) in enumerate(entries)]
    return ranked


def best_pairs_lines(ranked: Mapping[str, Sequence[RankedPair]], metric: str, *, top: int | None = None
                     ) -> list[str]:
    """Fixed-width lines per target: rank, choice, mean Δ and std in points, n, ``*`` if significant."""
    if top is not None and top < 1:
        raise ReportError(f"--top: expected a positive number of choices per target, got {top}")
    pairs = [p for per in ranked.values() for p in per]
    alpha = pairs[0].test.alpha if pairs else DEFAULT_ALPHA
    width = max([len("auxiliary choice"), *(len(p.label) + 2 for p in pairs)]) + 2
    lines = [f"Δ {metric} vs the stage-1 baseline, ×100, mean over seeds; * = significant improvement "
             f"({TEST_NAME}, α = {alpha:g}); † = the choice's auxiliary languages include the target"]
    for target, per in ranked.items():
        header = f"  {'#':>3}  {'auxiliary choice':<{width}}{'Δ mean':>8}{'std':>7}{'n':>4}  sig"
        lines += ["", f"target {target}", header]
        for pair in per[:top]:
            label = pair.label + (" †" if pair.uses_target else "")
            test = pair.test
            spread = "" if math.isnan(test.std_diff) else f"{test.std_diff * 100:.1f}"
            line = f"  {pair.rank:>3}  {label:<{width}}{test.mean_diff * 100:>+8.1f}{spread:>7}{test.n:>4}  "
            lines.append((line + ("*" if test.significant else "")).rstrip())
    return lines


CSV_FIELDS = ("target", "rank", "choice", "algorithm", "aux_languages", "uses_target", "n", "mean_delta",
              "std_delta", "t", "p", "significant", "test_note")


def write_best_pairs_csv(ranked: Mapping[str, Sequence[RankedPair]], path: str | Path) -> Path:
    """One line per target and choice; deltas are fractions at full precision, NaN empty."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for per in ranked.values():
            for p in per:
                t = p.test
                writer.writerow({"target": p.target, "rank": p.rank, "choice": p.label, "algorithm": p.algorithm,
                                 "aux_languages": ",".join(p.aux_languages), "uses_target": p.uses_target,
                                 "n": t.n, "mean_delta": _num(t.mean_diff), "std_delta": _num(t.std_diff),
                                 "t": _num(t.t), "p": _num(t.p), "significant": t.significant,
                                 "test_note": t.reason})
    return out


def _num(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))
