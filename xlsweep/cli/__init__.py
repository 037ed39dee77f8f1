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

The commands live in :mod:`~xlsweep.cli.sweeps` (running sweeps), :mod:`~xlsweep.cli.browse` (a finished
sweep's store) and :mod:`~xlsweep.cli.data` (the synthetic benchmark); they are listed here in ``--help`` order.
"""

from __future__ import annotations

import typer

from xlsweep.cli import browse, data, sweeps

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ray Tune sweeps of cross-lingual meta-learning (X-MAML, XLA-MAML), tracked in MLflow.")
app.command()(sweeps.sweep)
app.command("search-pairs")(sweeps.search_pairs)
app.command()(sweeps.resume)
app.command()(browse.ui)
app.command()(sweeps.validate)
app.command()(data.languages)
app.command("export-synthetic")(data.export_synthetic)
app.command()(browse.report)
app.command("best-pairs")(browse.best_pairs)


def main() -> None:  # pragma: no cover - console entry point
    app()
