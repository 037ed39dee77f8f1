"""The ``xlsweep`` command line.

    xlsweep sweep tune_configs/demo.yaml          # run a sweep (local Ray, sqlite MLflow)
    xlsweep resume runs/demo                      # continue an interrupted sweep (its latest run)
    xlsweep ui                                    # browse the sweeps in MLflow (127.0.0.1)
    xlsweep validate tune_configs/demo.yaml       # check a config and list its trials
    xlsweep search-pairs CONFIG --budget 0.15     # the best auxiliary pair per target, 15 % of the grid's compute
    xlsweep languages                             # the synthetic languages and their relatedness
    xlsweep export-synthetic DIR --task ner       # the synthetic data in the real formats
    xlsweep report --experiment demo              # tables, heatmap, best pairs of the latest demo sweep
    xlsweep best-pairs --experiment demo --top 3  # per target, the best auxiliary choices
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ray Tune sweeps of cross-lingual meta-learning (X-MAML, XLA-MAML), tracked in MLflow.")

ConfigArg = Annotated[Path, typer.Argument(help="A sweep config, e.g. tune_configs/demo.yaml.")]


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _load(config: Path):  # type: ignore[no-untyped-def]
    from xlsweep.config import ConfigError
    from xlsweep.plan import load_sweep

    try:
        return load_sweep(config)
    except ConfigError as err:
        _fail(str(err))


AddressOpt = Annotated[str | None, typer.Option(help="Ray cluster address (auto or HOST:PORT); "
                                                    "default: a local Ray instance.")]


@app.command()
def sweep(
    config: ConfigArg,
    address: AddressOpt = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI; default: the config's, "
                                                          "$MLFLOW_TRACKING_URI, or ./mlflow.db.")] = None,
    output_dir: Annotated[str | None, typer.Option(help="Where the sweep writes; default: the config's.")] = None,
    dir_mode: Annotated[str, typer.Option(help="Permissions of the new sweep directory, octal: 700 (default) keeps "
                                               "it private; 750 lets your group read it (a resume reads files "
                                               "back from it: never let others write there).")] = "700",
) -> None:
    """Run a sweep: stage 1 once, then one Tune trial per grid cell, each an MLflow child run."""
    mode = _dir_mode(dir_mode)
    cfg = _load(config)
    from xlsweep.config import ConfigError
    from xlsweep.sweep.runner import SweepError, run_sweep

    try:
        outcome = run_sweep(cfg, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                            log=lambda line: typer.echo(line), dir_mode=mode)
    except (SweepError, ConfigError) as err:
        _fail(str(err))
    _summary(outcome)


def _dir_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777 or mode & 0o700 != 0o700 or mode & 0o002:
        _fail(f"--dir-mode: got {text!r}; expected octal permissions with rwx for you and no write for others, "
              "e.g. 700 (private) or 750 (your group may read)")
    return mode


@app.command("search-pairs")
def search_pairs(
    config: ConfigArg,
    budget: Annotated[float | None, typer.Option(help="Share of the full grid's meta-steps, in (0, 1]; default: "
                                                      "the config's pair_search.budget (0.15).")] = None,
    address: AddressOpt = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI; default: the config's, "
                                                          "$MLFLOW_TRACKING_URI, or ./mlflow.db.")] = None,
    output_dir: Annotated[str | None, typer.Option(help="Where the sweep writes; default: the config's.")] = None,
) -> None:
    """Search the best auxiliary pair per target over the config's grid.aux within a budget (pair_search)."""
    from xlsweep.config import ConfigError
    from xlsweep.plan import parse_sweep
    from xlsweep.sweep.sweep_dir import sweep_yaml

    raw = sweep_yaml(_load(config))
    raw["pair_search"] = {**raw["pair_search"], "enabled": True, **({} if budget is None else {"budget": budget})}
    try:
        cfg = parse_sweep(raw)
    except ConfigError as err:
        _fail(f"{config}: {err}")
    from xlsweep.sweep.runner import SweepError, run_sweep

    try:
        outcome = run_sweep(cfg, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                            log=lambda line: typer.echo(line))
    except (SweepError, ConfigError) as err:
        _fail(str(err))
    _summary(outcome)


@app.command()
def resume(
    target: Annotated[str, typer.Argument(help="A sweep directory (runs/<name>/<stamp>), or a sweep's name or "
                                               "folder (its latest run).")],
    address: AddressOpt = None,
    output_dir: Annotated[str, typer.Option(help="Where to look up a sweep given by name.")] = "runs",
) -> None:
    """Continue an interrupted sweep: finished trials are kept, running ones continue from their checkpoints."""
    from xlsweep.config import ConfigError
    from xlsweep.sweep.runner import SweepError, resume_sweep

    try:
        outcome = resume_sweep(target, address=address, output_dir=output_dir, log=lambda line: typer.echo(line))
    except (SweepError, ConfigError) as err:
        _fail(str(err))
    _summary(outcome)


