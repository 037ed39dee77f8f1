"""Analyses of trained models: how close source- and target-language representations are."""

from __future__ import annotations

from xlsweep.analysis.representations import (
    cosine_hausdorff,
    directed_cosine_hausdorff,
    pca_2d,
    representations,
    write_pca_plot,
)

__all__ = [
    "cosine_hausdorff",
    "directed_cosine_hausdorff",
    "pca_2d",
    "representations",
    "write_pca_plot",
]
