"""Every report of one sweep, from MLflow: the paper-shaped tables, the heatmap, best pairs.

What ``xlsweep report`` runs, and what the sweep runner calls when a sweep ends::

    report = report_from_mlflow(tracking_uri, parent_run_id=run_id, out_dir=out_dir)
    for line in report.lines: print(line)
    report.paths  # the files written

Files in ``out_dir`` (``<stem>`` gets ``_<metric>`` when the metric is not the task's
primary one, and ``_fewshot`` for the few-shot scores ``fs_<metric>`` when trials have them):

* meta-learning trials: ``aux_table.{md,csv,tex}`` (Table 3 of XLA-MAML),
  ``aux_target_delta.png`` (heatmap, significant cells marked) and ``aux_target_delta.csv``;
* MetaXL-family trials: ``method_table.{md,csv,tex}`` (Tables 2/4 of MetaXL);
* with ``select_on_dev`` keys (:mod:`xlsweep.report.dev_selection`), next to those: ``aux_table_dev_selected``,
  ``aux_target_delta_dev_selected`` and ``method_table_dev_selected``, the dev-best values' test scores;
* always: ``best_pairs.csv`` and ``report.html`` (last), the self-contained page of all of them
  (:mod:`xlsweep.report.html_report`) — ``report.html`` is the one name other code may rely on.

**Interface for the MLflow side** (the sweep runner logs every path of ``SweepReport.paths``
to the parent run, at the artifact root): ``report.html`` is among the paths
(:data:`~xlsweep.report.html_report.REPORT_HTML`), so the page of a sweep is served at
``served_file_url(server, parent_run_id, "report.html")`` = ``<server>/get-artifact?path=report.html&run_uuid=<id>``
and shown by the UI's artifact viewer at ``artifact_url(...)`` (:mod:`xlsweep.tracking.urls`).
The page's links go to ``<ui_base>#/experiments/<experiment id>/runs/<run id>`` (one run) or the
UI's compare view (a cell's or row's runs, one per seed); ``ui_base`` defaults to ``/`` — relative
to the MLflow server that serves the page —, else ``$XLSWEEP_UI_URL`` or ``--ui-url``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlsweep.report.best_pairs import RankedPair, best_pairs, write_best_pairs_csv
from xlsweep.report.dev_selection import select_on_dev, selection_note
from xlsweep.report.from_mlflow import load_sweep_results
from xlsweep.report.heatmap import write_csv, write_heatmap
from xlsweep.report.html_report import REPORT_HTML, write_html_report
from xlsweep.report.paper_tables import (
    STAGE1,
    PaperTable,
    aux_paper_table,
    delta_frames,
    method_paper_table,
    untested_frame,
)
from xlsweep.report.render import FORMATS, markdown, write_table
from xlsweep.report.row_groups import TRANSFER
from xlsweep.report.stats import DEFAULT_ALPHA
from xlsweep.report.sweep_results import ReportError, RunRecord, SweepResults
from xlsweep.report.verdict import TestOptions
from xlsweep.tracking.runs import UNIT, points_written
from xlsweep.tracking.urls import normalise_base

__all__ = ["UI_URL_ENV", "SweepReport", "check_out_dir", "default_out_dir", "report_from_mlflow", "resolve_metric",
           "safe_name", "write_report"]

UI_URL_ENV = "XLSWEEP_UI_URL"
"""The report page's MLflow UI base when none is passed (default: ``/``, relative to the serving server)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


@dataclass(frozen=True)
class SweepReport:
    """What :func:`write_report` made: the tables, the files and the lines to print."""

    results: SweepResults
    metric: str
    tables: tuple[PaperTable, ...]
    paths: tuple[Path, ...]
    lines: tuple[str, ...]
    ranked: Mapping[str, Sequence[RankedPair]] = field(default_factory=dict)  # best pairs of `metric`: the verdicts
    options: TestOptions = TestOptions()


def safe_name(name: str) -> str:
    """``name`` (read from the tracking store: anyone who can write there chose it) as one safe path component:
    separators and other characters outside ``[A-Za-z0-9._+=-]`` become ``_``, leading dots are dropped (no
    ``..``, no hidden file), and nothing left becomes ``sweep``."""
    slug = _UNSAFE.sub("_", name).lstrip(".")[:100]
    return slug or "sweep"


