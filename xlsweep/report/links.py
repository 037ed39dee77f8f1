"""Links into the MLflow UI, for the report page and for whoever prints URLs to it.

Every link is ``<base>#/…``, MLflow's own (hash-routed) UI routes, checked against the UI
bundle of MLflow 3.17 (``Routes.runPage``, ``getCompareRunPageRoute``):

* a run: ``<base>#/experiments/<experiment id>/runs/<run id>``;
* several runs side by side: ``<base>#/compare-runs?runs=[…]&experiments=[…]`` (JSON lists);
* an experiment's runs table: ``<base>#/experiments/<experiment id>?workflowType=machine_learning``
  (MLflow 3 opens an experiment on its GenAI traces page otherwise);
* an artifact of a run, e.g. the report page itself: ``<base>get-artifact?path=report.html&run_uuid=<run id>``.

``base`` is the MLflow server's URL (``http://127.0.0.1:5000/``) or, by default, ``/``: links
relative to the server's root, which work wherever the page is served by the MLflow server that
holds the runs (``<server>/get-artifact?path=report.html&run_uuid=<parent run>``), under any
host name, but not from a file opened on disk (pass the server's URL for that) nor inside the
UI's artifact viewer, which shows HTML in a sandboxed frame that cannot open other pages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

__all__ = ["DEFAULT_UI_BASE", "artifact_url", "compare_url", "experiment_url", "normalise_base", "run_url"]

DEFAULT_UI_BASE = "/"


def normalise_base(base: str | None) -> str:
    """``base`` with exactly one trailing slash (``None`` or ``""``: :data:`DEFAULT_UI_BASE`).

    Raises:
        ValueError: If ``base`` has a query or fragment (``?`` or ``#``), which the routes would be appended to.
    """
    if not base:
        return DEFAULT_UI_BASE
    if "?" in base or "#" in base:
        raise ValueError(f"--ui-url: expected the MLflow server's URL, e.g. http://127.0.0.1:5000/, without a query "
                         f"or fragment; got {base!r}")
    return base.rstrip("/") + "/"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI."""
    return f"{normalise_base(base)}#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"


def compare_url(base: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """The UI's side-by-side view of ``run_ids``; a single run's own page."""
    if len(run_ids) == 1:
        return run_url(base, experiment_id, run_ids[0])
    runs = quote(json.dumps(list(run_ids)), safe="")
    experiments = quote(json.dumps([experiment_id]), safe="")
    return f"{normalise_base(base)}#/compare-runs?runs={runs}&experiments={experiments}"


def experiment_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table (model-training view, not MLflow 3's default traces page)."""
    return f"{normalise_base(base)}#/experiments/{quote(experiment_id, safe='')}?workflowType=machine_learning"


def artifact_url(base: str, run_id: str, path: str) -> str:
    """An artifact of a run as the MLflow server serves it, e.g. the parent run's ``report.html``."""
    return f"{normalise_base(base)}get-artifact?path={quote(path, safe='')}&run_uuid={quote(run_id, safe='')}"
