"""The sweep's one error type: what cannot run as configured, and what to change."""

from __future__ import annotations

__all__ = ["SweepError"]


class SweepError(RuntimeError):
    """The sweep cannot run as configured (data files, resources, tracking store); the message says what to change."""
