"""The one error of configuration, and the value checks that every section's rules share."""

from __future__ import annotations

__all__ = ["ConfigError", "fraction", "non_negative", "positive"]


class ConfigError(ValueError):
    """A configuration value is wrong; the message says which, and what is expected."""


def positive(path: str, value: float) -> None:
    """Refuse ``value`` at ``path`` unless it is > 0."""
    if value <= 0:
        raise ConfigError(f"{path}: got {value!r}; expected a positive number")


def fraction(path: str, value: float) -> None:
    """Refuse ``value`` at ``path`` unless it is in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{path}: got {value!r}; expected a fraction in [0, 1)")


def non_negative(path: str, value: float) -> None:
    """Refuse ``value`` at ``path`` unless it is >= 0."""
    if value < 0:
        raise ConfigError(f"{path}: got {value!r}; expected a number >= 0")
