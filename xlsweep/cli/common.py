"""What the commands share: the error line, loading a config, the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from xlsweep.config import SweepConfig

__all__ = ["AddressOpt", "ConfigArg", "ExperimentOpt", "MetricOpt", "ParentRunOpt", "TrackingOpt", "fail", "load",
           "print_links"]

ConfigArg = Annotated[Path, typer.Argument(help="A sweep config, e.g. tune_configs/demo.yaml.")]


def fail(message: str) -> NoReturn:
    """One red error line, exit code 2."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def load(config: Path) -> SweepConfig:
    """The checked sweep of ``config``, or its one error."""
    from xlsweep.config import ConfigError
    from xlsweep.plan import load_sweep

    try:
        return load_sweep(config)
    except ConfigError as err:
        fail(str(err))


AddressOpt = Annotated[str | None, typer.Option(help="Ray cluster address (auto or HOST:PORT); "
                                                    "default: a local Ray instance.")]

ExperimentOpt = Annotated[str | None, typer.Option(
    "--experiment", help="MLflow experiment (by default the sweep's name): report its latest sweep, i.e. the "
                         "parent run that started last.")]
ParentRunOpt = Annotated[str | None, typer.Option(
    "--parent-run", help="A sweep's parent run id: report that sweep (with --experiment, it must be in it).")]
TrackingOpt = Annotated[str | None, typer.Option(
    help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI, or ./mlflow.db.")]
MetricOpt = Annotated[str | None, typer.Option(help="Metric to report, e.g. acc, f1, em; default: the task's primary.")]


def print_links(tracking_uri: str, parent_run_id: str) -> None:
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