def _summary(outcome) -> None:  # type: ignore[no-untyped-def]
    typer.echo("")
    for failure in outcome.failures:
        typer.secho(f"failed trial {failure}", fg=typer.colors.RED)
    for reason in outcome.degenerate:  # scores of a model that learnt nothing must not pass for a result
        typer.secho(f"WARNING: degenerate {reason}", fg=typer.colors.YELLOW)
    if outcome.stopped:
        typer.echo(f"{len(outcome.stopped)} trial(s) stopped early by search.scheduler (listed above)")
    typer.echo(f"outputs:   {outcome.out_dir}")
    page = outcome.out_dir / "report.html"
    for name, path in (("page", page if page.is_file() else None), ("heatmap", outcome.heatmap),
                       ("table", outcome.table_csv), ("trials", outcome.trials_csv)):
        if path:
            typer.echo(f"{name + ':':<10} {path}")
    typer.echo(f"mlflow:    {outcome.tracking_uri} (parent run {outcome.parent_run_id})")
    _links(outcome.tracking_uri, outcome.parent_run_id)
    if outcome.interrupted:
        typer.secho(f"interrupted: continue with  xlsweep resume {outcome.out_dir}", fg=typer.colors.YELLOW)
        raise typer.Exit(code=130)
    if outcome.failures or not outcome.records:
        raise typer.Exit(code=1)


def _links(tracking_uri: str, parent_run_id: str) -> None:
    """The sweep's report page and runs table in the MLflow UI (for a local store: once `xlsweep ui` serves it)."""
    from xlsweep.tracking import TrackingError, check_store
    from xlsweep.tracking.links import sweep_links
    from xlsweep.tracking.urls import ui_base

    try:
        check_store(tracking_uri, create=False, write=False, timeout=5)  # a server gone by now: seconds, not minutes
        links = sweep_links(tracking_uri, parent_run_id, ui_base(tracking_uri))
    except TrackingError as err:
        typer.echo(f"(no MLflow links: {err})")
        return
    except Exception as err:  # noqa: BLE001 - the links are a convenience; the run's id is printed already
        typer.echo(f"(no MLflow links: {type(err).__name__}: {err})")
        return
    for line in links.lines():
        typer.echo(line)
    if not tracking_uri.startswith(("http://", "https://")):
        typer.echo(f"           (serve them with: xlsweep ui --tracking-uri {tracking_uri})")


@app.command()
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
        _fail(f"--port: got {port}; expected a TCP port between 1 and 65535")
    uri = absolute_tracking_uri(tracking_uri or default_tracking_uri())
    if uri.startswith(("http://", "https://")):
        _fail(f"--tracking-uri: {uri} is already a server; open it in a browser")
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        _fail(f"--tracking-uri: no MLflow database at {uri.removeprefix('sqlite:///')}; run a sweep first, or "
              "pass the --tracking-uri a sweep printed")
    base = ui_base(uri, port)
    try:
        check_store(uri, create=False, write=False)
        open_client(uri)  # an older database is migrated here, under the lock sweeps take, not by the server
    except TrackingError as err:
        _fail(f"--tracking-uri: {err}")
    try:
        links = latest_sweep(uri, base, experiment=experiment)
        warnings = moved_store_warnings(uri)
    except ValueError as err:
        _fail(str(err))
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
        _fail(str(err))
    typer.echo("MLflow UI stopped")


@app.command()
def validate(configs: Annotated[list[Path], typer.Argument(help="Sweep configs, e.g. tune_configs/demo.yaml or "
                                                                 "tune_configs/paper/*.yaml.")]) -> None:
    """Check sweep configs (keys, types, ranges, languages, every grid cell, repeats, directories, the model's
    config, local data files and their contents) and list their trials; one error per invalid config, exit 2.

    Offline, a hub model that is not in the local HF cache is a warning (a sweep checks it before it starts).
    """
    invalid = 0
    for config in configs:
        try:
            _validate(config)
        except typer.Exit:  # its one error is printed; the other configs are still checked
            invalid += 1
    if invalid:
        raise typer.Exit(code=2)


