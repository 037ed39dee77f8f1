"""The ``xlsweep`` command line.

    xlsweep sweep tune_configs/demo.yaml          # run a sweep (local Ray, sqlite MLflow)
    xlsweep validate tune_configs/demo.yaml       # check a config and list its trials
    xlsweep languages                             # the synthetic languages and their relatedness
    xlsweep export-synthetic DIR --task ner       # the synthetic data in the real formats
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
    from xlsweep.config import ConfigError, load_sweep

    try:
        return load_sweep(config)
    except ConfigError as err:
        _fail(str(err))


def _ui_command(uri: str) -> str:
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000"


@app.command()
def sweep(
    config: ConfigArg,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (auto or HOST:PORT); "
                                                     "default: a local Ray instance.")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI; default: the config's, "
                                                          "$MLFLOW_TRACKING_URI, or ./mlflow.db.")] = None,
    output_dir: Annotated[str | None, typer.Option(help="Where the sweep writes; default: the config's.")] = None,
) -> None:
    """Run a sweep: stage 1 once, then one Tune trial per grid cell, each an MLflow child run."""
    cfg = _load(config)
    from xlsweep.sweep.runner import SweepError, run_sweep

    try:
        outcome = run_sweep(cfg, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                            log=lambda line: typer.echo(line))
    except SweepError as err:
        _fail(str(err))
    typer.echo("")
    for failure in outcome.failures:
        typer.secho(f"failed trial {failure}", fg=typer.colors.RED)
    typer.echo(f"outputs:   {outcome.out_dir}")
    for name, path in (("heatmap", outcome.heatmap), ("table", outcome.table_csv), ("trials", outcome.trials_csv)):
        if path:
            typer.echo(f"{name + ':':<10} {path}")
    typer.echo(f"mlflow:    {outcome.tracking_uri} (parent run {outcome.parent_run_id})")
    if outcome.tracking_uri.startswith("sqlite:"):
        typer.echo(f"browse:    {_ui_command(outcome.tracking_uri)}  → http://127.0.0.1:5000")
    if outcome.failures or not outcome.records:
        raise typer.Exit(code=1)


@app.command()
def validate(config: ConfigArg) -> None:
    """Check a sweep config (types, keys, languages, every grid cell, local data files) and list its trials."""
    cfg = _load(config)
    from xlsweep.config import expand_grid
    from xlsweep.sweep.runner import SweepError, check_data_files

    cells = expand_grid(cfg)
    try:
        check_data_files(cells)
    except SweepError as err:
        _fail(f"{config}: {err}")
    typer.echo(f"{config}: valid; sweep {cfg.name!r} has {len(cells)} trial{'' if len(cells) == 1 else 's'}")
    for overrides, trial in cells:
        m = trial.meta
        typer.echo(f"  {m.algorithm:<8} support={','.join(m.support):<8} query={','.join(m.query) or '(same)':<8} "
                   + " ".join(f"{k}={v}" for k, v in overrides.items() if k != "aux"))


@app.command()
def languages(seed: Annotated[int, typer.Option(help="Benchmark seed.")] = 0) -> None:
    """The synthetic benchmark's languages and their planted relatedness (share of cognate words)."""
    from xlsweep.data.synthetic import DEFAULT_FAMILY, SyntheticBenchmark

    bench = SyntheticBenchmark(seed=seed, train_size=1, dev_size=1, test_size=1)
    langs = bench.languages
    info = {lang.code: lang for lang in DEFAULT_FAMILY}
    typer.echo("lang  parent  order  " + " ".join(f"{b:>5}" for b in langs))
    for a in langs:
        row = " ".join(f"{bench.relatedness(a, b):5.2f}" for b in langs)
        typer.echo(f"{a:<5} {info[a].parent or '-':<7} {info[a].order:<6} {row}")


@app.command("export-synthetic")
def export_synthetic(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the files.")],
    task: Annotated[str, typer.Option(help="nli, qa, ner or sentiment.")] = "nli",
    seed: Annotated[int, typer.Option(help="Benchmark seed.")] = 0,
    train_size: Annotated[int, typer.Option(help="Examples per language in train.")] = 4000,
    dev_size: Annotated[int, typer.Option(help="Examples per language in dev.")] = 500,
    test_size: Annotated[int, typer.Option(help="Examples per language in test.")] = 500,
) -> None:
    """Write the synthetic benchmark in the real formats (XNLI TSV, SQuAD JSON, WikiAnn text, JSON lines)."""
    from xlsweep.data.export import export_synthetic as export
    from xlsweep.data.schema import TASKS
    from xlsweep.data.synthetic import SyntheticBenchmark

    if task not in TASKS:
        _fail(f"--task: got {task!r}; expected one of {', '.join(TASKS)}")
    try:
        bench = SyntheticBenchmark(task=task, seed=seed, train_size=train_size, dev_size=dev_size,
                                   test_size=test_size)
    except ValueError as err:
        _fail(str(err))
    sources = export(bench, out_dir)
    typer.echo(f"wrote the synthetic {task} benchmark ({', '.join(bench.languages)}) to {out_dir.resolve()}")
    typer.echo("use it as a custom benchmark:\n\ndata:\n  benchmark: custom\n"
               f"  task: {task}\n  source: ana\n  languages: [{', '.join(bench.languages)}]\n"
               f"  sources: {{'*': '{sources['*']}'}}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
