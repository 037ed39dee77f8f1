"""What a sweep's runs show in MLflow: names, params, tags, tables and descriptions (the client calls are in
:mod:`xlsweep.tracking`).

* A child run is named by its grid values (``metaxl ana→cor rtn_layers=1 seed0``), unique
  within the sweep, and carries only the params its method reads, plus the auxiliary
  choice in three params (``aux`` = ``ana→cor``, ``aux.support``, ``aux.query``); no param is empty.
* A child's final scores are logged at step 0, so MLflow 3's chart view draws each as a
  bar per run, labelled with the run's name (a metric whose last step is ≥ 1 gets a line
  chart, where a final score is one dot); they are also a table, ``scores.json``.
* A shared view of the experiment page (:func:`shared_view`) lists one sweep's trials grouped
  by their grid values, averaged over seeds, with a Δ column per target, sorted by the mean
  Δ; its chart view draws a bar per group in each target's Δ chart.
* The parent run carries the params fixed across the sweep, the grid as JSON, the result
  tables in MLflow's table form and a Markdown description: the best choice per target,
  the trial counts and where the outputs are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from xlsweep.config import AuxChoice, SweepConfig, TrialConfig, to_dict
from xlsweep.methods import reads_key
from xlsweep.plan import SAMPLE_KEY
from xlsweep.tracking import flatten_params
from xlsweep.tracking.runs import UNIT, points_written
from xlsweep.tracking.tags import PARENT_SWEEP_ID_TAG
from xlsweep.tracking.urls import REPORT_FILE, REPORT_ROUTE

__all__ = ["aux_label", "aux_params", "chart_state", "grid_json", "log_final_metrics", "parent_params", "report_tables",
           "run_name", "scores_table", "shared_view", "sweep_description", "trial_params"]

_DELTAS = ("delta", "fs_delta")


def aux_label(cfg: TrialConfig) -> str:
    return AuxChoice(cfg.meta.support, cfg.meta.query).label


def aux_params(cfg: TrialConfig) -> dict[str, str]:
    """The auxiliary choice as params, its only ones: ``aux`` (``ana→cor``), ``aux.support`` and ``aux.query``
    (X-MAML: the support languages); ``params.aux.query = 'cor'`` filters without typing ``→``."""
    return {"aux": aux_label(cfg), "aux.support": ",".join(cfg.meta.support),
            "aux.query": ",".join(cfg.meta.query or cfg.meta.support)}


_AUX_KEYS = ("meta.support", "meta.query")  # the auxiliary choice, given by aux_params instead


def trial_params(cfg: TrialConfig) -> dict[str, str]:
    """A child run's params: the resolved config keys its method reads that have a value (an empty list or an unset
    option is no param), then the auxiliary choice."""
    return {k: v for k, v in flatten_params(to_dict(cfg)).items()
            if reads_key(k, cfg) and v not in ("", "None") and k not in _AUX_KEYS} | aux_params(cfg)


def parent_params(cells: Sequence[tuple[Mapping[str, Any], TrialConfig]], sampled: Sequence[str] = ()
                  ) -> dict[str, str]:
    """A parent run's params: the child params with one value in every trial that has them (``metaxl.bottleneck``
    of a JT + MetaXL sweep: fixed where an RTN is used); swept keys and ``sampled`` ones (drawn by a searcher per
    trial) are left out."""
    values: dict[str, set[str]] = {}
    for _, cfg in cells:
        for key, value in trial_params(cfg).items():
            values.setdefault(key, set()).add(value)
    return {k: next(iter(v)) for k, v in values.items() if len(v) == 1 and k not in sampled}


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_short(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def run_name(overrides: Mapping[str, Any], cfg: TrialConfig) -> str:
    """``[method] aux [key=value ...] seedN [sample=i]`` from the cell's values: unique within a sweep.

    A grid key is shortened to its last part (``rtn_layers``) unless two keys share it.
    """
    keys = [k for k in overrides if k not in ("aux", "seed", "meta.algorithm", SAMPLE_KEY)]
    shorts = [k.rsplit(".", 1)[-1] for k in keys]
    parts = [str(overrides["meta.algorithm"])] if "meta.algorithm" in overrides else []
    parts.append(str(overrides.get("aux") or aux_label(cfg)))
    parts += [f"{s if shorts.count(s) == 1 else k}={_short(overrides[k])}" for k, s in zip(keys, shorts, strict=True)]
    parts.append(f"seed{cfg.seed}")
    if SAMPLE_KEY in overrides:
        parts.append(f"sample={overrides[SAMPLE_KEY]}")
    return " ".join(parts)


def grid_json(sweep: SweepConfig, *, limit: int = 7900) -> str:
    """The swept axes as JSON (``{"aux": ["ana→bel", ...], "seed": [0, 1], "search": {...}}``), within ``limit``
    characters (MLflow's tag size): long axes are then given as their sizes."""
    grid: dict[str, Any] = {"aux": [c.label for c in sweep.grid.aux]} if sweep.grid.aux else {}
    grid |= {name: list(values) for name, values in sweep.grid.axes}
    if sweep.search.space:
        grid["search"] = {k: {d.kind: list(getattr(d, d.kind))} for k, d in sweep.search.space.items()}
    text = json.dumps(grid, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = json.dumps({k: f"{len(v)} values" if isinstance(v, list) else v for k, v in grid.items()},
                          ensure_ascii=False, default=str)[:limit]
    return text


def shared_view(sweep: SweepConfig, sweep_id: str) -> dict[str, Any]:
    """The MLflow 3 UI state of one sweep's view of its experiment page (an experiment tag
    ``mlflow.sharedViewState.<key>``, opened by ``?viewStateShareKey=<key>``; checked against MLflow 3.18's UI).

    Its trials (a search on ``xlsweep.parent_sweep_id``), grouped by the grid's keys other than
    the seed (the report's rows), each group the average over its seeds; columns: those keys,
    ``delta_avg`` and ``delta/<target>``; sorted by ``delta_avg``. Grouping is also what lists child
    runs flat: a shared view cannot expand the parent run. Its chart view: :func:`chart_state`.
    """
    from xlsweep.data.benchmark import benchmark_languages

    keys = list(dict.fromkeys(["aux", *(n for n, _ in sweep.grid.axes if n != "seed"), *sweep.search.space]))
    targets = sweep.trial.eval.targets or benchmark_languages(sweep.trial.data)
    return {
        "searchFilter": f"tags.`{PARENT_SWEEP_ID_TAG}` = '{sweep_id}'",
        "orderByKey": "metrics.`delta_avg`", "orderByAsc": False,
        "selectedColumns": [*(f"params.`{k}`" for k in keys), "metrics.`delta_avg`",
                            *(f"metrics.`delta/{t}`" for t in targets)],
        "groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "param", "groupByData": k} for k in keys]},
        "groupsExpanded": {}, "runsHiddenMode": "SHOW_ALL", "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True, **chart_state(sweep, targets, _groups(sweep)),
    }


def _groups(sweep: SweepConfig) -> int:
    """How many groups (rows of the report) the sweep's grid makes: its cells other than the seed."""
    count = max(1, len(sweep.grid.aux))
    for name, values in sweep.grid.axes:
        if name != "seed":
            count *= max(1, len(values))
    return count


def chart_state(sweep: SweepConfig, targets: Sequence[str], groups: int) -> dict[str, Any]:
    """The chart view of a sweep's shared view: one section ``Δ (points)`` first — a parallel-coordinates chart of
    the swept numeric params and the Δ metrics, then a bar chart per Δ metric (a bar per group, every group
    drawn): the sweep's own targets first (``eval.targets``, else every language after ``delta_avg``); the
    other metrics' sections (scores, baselines, dev scores, losses) collapsed below it."""
    from xlsweep.tasks import get_task

    def numbers(values: Sequence[object]) -> bool:
        return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)

    numeric = [name for name, values in sweep.grid.axes if name != "seed" and numbers(values)]
    numeric += [k for k, d in sweep.search.space.items() if d.kind != "choice" or numbers(d.choice)]
    deltas = [f"delta/{t}" for t in targets]
    order = [*deltas, "delta_avg"] if sweep.trial.eval.targets else ["delta_avg", *deltas]
    shown = max(10, groups)  # the UI draws the first 10 groups unless told more
    section = "xlsweep-delta"
    cards: list[dict[str, Any]] = [{
        "uuid": "xlsweep-parallel", "type": "PARALLEL", "runsCountToCompare": shown, "metricSectionId": section,
        "deleted": False, "isGenerated": False, "selectedParams": list(dict.fromkeys(numeric)),
        "selectedMetrics": order, "showAllRuns": False}]
    cards += [{"uuid": f"xlsweep-bar-{i}", "type": "BAR", "runsCountToCompare": shown, "metricSectionId": section,
               "deleted": False, "isGenerated": False, "metricKey": key, "displayName": f"{key} (points)"}
              for i, key in enumerate(order)]
    metrics = get_task(sweep.trial.data.task).metrics
    collapsed = [*metrics, *(f"fs_{m}" for m in metrics), "baseline", "dev", "fs_delta", "Model metrics"]
    sections = [{"uuid": section, "name": "Δ (points)", "display": True, "isReordered": True, "deleted": False,
                 **_section_layout(groups)}]
    sections += [{"uuid": f"xlsweep-section-{name}", "name": name, "display": False, "isReordered": False,
                  "deleted": False} for name in collapsed]
    return {"compareRunCharts": cards, "compareRunSections": sections, "isAccordionReordered": True}


def _section_layout(groups: int) -> dict[str, int]:
    """The Δ section's ``columns`` (cards per row; MLflow's default 3) and ``cardHeight`` (px; default 360) for
    ``groups`` bars per chart. MLflow 3's bar card names its bars only in a legend under the chart, a wrapping box
    32 px high (two rows of names) that scrolls past them; a card a third of the page wide holds about two short
    names a row, so more than 4 groups get wider cards (2 a row up to 6 groups, then 1), and the card grows with the
    bars (20 px each beyond 8)."""
    columns = 3 if groups <= 4 else 2 if groups <= 6 else 1
    return {"columns": columns, "cardHeight": max(360, 200 + 20 * groups)}


def scores_table(metrics: Mapping[str, float]) -> tuple[list[str], list[list[Any]]]:
    """A trial's final scores as one row per language: each metric, its stage-1 baseline, then the deltas; in
    points to 2 decimals (:func:`~xlsweep.tracking.runs.points_written`), which every column's name says."""
    per: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        name, _, lang = key.rpartition("/")
        if name and name != "dev":
            per.setdefault(lang, {})[name] = points_written(value)
    names = list(dict.fromkeys(n for row in per.values() for n in row))
    scores = [n for n in names if n not in _DELTAS and not n.startswith("baseline/")]
    columns = [c for m in scores for c in (m, f"baseline/{m}") if c in names] + [d for d in _DELTAS if d in names]
    rows = [[lang, *(row.get(c) for c in columns)] for lang, row in per.items() if any(m in row for m in scores)]
    return ["language", *(f"{c} ({UNIT})" for c in columns)], rows


def log_final_metrics(run: Any, metrics: Mapping[str, float], final_step: int) -> None:
    """A trial's final metrics on its :class:`~xlsweep.tracking.TrialRun`: scores at step 0 (bar charts), the dev
    scores at ``final_step`` (they continue the per-checkpoint series), and the scores as ``scores.json``."""
    series = {k: v for k, v in metrics.items() if k.startswith("dev/") or k == "dev_avg"}
    run.log_metrics(series, final_step)
    run.log_metrics({k: v for k, v in metrics.items() if k not in series}, 0)
    run.log_table(*scores_table(metrics), "scores.json")


def report_tables(report: Any) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report's paper-shaped tables (and Table 3's Δ heatmap numbers) as (artifact file, columns, rows) for
    MLflow's table viewer: cells ``mean ± std`` ×100, ``*`` where the paired test is significant."""
    from xlsweep.report.paper_tables import AVG_EXCL_COLUMN, delta_frames
    from xlsweep.report.render import cell_text

    out = []
    for table in report.tables:
        base = table.metric.removeprefix("fs_")
        suffix = ("" if base == report.results.primary else f"_{base}") + (
            "_fewshot" if table.metric.startswith("fs_") else "")
        aux = AVG_EXCL_COLUMN in table.columns
        rows = [[row.label, row.n, *(cell_text(row.cells[c], row.n) + ("*" if row.cells[c].significant else "")
                                     for c in table.columns)] for row in table.rows]
        out.append((f"{'aux' if aux else 'method'}_table{suffix}.json",
                    [f"method ({table.metric}, {UNIT}: mean ± std)", "n", *table.columns], rows))
        if aux:
            deltas, mask = delta_frames(table)
            cells = [[label, deltas.attrs["n"][label],
                      *(_points(deltas.loc[label, c]) + ("*" if mask.loc[label, c] else "") for c in deltas.columns)]
                     for label in deltas.index]
            out.append((f"aux_target_delta{suffix}.json", [f"aux (Δ {table.metric}, {UNIT})", "n", *deltas.columns],
                        cells))
    return out


