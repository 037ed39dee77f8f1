"""The four task shapes: featurise a dataset, build the model head, predict and score.

Each task is a small module (``nli``, ``qa``, ``ner``, ``sentiment``) offering the
:class:`~xlsweep.tasks.base.Task` protocol; :func:`get_task` picks one by name.
"""

from __future__ import annotations

from xlsweep.tasks.base import Task, get_task

__all__ = ["Task", "get_task"]
