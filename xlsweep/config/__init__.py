"""Typed, frozen, strict configuration: schema, YAML loading, grid expansion."""

from xlsweep.config.load import ConfigError, expand_grid, load_sweep, parse_sweep, parse_trial, to_dict
from xlsweep.config.schema import AuxChoice, SweepConfig, TrialConfig

__all__ = [
    "AuxChoice",
    "ConfigError",
    "SweepConfig",
    "TrialConfig",
    "expand_grid",
    "load_sweep",
    "parse_sweep",
    "parse_trial",
    "to_dict",
]