def _points(fraction: float) -> str:
    return "–" if math.isnan(fraction) else f"{round(fraction * 100, 1) + 0.0:+.1f}"  # + 0.0: never -0.0


def sweep_description(*, sweep: str, sweep_id: str, report: Any | None, finished: int, failed: int, stopped: int,
                      out_dir: str, page: str | None, runs: str | None, charts: str | None = None,
                      problem: str | None = None, viewer: str | None = None) -> str:
    """The parent run's Markdown description: the answer first (the UI shows the first lines, then "Show more"),
    then the best choice per target, the trial counts and where everything is.

    ``page`` (the report page ``xlsweep ui`` serves, else the heatmap in the artifact viewer), ``viewer`` (the report
    in the artifact viewer, for a plain ``mlflow server``), ``runs`` and ``charts`` are routes relative to the UI's
    root (``/xlsweep/report/…``, ``/#/experiments/…``).
    """
    is_report = bool(page) and (REPORT_ROUTE in str(page) or str(page).split("?")[0].endswith(REPORT_FILE))
    links = [("report" if is_report else "heatmap", page), ("in the artifact viewer", viewer),
             ("trials grouped, Δ per target", runs), ("Δ charts", charts)]
    lines = [" · ".join(f"[{label}]({url})" for label, url in links if url), ""]
    if report is not None:
        lines += _best_lines(report)
    elif problem:
        lines += [f"No report: {problem}", ""]
    lines += [f"**Trials:** {finished} finished · {failed} failed · {stopped} stopped early", "",
              f"**Outputs:** `{out_dir}` (tables, heatmap, `trials.csv`, `sweep.yaml`; `xlsweep resume` reads it)", "",
              f"Sweep `{sweep}`, id `{sweep_id}` (`tags.xlsweep.parent_sweep_id` of its trials)."]
    return "\n".join(lines)


