"""Typed, frozen, strict configuration: the schema, and YAML read into it (types only).

The ground floor: it imports nothing else of xlsweep, and neither torch, Ray, MLflow nor datasets.
What the values mean together is checked above it, by :mod:`xlsweep.plan`.
"""

from xlsweep.config.convert import set_path, to_dict
from xlsweep.config.errors import ConfigError
from xlsweep.config.read import read_config_file, read_sweep, read_trial
from xlsweep.config.schema import (
    AuxChoice,
    DataConfig,
    Distribution,
    Grid,
    MetaConfig,
    MetaXLConfig,
    SweepConfig,
    SyntheticDataConfig,
    TrialConfig,
)

__all__ = [
    "AuxChoice",
    "ConfigError",
    "DataConfig",
    "Distribution",
    "Grid",
    "MetaConfig",
    "MetaXLConfig",
    "SweepConfig",
    "SyntheticDataConfig",
    "TrialConfig",
    "read_config_file",
    "read_sweep",
    "read_trial",
    "set_path",
    "to_dict",
]
