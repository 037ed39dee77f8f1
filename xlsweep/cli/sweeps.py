"""Running sweeps: ``sweep``, ``search-pairs``, ``resume``, and ``validate``, which checks what a sweep would run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xlsweep.cli.common import AddressOpt, ConfigArg, fail, load, print_links

__all__ = ["resume", "search_pairs", "sweep", "validate"]


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
    cfg = load(config)
    from xlsweep.config import ConfigError
    from xlsweep.sweep.runner import SweepError, run_sweep

    try:
        outcome = run_sweep(cfg, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                            log=lambda line: typer.echo(line), dir_mode=mode, config_file=config)
    except (SweepError, ConfigError) as err:
        fail(str(err))
    _summary(outcome)


def _dir_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777 or mode & 0o700 != 0o700 or mode & 0o002:
        fail(f"--dir-mode: got {text!r}; expected octal permissions with rwx for you and no write for others, "
              "e.g. 700 (private) or 750 (your group may read)")
    return mode


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

    raw = sweep_yaml(load(config))
    raw["pair_search"] = {**raw["pair_search"], "enabled": True, **({} if budget is None else {"budget": budget})}
    try:
        cfg = parse_sweep(raw)
    except ConfigError as err:
        fail(f"{config}: {err}")
    from xlsweep.sweep.runner import SweepError, run_sweep

    try:
        outcome = run_sweep(cfg, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                            log=lambda line: typer.echo(line))
    except (SweepError, ConfigError) as err:
        fail(str(err))
    _summary(outcome)


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
        fail(str(err))
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
    print_links(outcome.tracking_uri, outcome.parent_run_id)
    if outcome.interrupted:
        typer.secho(f"interrupted: continue with  xlsweep resume {outcome.out_dir}", fg=typer.colors.YELLOW)
        raise typer.Exit(code=130)
    if outcome.failures or not outcome.records:
        raise typer.Exit(code=1)


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
    cfg = load(config)
    from xlsweep.config import ConfigError
    from xlsweep.plan import expand_grid
    from xlsweep.plan.preflight import preflight
    from xlsweep.sweep.runner import SweepError, check_data_files

    try:
        cells = expand_grid(cfg)
        check_data_files(cells, cfg)
        checked = preflight(cells, cfg, warn=lambda line: typer.secho(f"warning: {line}", fg=typer.colors.YELLOW,
                                                                      err=True),
                            note=lambda line: typer.echo(f"skipped rows: {line}"))
    except (SweepError, ConfigError) as err:
        fail(f"{config}: {err}")
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