def _best_lines(report: Any) -> list[str]:
    """The best choice per target and the best zero-shot one, with the report's own verdicts (``report.ranked``:
    the ones report.html, the heatmap and best_pairs.csv show)."""
    from xlsweep.report.best_pairs import zero_shot_best

    metric, ranked, options = report.metric, report.ranked, report.options
    if not ranked:
        return ["No best choices: no trial scored the metric", ""]
    rows = []
    for target, pairs in ranked.items():
        if not pairs:
            continue
        zero = zero_shot_best(pairs)
        best = _choice_cells(pairs[0])
        if zero is None:
            other = "none (every choice read its data) | –"
        else:
            cells = _choice_cells(zero)
            other = f"{'the best choice' if zero is pairs[0] else cells[0]} | {cells[1]}{cells[2]}"
        rows.append(f"| {target} | {' | '.join(best)} | {other} |")
    return [f"**Best choice per target** (Δ {metric} vs the stage-1 baseline, ×100, mean over seeds; \\* significant "
            f"after {options.correction_name} over the sweep's {_family(ranked)} tests, {options.short.split(',')[0]}; "
            "† its auxiliary languages include the target; *zero-shot*: the best choice not trained on the "
            "target's data):", "",
            "| target | best choice | Δ | sig | n | zero-shot best | Δ |", "|---|---|---:|:-:|---:|---|---:|",
            *rows, ""]


def _choice_cells(pair: Any) -> list[str]:
    test = pair.test
    delta = "–" if math.isnan(test.mean_diff) else f"{test.mean_diff * 100:+.1f}"
    label = pair.label.replace("|", "/") + (" †" if pair.uses_target else "")
    return [label, delta, "\\*" if pair.significant else "", str(test.n)]


def _family(ranked: Any) -> int:
    return next((p.family for pairs in ranked.values() for p in pairs), 0)
