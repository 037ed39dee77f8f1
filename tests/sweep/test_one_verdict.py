"""One verdict everywhere: a sweep whose trials store their per-example outcomes, reported as the driver reports
it; the parent run's description, report.html (table and heatmap), the heatmap's mask, best_pairs.csv and
``xlsweep best-pairs`` mark the same cells, and the default test (per-seed paired bootstrap, seed variance pooled over
the sweep's family) has the power the t-test over 2 seeds lacks."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

from xlsweep.report import TrialRecord
from xlsweep.report.best_pairs import best_pairs, best_pairs_lines
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.paper_tables import delta_frames
from xlsweep.report.sweep_report import report_from_mlflow
from xlsweep.report.verdict import TestOptions
from xlsweep.sweep.mlflow_fields import log_final_metrics
from xlsweep.sweep.outcome import SweepOutcome
from xlsweep.sweep.parent_run import report_to_parent
from xlsweep.tasks.outcomes import OUTCOMES_FILE, Outcomes, write_outcomes
from xlsweep.tracking import SweepRun, TrialRun

N = 500
TARGETS = ("bel", "cor", "dun")
GAINS = {("ana→bel", "bel"): 0.10, ("ana→bel", "cor"): 0.002, ("ana→bel", "dun"): 0.06,  # points / 100
         ("ana→cor", "bel"): -0.002, ("ana→cor", "cor"): 0.08, ("ana→cor", "dun"): 0.0,
         ("ana→dun", "bel"): 0.004, ("ana→dun", "cor"): -0.07, ("ana→dun", "dun"): 0.003}


def _baseline(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {lang: (rng.random(N) < 0.55).astype(np.int64) for lang in TARGETS}


def _trial(rng: np.random.Generator, base: np.ndarray, gain: float) -> np.ndarray:
    """The baseline's answers with ~8% of them changed at random both ways, and ``gain`` × N net more right."""
    rows = base.copy()
    churn = rng.choice(N, 40, replace=False)
    rows[churn] = rng.random(40) < rows.mean()
    change = round(abs(gain) * N) - int(np.sign(gain)) * int(rows.sum() - base.sum())
    pool = np.flatnonzero(rows == (0 if gain >= 0 else 1))
    rows[rng.choice(pool, max(change, 0), replace=False)] = 1 if gain >= 0 else 0
    return rows


def _sweep(tmp_path: Path) -> tuple[str, SweepRun, SweepOutcome]:
    rng = np.random.default_rng(3)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = SweepRun(uri, "verdict")
    tracker.start("verdict-1", name="verdict", params={}, tags={"xlsweep.task": "nli", "xlsweep.primary": "acc"})
    base = _baseline(rng)
    baseline = {f"baseline/acc/{lang}": float(rows.mean()) for lang, rows in base.items()}
    tracker.log_metrics(baseline)
    for i, aux in enumerate(("ana→bel", "ana→cor", "ana→dun")):
        for seed in (0, 1):
            rows = {lang: _trial(rng, base[lang], GAINS[(aux, lang)]) for lang in TARGETS}
            tags = {"xlsweep.algorithm": "xla-maml", "xlsweep.aux": aux, "xlsweep.support": "ana",
                    "xlsweep.query": aux[-3:], "xlsweep.seed": str(seed),
                    "xlsweep.cell": json.dumps({"aux": aux, "seed": seed}), "xlsweep.primary": "acc",
                    "xlsweep.task": "nli"}
            run = TrialRun.open(uri, tracker.experiment_id, tracker.run_id, f"t{i}{seed}", name=f"{aux} s{seed}",
                                params={}, tags=tags)
            scores = {f"acc/{lang}": float(r.mean()) for lang, r in rows.items()}
            log_final_metrics(run, {**scores, **baseline}, 10)
            rows = {lang: r[:, None] for lang, r in rows.items()}  # NLI's one column: correct
            folder = tmp_path / f"trial{i}{seed}"
            folder.mkdir()
            run.log_artifact(write_outcomes(folder / OUTCOMES_FILE, Outcomes(
                "nli", rows, {lang: r[:, None] for lang, r in base.items()})))
            run.finish("FINISHED")
    tracker.finish("FINISHED")
    outcome = SweepOutcome(out_dir=tmp_path / "out", parent_run_id=tracker.run_id, tracking_uri=uri,
                           records=[TrialRecord(aux="x", seed=0, scores={}, baseline={})] * 6)
    return uri, tracker, outcome