def default_out_dir(sweep: str) -> Path:
    """``./reports/<sweep name>``, the name made a safe directory name (:func:`safe_name`)."""
    return Path("reports") / safe_name(sweep)


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` if the reports can be written there (created if missing); else one :class:`ReportError`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out: {str(out)!r} is a file; expected a directory for the report files")
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ReportError(f"--out: {str(existing)!r} is a file, so {str(out)!r} cannot be a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"--out: cannot write to {str(out)!r} ({str(existing)!r} is not writable); "
                          "pass a writable --out")
    return out


def report_from_mlflow(tracking_uri: str, *, parent_run_id: str | None = None, experiment: str | None = None,
                       out_dir: str | Path | None = None, formats: Sequence[str] = FORMATS,
                       metric: str | None = None, baseline: str | None = None,
                       alpha: float = DEFAULT_ALPHA, ui_base: str | None = None,
                       options: TestOptions | None = None) -> SweepReport:
    """Load a sweep from MLflow (:func:`load_sweep_results`) and write its reports (:func:`write_report`).

    ``out_dir`` defaults to ``./reports/<sweep name>``. Raises :class:`ReportError` for an ``out_dir`` that
    cannot be written (checked first when given) and for files that cannot be written (a full disk).
    """
    base = _ui_base(ui_base)  # a bad --ui-url fails before the store is read
    if out_dir is not None:
        check_out_dir(out_dir)
    results = load_sweep_results(tracking_uri, experiment=experiment, parent_run_id=parent_run_id)
    out = check_out_dir(out_dir if out_dir is not None else default_out_dir(results.sweep))
    try:
        return write_report(results, out, formats=formats, metric=metric, baseline=baseline, alpha=alpha,
                            ui_base=base, options=options)
    except OSError as err:
        raise ReportError(f"cannot write the reports to {str(out)!r}: {err.strerror or err}"
                          f"{f' ({err.filename})' if err.filename else ''}") from None


def resolve_metric(results: SweepResults, metric: str | None) -> str:
    """``metric``, else the sweep's primary metric, checked against what the trials scored."""
    available = sorted({m for r in results.records for m, per in r.scores.items() if per})
    chosen = metric or results.primary
    if chosen is None:
        raise ReportError(f"no primary metric: parent run {results.parent_run_id!r} has no tag xlsweep.primary; "
                          f"pass --metric, one of {available}")
    if chosen not in available:
        raise ReportError(f"--metric: unknown metric {chosen!r}: expected one of {available}")
    return chosen


def write_report(results: SweepResults, out_dir: str | Path, *, formats: Sequence[str] = FORMATS,
                 metric: str | None = None, baseline: str | None = None,
                 alpha: float = DEFAULT_ALPHA, ui_base: str | None = None,
                 options: TestOptions | None = None) -> SweepReport:
    """Write every report of ``results`` to ``out_dir``; see the module docstring for the files.

    Args:
        results: A loaded sweep.
        out_dir: Where the files go (created).
        formats: Table formats, a subset of ``("md", "csv", "tex")``.
        metric: The score to report; ``None`` takes the sweep's primary metric.
        baseline: MetaXL tables' reference method (see :func:`method_paper_table`);
            meta-learning tables always compare with the stage-1 baseline.
        alpha: Significance level of the tests (when ``options`` are not given).
        options: The test and correction (:class:`~xlsweep.report.verdict.TestOptions`; default: the
            hierarchical paired bootstrap, Holm, at ``alpha``): every table, the heatmap, ``best_pairs.csv``,
            report.html and :attr:`SweepReport.ranked` carry the same verdicts.
        ui_base: Where ``report.html`` links to the MLflow UI (:mod:`xlsweep.tracking.urls`); ``None``:
            ``$XLSWEEP_UI_URL``, else ``/`` (relative to the server that serves the page).

    Raises:
        ReportError: On an unknown metric, format or baseline, or a bad ``ui_base``.
    """
    base = _ui_base(ui_base)
    options = options or TestOptions(alpha=alpha)
    chosen = resolve_metric(results, metric)
    records = results.records
    maml = any(r.algorithm not in TRANSFER for r in records)
    transfer = any(r.algorithm in TRANSFER for r in records)
    if baseline not in (None, STAGE1) and not transfer:
        raise ReportError(f"--baseline {baseline!r}: this sweep has only meta-learning trials, whose tables compare "
                          f"with the stage-1 baseline; expected no --baseline (or {STAGE1!r})")
    out = Path(out_dir)
    suffix = "" if chosen == results.primary else f"_{safe_name(chosen)}"  # a metric name from the store
    few_shot = not chosen.startswith("fs_") and any(r.scores.get(f"fs_{chosen}") for r in records)
    modes = [("", chosen, "zero-shot"), *([("_fewshot", f"fs_{chosen}", "few-shot")] if few_shot else [])]
    tables: list[PaperTable] = []
    paths: list[Path] = []
    ranked = best_pairs(records, chosen, options=options)  # the verdicts every view of `chosen` shows
    for tag, name, mode in modes:
        shared = ranked if name == chosen else best_pairs(records, name, options=options)
        if maml:
            table = aux_paper_table(records, name, options=options, ranked=shared,
                                    title=f"{results.sweep}: {name} by auxiliary languages ({mode})")
            tables.append(table)
            paths += write_table(table, out / f"aux_table{suffix}{tag}", formats)
            paths += _heatmap(table, out / f"aux_target_delta{suffix}{tag}", formats, sweep=results.sweep, mode=mode)
            selected = dev_selected_aux_table(records, name, results, options=options, mode=mode)
            if selected is not None:  # the tuned keys chosen on dev, next to the per-value table and heatmap
                tables.append(selected)
                paths += write_table(selected, out / f"aux_table_dev_selected{suffix}{tag}", formats)
                paths += _heatmap(selected, out / f"aux_target_delta_dev_selected{suffix}{tag}", formats, mode=mode,
                                  sweep=f"{results.sweep}, {', '.join(results.select_on_dev)} selected on dev")
        if transfer:
            table = method_paper_table(records, name, baseline=baseline, options=options, ranked=shared,
                                       title=f"{results.sweep}: {name} by method ({mode})")
            tables.append(table)
            paths += write_table(table, out / f"method_table{suffix}{tag}", formats)
            if results.select_on_dev:  # the tuned keys chosen on dev, next to the per-value table
                table = dev_selected_table(records, name, results, baseline=baseline, options=options, mode=mode)
                tables.append(table)
                paths += write_table(table, out / f"method_table_dev_selected{suffix}{tag}", formats)
    paths.append(write_best_pairs_csv(ranked, out / f"best_pairs{suffix}.csv"))
    page = REPORT_HTML if not suffix else f"report{suffix}.html"
    paths.append(write_html_report(out / page, results, tables, ranked, metric=chosen, ui_base=base, options=options))
    return SweepReport(results, chosen, tuple(tables), tuple(paths), tuple(_lines(results, tables)), ranked, options)


def dev_selected_table(records: Sequence[RunRecord], metric: str, results: SweepResults, *, baseline: str | None,
                       options: TestOptions, mode: str) -> PaperTable:
    """The method table of the trials of each method's dev-best values of ``results.select_on_dev``."""
    keys, per_target = results.select_on_dev, results.select_per_target
    chosen, selections = select_on_dev(records, keys, per_target=per_target)
    table = method_paper_table(chosen, metric, baseline=baseline, options=options,
                               title=f"{results.sweep}: {metric} by method, {', '.join(keys)} selected on dev ({mode})")
    return dataclasses.replace(table, notes=(*table.notes, selection_note(selections, keys, per_target)))


def dev_selected_aux_table(records: Sequence[RunRecord], metric: str, results: SweepResults, *,
                           options: TestOptions, mode: str) -> PaperTable | None:
    """The aux table of the meta-learning trials of each row's dev-best values of ``results.select_on_dev``;
    ``None`` when no meta-learning trial varies in those keys (or none has a dev score to choose by)."""
    keys, per_target = results.select_on_dev, results.select_per_target
    maml = [r for r in records if r.algorithm not in TRANSFER]
    chosen, selections = select_on_dev(maml, keys, per_target=per_target)
    if not selections:
        return None
    table = aux_paper_table(chosen, metric, options=options, title=f"{results.sweep}: {metric} by auxiliary languages, "
                                                               f"{', '.join(keys)} selected on dev ({mode})")
    return dataclasses.replace(table, notes=(*table.notes, selection_note(selections, keys, per_target)))


def _ui_base(ui_base: str | None) -> str:
    try:
        return normalise_base(ui_base or os.environ.get(UI_URL_ENV))
    except ValueError as err:
        raise ReportError(str(err)) from None


def _heatmap(table: PaperTable, stem: Path, formats: Sequence[str], *, sweep: str, mode: str) -> list[Path]:
    deltas, mask = delta_frames(table)
    if deltas.empty:
        return []
    title = f"{sweep}: Δ {table.metric} vs stage-1 baseline ({mode}), mean over seeds"
    label = f"significant difference: {table.options.short}-adjusted, α = {table.options.alpha:g}"
    paths = [write_heatmap(deltas, Path(f"{stem}.png"), title=title, metric=table.metric, significant=mask,
                           untested=untested_frame(table), significant_label=label)]
    if "csv" in formats:
        in_points = deltas.map(points_written)  # the unit the page and MLflow use, 2 decimals, named in the header
        in_points.index.name = f"aux (Δ {table.metric}, {UNIT})"
        paths.append(write_csv(in_points, Path(f"{stem}.csv")))
    return paths


def _lines(results: SweepResults, tables: Sequence[PaperTable]) -> list[str]:
    lines = [f"sweep {results.sweep!r} (parent run {results.parent_run_id}, experiment {results.experiment!r}, "
             f"{results.status}): {len(results.records)} finished trial(s)"]
    lines += list(results.notes)
    for table in tables:
        lines += ["", *markdown(table).splitlines()]
    if results.excluded:
        lines += ["", f"excluded {len(results.excluded)} trial run(s):"]
        lines += [f"  {e.line()}" for e in results.excluded]
    return lines