def _validate(config: Path) -> None:
    cfg = _load(config)
    from xlsweep.config import ConfigError
    from xlsweep.plan import expand_grid
    from xlsweep.plan.preflight import preflight
    from xlsweep.sweep.runner import SweepError, check_data_files

    try:
        cells = expand_grid(cfg)
        check_data_files(cells, cfg)
        checked = preflight(cells, cfg, warn=lambda line: typer.secho(f"warning: {line}", fg=typer.colors.YELLOW,
                                                                      err=True))
    except (SweepError, ConfigError) as err:
        _fail(f"{config}: {err}")
    if cfg.search.searcher == "optuna":
        typer.echo(f"{config}: valid; sweep {cfg.name!r} has {cfg.search.num_samples} trials whose "
                   f"{', '.join(cfg.search.space)} Optuna proposes, optimising {cfg.search.metric}")
    else:
        typer.echo(f"{config}: valid; sweep {cfg.name!r} has {len(cells)} trial{'' if len(cells) == 1 else 's'}")
    files = "data files exist" if any(c.data.benchmark != "synthetic" for _, c in cells) else "synthetic data"
    typer.echo(f"checked: {len(cells)} trial config{'' if len(cells) == 1 else 's'} (keys, types, ranges, languages, "
               f"no repeated values or X-MAML settings), {files}, {', '.join(checked)}")
    from xlsweep.plan import repeated_trials
    from xlsweep.plan.encoder_settings import tiny_default_warnings

    for line in tiny_default_warnings(trial for _, trial in cells) + repeated_trials(cells):
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)
    if cfg.pair_search.enabled:  # the search runs some of these trials, some only part of the way
        from xlsweep.plan.pair_search import describe

        for line in describe(cfg):
            typer.echo(line)
    for overrides, trial in cells:
        m = trial.meta
        typer.echo(f"  {m.algorithm:<8} support={','.join(m.support):<8} query={','.join(m.query) or '(same)':<8} "
                   + " ".join(f"{k}={v}" for k, v in overrides.items() if k != "aux"))


