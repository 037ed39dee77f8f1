"""A finished sweep: ``ui`` serves its store in the MLflow UI, ``report`` and ``best-pairs`` read it back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xlsweep.cli.common import ExperimentOpt, MetricOpt, ParentRunOpt, TrackingOpt, fail, print_links

__all__ = ["best_pairs", "report", "ui"]


TestOpt = Annotated[str, typer.Option(
    help="Significance test: pooled (per-seed paired bootstrap of the test examples, seed variance pooled over the "
         "family), bootstrap (two-sided hierarchical paired bootstrap over seeds and test examples) or t-test "
         "(one-sided paired t-test over seeds); see docs/statistics.md.")]
CorrectionOpt = Annotated[str, typer.Option(
    help="Multiple-comparison correction: holm (family-wise error, for claims) or bh (Benjamini-Hochberg, false "
         "discovery rate).")]


def ui(
    tracking_uri: Annotated[str | None, typer.Option(help="The sweeps' MLflow store; default: "
                                                          "$MLFLOW_TRACKING_URI or ./mlflow.db.")] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    experiment: Annotated[str | None, typer.Option(
        help="Link the latest sweep of this experiment; default: the latest sweep of any.")] = None,
    open_browser: Annotated[bool, typer.Option(
        "--open", help="Open the sweep's report page in a browser once the server is up.")] = False,
) -> None:
    """Serve the sweeps' store in the MLflow UI on 127.0.0.1 and print direct links to the latest sweep's report
    page and runs table (Ctrl-C, SIGTERM or SIGHUP stops the server)."""
    from xlsweep.tracking import (
        TrackingError,
        absolute_tracking_uri,
        check_store,
        default_tracking_uri,
        open_client,
        serve_ui,
    )
    from xlsweep.tracking.links import latest_sweep, moved_store_warnings
    from xlsweep.tracking.urls import ui_base

    if not 1 <= port <= 65535:
        fail(f"--port: got {port}; expected a TCP port between 1 and 65535")
    uri = absolute_tracking_uri(tracking_uri or default_tracking_uri())
    if uri.startswith(("http://", "https://")):
        fail(f"--tracking-uri: {uri} is already a server; open it in a browser")
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        fail(f"--tracking-uri: no MLflow database at {uri.removeprefix('sqlite:///')}; run a sweep first, or "
              "pass the --tracking-uri a sweep printed")
    base = ui_base(uri, port)
    try:
        check_store(uri, create=False, write=False)
        open_client(uri)  # an older database is migrated here, under the lock sweeps take, not by the server
    except TrackingError as err:
        fail(f"--tracking-uri: {err}")
    try:
        links = latest_sweep(uri, base, experiment=experiment)
        warnings = moved_store_warnings(uri)
    except ValueError as err:
        fail(str(err))
    for warning in warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)

    def ready(url: str) -> None:
        typer.echo(f"MLflow UI for {uri}: {url}  (Ctrl-C stops it)")
        if links is None:
            typer.echo("no sweep in this store yet")
            return
        typer.echo(f"latest sweep {links.sweep!r} (parent run {links.parent_run_id}):")
        for line in links.lines():
            typer.echo(f"  {line}")
        if open_browser:
            import webbrowser

            if not webbrowser.open(links.page):
                typer.echo("  (no browser found here: open the link above)")

    try:
        serve_ui(uri, port=port, on_ready=ready,
                 on_start=lambda url: typer.echo(f"starting MLflow UI on {url} (this takes 10-60 s) ..."))
    except RuntimeError as err:
        fail(str(err))
    typer.echo("MLflow UI stopped")


def report(
    experiment: ExperimentOpt = None,
    parent_run: ParentRunOpt = None,
    tracking_uri: TrackingOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output directory; default: ./reports/<sweep name>.")] = None,
    format: Annotated[str, typer.Option(help="Table formats, comma-separated: md, csv, tex.")] = "md,csv,tex",
    metric: MetricOpt = None,
    baseline: Annotated[str | None, typer.Option(
        help="MetaXL-family sweeps: the method rows are tested against (jt, target-only, jt-rtn, metaxl, or "
             "stage1); default: jt, else target-only. Meta-learning tables always use the stage-1 "
             "baseline.")] = None,
    ui_url: Annotated[str | None, typer.Option(
        help="The MLflow UI that report.html links to, e.g. http://127.0.0.1:5000/; default: $XLSWEEP_UI_URL, "
             "else links relative to the server that serves the page.")] = None,
    test: TestOpt = "pooled",
    correction: CorrectionOpt = "holm",
) -> None:
    """Tables in the papers' shapes, heatmap and best pairs of a sweep, read from MLflow (mean ± std over seeds)."""
    from xlsweep.report.render import parse_formats
    from xlsweep.report.sweep_report import report_from_mlflow
    from xlsweep.report.sweep_results import ReportError
    from xlsweep.tracking import default_tracking_uri

    options = _test_options(test, correction)
    try:
        done = report_from_mlflow(tracking_uri or default_tracking_uri(), experiment=experiment,
                                  parent_run_id=parent_run, out_dir=out, formats=parse_formats(format),
                                  metric=metric, baseline=baseline, ui_base=ui_url, options=options)
    except ReportError as err:
        fail(str(err))
    for line in done.lines:
        typer.echo(line)
    typer.echo("")
    for path in done.paths:
        typer.echo(f"wrote {path}")
    print_links(done.results.tracking_uri, done.results.parent_run_id)


def best_pairs(
    experiment: ExperimentOpt = None,
    parent_run: ParentRunOpt = None,
    tracking_uri: TrackingOpt = None,
    target: Annotated[str | None, typer.Option(help="Only this target language; default: every target.")] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show the best K choices per target; default: all.")] = None,
    metric: MetricOpt = None,
    test: TestOpt = "pooled",
    correction: CorrectionOpt = "holm",
) -> None:
    """For each target language, the auxiliary choices ranked by mean improvement over the stage-1 baseline, with
    the best choice not trained on the target (zero-shot)."""
    from xlsweep.report.best_pairs import best_pairs as rank_pairs
    from xlsweep.report.best_pairs import best_pairs_lines
    from xlsweep.report.from_mlflow import load_sweep_results
    from xlsweep.report.sweep_report import resolve_metric
    from xlsweep.report.sweep_results import ReportError
    from xlsweep.tracking import default_tracking_uri

    options = _test_options(test, correction)
    try:
        results = load_sweep_results(tracking_uri or default_tracking_uri(), experiment=experiment,
                                     parent_run_id=parent_run)
        chosen = resolve_metric(results, metric)
        ranked = rank_pairs(results.records, chosen, target=target, options=options)
        lines = best_pairs_lines(ranked, chosen, top=top, options=options)
    except ReportError as err:
        fail(str(err))
    typer.echo(f"sweep {results.sweep!r} (parent run {results.parent_run_id}): {len(results.records)} finished "
               f"trial(s), {len(results.excluded)} excluded")
    for line in lines:
        typer.echo(line)


def _test_options(test: str, correction: str) -> Any:
    """The report's :class:`~xlsweep.report.verdict.TestOptions`, or one clear error before the store is read."""
    from xlsweep.report.verdict import TestOptions

    try:
        return TestOptions(test=test, correction=correction)
    except ValueError as err:
        fail(f"--{str(err).split(':')[0]}: {str(err).split(': ', 1)[1]}")
