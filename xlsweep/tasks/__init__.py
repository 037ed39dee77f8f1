"""The four task shapes: featurise a dataset, build the model head, predict and score.

Each task is a small module (``nli``, ``qa``, ``ner``, ``sentiment``) offering the
:class:`~xlsweep.tasks.base.Task` protocol; :func:`get_task` picks one by name. The package's
names load :mod:`xlsweep.tasks.base` (and torch) on first use, so that importing the torch-free
:mod:`xlsweep.tasks.outcomes` (what the reports read) loads no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xlsweep.tasks.base import Task, get_task

__all__ = ["Task", "get_task"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from xlsweep.tasks import base

        return getattr(base, name)
    raise AttributeError(f"module 'xlsweep.tasks' has no attribute {name!r}")