def _synthetic(task: str, **options: object):  # type: ignore[no-untyped-def]
    """The synthetic benchmark built from a config's ``data.synthetic`` (its defaults; the given options override)."""
    import re

    from xlsweep.config import ConfigError
    from xlsweep.data.benchmark import load_benchmark
    from xlsweep.plan import synthetic_data

    try:
        return load_benchmark(synthetic_data(task, {k: v for k, v in options.items() if v is not None}))
    except ConfigError as err:  # name the option, not the config key
        _fail(re.sub(r"data\.synthetic\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), str(err)))


@app.command()
def languages(
    config: Annotated[Path | None, typer.Argument(help="A sweep config: print its data.synthetic family.")] = None,
    seed: Annotated[int, typer.Option(help="Benchmark seed.")] = 0,
    n: Annotated[int | None, typer.Option("--languages", help="A random family of N languages instead of the "
                                                              "default one.")] = None,
    family_seed: Annotated[int, typer.Option(help="The random family's seed.")] = 0,
) -> None:
    """A synthetic family's languages and their planted relatedness (share of cognate words)."""
    from xlsweep.config.schema import SyntheticDataConfig
    from xlsweep.data.benchmark import synthetic_benchmark
    from xlsweep.data.families import family_lines

    if config is not None:
        if n is not None:
            _fail("--languages: give a config or --languages, not both")
        data = _load(config).trial.data
        if data.benchmark != "synthetic":
            _fail(f"{config}: data.benchmark is {data.benchmark!r}; only the synthetic benchmark has a planted family")
        synthetic = data.synthetic
    else:
        synthetic = SyntheticDataConfig(seed=seed, languages=n or (), family_seed=family_seed)
    try:
        bench = synthetic_benchmark(synthetic)
    except ValueError as err:
        _fail(f"--languages: {err}")
    for line in family_lines(bench.family, bench.relatedness):
        typer.echo(line)


SyntheticOpt = "default: as data.synthetic in a sweep config (xlsweep/config/schema.py)"


@app.command("export-synthetic")
def export_synthetic(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the files.")],
    task: Annotated[str, typer.Option(help="nli, qa, ner or sentiment.")] = "nli",
    seed: Annotated[int | None, typer.Option(help=f"Benchmark seed; {SyntheticOpt}.")] = None,
    train_size: Annotated[int | None, typer.Option(help=f"Examples per language in train; {SyntheticOpt}.")] = None,
    dev_size: Annotated[int | None, typer.Option(help=f"Examples per language in dev; {SyntheticOpt}.")] = None,
    test_size: Annotated[int | None, typer.Option(help=f"Examples per language in test; {SyntheticOpt}.")] = None,
    purity: Annotated[float | None, typer.Option(help=f"Share of topic words (lower is harder); {SyntheticOpt}.")]
    = None,
    n_topics: Annotated[int | None, typer.Option(help=f"Topics, a multiple of 3; {SyntheticOpt}.")] = None,
    words_per_pool: Annotated[int | None, typer.Option(help=f"Words per pool, at least 4; {SyntheticOpt}.")] = None,
) -> None:
    """Write the synthetic benchmark in the real formats (XNLI TSV, SQuAD JSON, WikiAnn text, JSON lines).

    The benchmark is the one a sweep builds from ``data.synthetic`` with the same values, so its numbers compare.
    """
    from xlsweep.data.export import export_synthetic as export
    from xlsweep.data.schema import TASKS

    if task not in TASKS:
        _fail(f"--task: got {task!r}; expected one of {', '.join(TASKS)}")
    bench = _synthetic(task, seed=seed, train_size=train_size, dev_size=dev_size, test_size=test_size, purity=purity,
                       n_topics=n_topics, words_per_pool=words_per_pool)
    try:
        sources = export(bench, out_dir)
    except OSError as err:
        _fail(f"{out_dir}: cannot write the files ({err}); expected a writable directory")
    langs = ", ".join(bench.languages)
    qa = f"  doc_stride: 24\n  qa_whitespace_languages: [{langs}]  # invented languages: whitespace tokens\n"
    typer.echo(f"wrote the synthetic {task} benchmark ({langs}; purity {bench.purity}, {bench.n_topics} topics, "
               f"{bench.words_per_pool} words per pool, seed {bench.seed}) to {out_dir.resolve()}")
    typer.echo("use it as a custom benchmark:\n\ndata:\n  benchmark: custom\n"
               f"  task: {task}\n  source: {bench.languages[0]}\n  languages: [{langs}]\n"
               f"{qa if task == 'qa' else ''}  sources: {{'*': '{sources['*']}'}}")


ExperimentOpt = Annotated[str | None, typer.Option(
    "--experiment", help="MLflow experiment (by default the sweep's name): report its latest sweep, i.e. the "
                         "parent run that started last.")]
ParentRunOpt = Annotated[str | None, typer.Option(
    "--parent-run", help="A sweep's parent run id: report that sweep (with --experiment, it must be in it).")]
TrackingOpt = Annotated[str | None, typer.Option(
    help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI, or ./mlflow.db.")]
MetricOpt = Annotated[str | None, typer.Option(help="Metric to report, e.g. acc, f1, em; default: the task's primary.")]


@app.command()
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
) -> None:
    """Tables in the papers' shapes, heatmap and best pairs of a sweep, read from MLflow (mean ± std over seeds)."""
    from xlsweep.report.render import parse_formats
    from xlsweep.report.sweep_report import report_from_mlflow
    from xlsweep.report.sweep_results import ReportError
    from xlsweep.tracking import default_tracking_uri

    try:
        done = report_from_mlflow(tracking_uri or default_tracking_uri(), experiment=experiment,
                                  parent_run_id=parent_run, out_dir=out, formats=parse_formats(format),
                                  metric=metric, baseline=baseline, ui_base=ui_url)
    except ReportError as err:
        _fail(str(err))
    for line in done.lines:
        typer.echo(line)
    typer.echo("")
    for path in done.paths:
        typer.echo(f"wrote {path}")
    _links(done.results.tracking_uri, done.results.parent_run_id)


@app.command("best-pairs")
def best_pairs(
    experiment: ExperimentOpt = None,
    parent_run: ParentRunOpt = None,
    tracking_uri: TrackingOpt = None,
    target: Annotated[str | None, typer.Option(help="Only this target language; default: every target.")] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show the best K choices per target; default: all.")] = None,
    metric: MetricOpt = None,
) -> None:
    """For each target language, the auxiliary choices ranked by mean improvement over the stage-1 baseline."""
    from xlsweep.report.best_pairs import best_pairs as rank_pairs
    from xlsweep.report.best_pairs import best_pairs_lines
    from xlsweep.report.from_mlflow import load_sweep_results
    from xlsweep.report.sweep_report import resolve_metric
    from xlsweep.report.sweep_results import ReportError
    from xlsweep.tracking import default_tracking_uri

    try:
        results = load_sweep_results(tracking_uri or default_tracking_uri(), experiment=experiment,
                                     parent_run_id=parent_run)
        chosen = resolve_metric(results, metric)
        lines = best_pairs_lines(rank_pairs(results.records, chosen, target=target), chosen, top=top)
    except ReportError as err:
        _fail(str(err))
    typer.echo(f"sweep {results.sweep!r} (parent run {results.parent_run_id}): {len(results.records)} finished "
               f"trial(s), {len(results.excluded)} excluded")
    for line in lines:
        typer.echo(line)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