def test_every_view_marks_the_same_cells_and_big_gains_are_significant(tmp_path: Path) -> None:
    uri, tracker, outcome = _sweep(tmp_path)
    report_to_parent(outcome, tracker, "acc", lambda line: None)
    out = Path(outcome.out_dir)
    with (out / "best_pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    verdicts = {(r["choice"], r["target"]): r["significant"] == "True" for r in rows}
    assert {r["test"] for r in rows} == {"pooled"} and {r["correction"] for r in rows} == {"holm"}
    assert {r["family"] for r in rows} == {"9"}
    # the answer: gains of 6 points and more are significant after Holm, those under half a point are not
    for aux, lang in GAINS:
        label = f"XLA-MAML ({aux})"
        delta = float(next(r["mean_delta (points)"] for r in rows if (r["choice"], r["target"]) == (label, lang)))
        if abs(delta) >= 5:
            assert verdicts[(label, lang)], (label, lang, delta)
        if abs(delta) < 0.5:
            assert not verdicts[(label, lang)], (label, lang, delta)
    # seeds alone (2 seeds, 1 degree of freedom) cannot mark the same gains after Holm
    records = load_sweep_results(uri, parent_run_id=tracker.run_id).records
    t_ranked = best_pairs(records, "acc", options=TestOptions(test="t-test"))
    assert sum(p.significant for per in t_ranked.values() for p in per) < sum(verdicts.values())

    report = report_from_mlflow(uri, parent_run_id=tracker.run_id, out_dir=tmp_path / "again")
    (table,) = report.tables
    deltas, mask = delta_frames(table)  # the heatmap's marks
    html = (out / "report.html").read_text()
    for (label, lang), significant in verdicts.items():
        aux = label.removeprefix("XLA-MAML (").removesuffix(")")
        assert bool(mask.loc[aux, lang]) == significant, (label, lang)
        assert table.row(label).cells[lang].significant == significant
        mark = "*" if significant else ""
        assert f'data-row="{aux}" data-col="{lang}"' in html
        start = html.index(f'data-row="{aux}" data-col="{lang}"')
        assert f'data-mark="{mark}"' in html[start:html.index(">", start)], (label, lang)
    # the parent's description and `xlsweep best-pairs`: the best choice per target with the same mark
    note = MlflowClient(uri).get_run(tracker.run_id).data.tags["mlflow.note.content"]
    lines = best_pairs_lines(report.ranked, "acc")
    for lang, pairs in report.ranked.items():
        best = pairs[0]
        assert verdicts[(best.label, lang)] == best.significant
        star = "\\*" if best.significant else ""
        assert f"| {lang} | {best.label}{' †' if best.uses_target else ''} | {best.test.mean_diff * 100:+.1f} | " \
               f"{star} | 2 |" in note
        assert any(line.startswith(f"target {lang}: best {best.label} {best.test.mean_diff * 100:+.1f}"
                                   f"{'*' if best.significant else ''}") for line in lines)
    assert not math.isnan(report.ranked["bel"][0].test.p)


def _decimals(text: str) -> int:
    return len(text.partition(".")[2].rstrip("0")) if "e" not in text.lower() else 99


def test_every_written_number_is_in_points_to_2_decimals_and_statistics_to_4_digits(tmp_path: Path) -> None:
    # a sweep's outputs hold means over 2 seeds and over 3 targets (thirds: 78.96666... before rounding)
    uri, tracker, outcome = _sweep(tmp_path)
    report_to_parent(outcome, tracker, "acc", lambda line: None)
    out = Path(outcome.out_dir)
    checked = 0
    for path in sorted(out.glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        assert any("points" in column for column in header), (path.name, header)  # the unit is named
        for row in rows:
            for column, cell in zip(header, row, strict=True):
                try:
                    value = float(cell)
                except ValueError:
                    continue
                if column in ("t", "p") or column.startswith("p_"):
                    assert cell == repr(float(f"{value:.4g}")), (path.name, column, cell)
                else:
                    assert _decimals(cell) <= 2, (path.name, column, cell)
                checked += 1
    assert checked > 50 and {p.name for p in out.glob("*.csv")} >= {"aux_table.csv", "aux_target_delta.csv",
                                                                   "best_pairs.csv"}


def test_trials_csv_and_scores_json_round_a_mean_to_2_decimals(tmp_path: Path) -> None:
    from xlsweep.sweep.mlflow_fields import scores_table
    from xlsweep.sweep.outcome import write_rows
    from xlsweep.tracking.runs import points_written

    assert [points_written(v) for v in (0.7896666666, 0.9959999918937683, 0.113, -0.00001, 0.0386666)] == [
        78.97, 99.6, 11.3, 0.0, 3.87]
    path = write_rows([{"aux": "ana→cor", "seed": 0, "acc_avg": 0.7896666666, "acc/bel": np.float32(0.982)}],
                      tmp_path / "trials.csv")
    assert path.read_text().splitlines() == ["aux,seed,acc_avg (points),acc/bel (points)", "ana→cor,0,78.97,98.2"]
    columns, rows = scores_table({"acc/bel": 0.7896666666, "baseline/acc/bel": 0.78, "delta/bel": 0.0096666666})
    assert columns == ["language", "acc (points)", "baseline/acc (points)", "delta (points)"]
    assert rows == [["bel", 78.97, 78.0, 0.97]]
