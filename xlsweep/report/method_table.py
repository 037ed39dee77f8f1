"""Row labels of MetaXL-style method tables: the method and the grid values that distinguish its trials.

The tables themselves (one row per method, one column per target language, a
``source only`` row first, then target-only, JT, JT w/ RTN and MetaXL, as in the
MetaXL paper's Tables 2/4) are built by :mod:`xlsweep.report.paper_tables`.
"""

from __future__ import annotations

from collections.abc import Mapping

from xlsweep.methods import all_methods

__all__ = ["BASELINE_ROW", "METHOD_ORDER", "method_label"]

BASELINE_ROW = "source only (stage 1)"

METHOD_ORDER = tuple(m.name for m in all_methods() if m.one_target)  # baselines first, as the paper


def method_label(algorithm: str, variant: Mapping[str, object]) -> str:
    """Row label: the method and the grid values that distinguish its trials, e.g. ``metaxl rtn_layers=2``."""
    parts = [algorithm]
    for key, value in variant.items():
        shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        parts.append(f"{key.rsplit('.', 1)[-1]}={shown}")
    return " ".join(parts)
