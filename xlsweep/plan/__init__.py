"""From a checked config to the trials a sweep runs: grid expansion, cell configs, trial checks and preflight.

A sweep is checked once, here, before Ray or MLflow start: :func:`load_sweep` reads and checks a
file, :func:`expand_grid` gives every cell's checked trial config, :mod:`~xlsweep.plan.preflight`
checks what needs the file system or the model's config, :mod:`~xlsweep.plan.encoder_settings`
warns of tiny-encoder defaults and :mod:`~xlsweep.plan.pair_search` turns ``pair_search`` into a
:class:`~xlsweep.pairsearch.search.PairSearch`. The driver hands the checked cells to its trials.
"""

from xlsweep.plan.grid import (
    MAX_TRIALS,
    SAMPLE_KEY,
    Cells,
    cell_config,
    cell_key,
    expand_grid,
    grid_cells,
    repeated_trials,
    search_samples,
)
from xlsweep.plan.objective import objective_languages, trained_dev_languages
from xlsweep.plan.sweep import load_sweep, parse_sweep, parse_trial
from xlsweep.plan.trial_checks import synthetic_data, validate_trial

__all__ = [
    "MAX_TRIALS",
    "SAMPLE_KEY",
    "Cells",
    "cell_config",
    "cell_key",
    "expand_grid",
    "grid_cells",
    "load_sweep",
    "objective_languages",
    "parse_sweep",
    "parse_trial",
    "repeated_trials",
    "search_samples",
    "synthetic_data",
    "trained_dev_languages",
    "validate_trial",
]
