"""Every link into the MLflow UI (3.x): one base normalisation, one route per page.

The UI's routes are hash routes (``<base>#/…``), checked against MLflow 3.17's UI bundle
(``Routes.runPage``, ``getCompareRunPageRoute``) and in headless chromium:

* the experiment's runs table: ``#/experiments/<id>/runs?workflowType=machine_learning``
  (:func:`runs_table_url`) or ``#/experiments/<id>?workflowType=machine_learning``
  (:func:`experiment_url`); without ``workflowType`` MLflow 3 opens an experiment on its GenAI
  overview (traces), and no experiment tag changes that;
* the experiment page in a stored view (:func:`view_url`): ``…&viewStateShareKey=<key>``, the state
  kept in the experiment tag ``mlflow.sharedViewState.<key>`` (a sweep stores one: its trials grouped,
  see :func:`xlsweep.sweep.mlflow_fields.shared_view`), ``&compareRunsMode=CHART`` for its chart view;
* a run: ``#/experiments/<id>/runs/<run>`` (:func:`run_link`, as the report page links it) or with the
  model-training mode (:func:`run_url`, as the CLI prints it);
* several runs side by side: ``#/compare-runs?runs=[…]&experiments=[…]`` (JSON lists, :func:`compare_url`);
* a run's artifact open in the artifact viewer (:func:`artifact_url`): an ``.html`` artifact is rendered
  (in a sandboxed iframe, scripts allowed, no popups or top-level navigation: its links cannot open),
  an image shown, a logged table shown as a table. The server's own ``get-artifact?path=…&run_uuid=…``
  (:func:`served_file_url`) sends every file as an attachment, so a browser downloads ``report.html``;
* a sweep's ``report.html`` as a top-level page (:func:`report_page_url`), served by xlsweep's app plugin
  (:mod:`xlsweep.tracking.app`, which ``xlsweep ui`` runs): the page whose links open this server's views.

``base`` is the MLflow server's URL (``http://127.0.0.1:5000``) or ``/`` (:data:`DEFAULT_UI_BASE`):
links relative to the server's root, which work wherever a page is served by the MLflow server that
holds the runs, under any host name, but not from a file opened on disk (pass the server's URL for that)
nor inside the UI's artifact viewer, which shows HTML in a sandboxed frame that cannot open other pages.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence

__all__ = ["DEFAULT_UI_BASE", "DEFAULT_UI_PORT", "REPORT_FILE", "REPORT_ROUTE", "artifact_url", "compare_url",
           "experiment_url", "normalise_base", "report_page_url", "run_link", "run_url", "runs_table_url",
           "served_file_url", "ui_base", "view_url"]

DEFAULT_UI_PORT = 5000
DEFAULT_UI_BASE = "/"
REPORT_FILE = "report.html"  # a sweep's page among its parent run's artifacts
REPORT_ROUTE = "xlsweep/report"  # + /<parent run id>: that page, served by xlsweep's MLflow app plugin
_ML = "workflowType=machine_learning"


def _q(text: str, safe: str = "") -> str:
    return urllib.parse.quote(text, safe=safe)


def ui_base(tracking_uri: str, port: int = DEFAULT_UI_PORT) -> str:
    """The UI of ``tracking_uri``: the server itself for ``http(s)://``, else where ``xlsweep ui`` serves it."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return f"http://127.0.0.1:{port}"


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


def _experiment(base: str | None, experiment_id: str) -> str:
    return f"{normalise_base(base)}#/experiments/{_q(experiment_id)}"


def runs_table_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table (model-training mode)."""
    return f"{_experiment(base, experiment_id)}/runs?{_ML}"


def experiment_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table (model-training view, not MLflow 3's default traces page)."""
    return f"{_experiment(base, experiment_id)}?{_ML}"


def view_url(base: str, experiment_id: str, key: str, *, charts: bool = False) -> str:
    """The experiment page in a stored (shared) view; ``charts``: its chart view."""
    mode = "&compareRunsMode=CHART" if charts else ""
    return f"{runs_table_url(base, experiment_id)}&viewStateShareKey={_q(key, '/')}{mode}"


def run_link(base: str, experiment_id: str, run_id: str) -> str:
    """A run's page (its description, params and metrics), as the report page links it."""
    return f"{_experiment(base, experiment_id)}/runs/{_q(run_id)}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """A run's page in model-training mode, as the CLI prints it."""
    return f"{run_link(base, experiment_id, run_id)}?{_ML}"


def compare_url(base: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """The UI's side-by-side view of ``run_ids``; a single run's own page."""
    if len(run_ids) == 1:
        return run_link(base, experiment_id, run_ids[0])
    runs, experiments = _q(json.dumps(list(run_ids))), _q(json.dumps([experiment_id]))
    return f"{normalise_base(base)}#/compare-runs?runs={runs}&experiments={experiments}"


def artifact_url(base: str, experiment_id: str, run_id: str, path: str) -> str:
    """A run's artifact, open in the UI's viewer (an HTML page rendered, an image shown): no clicks."""
    return f"{run_link(base, experiment_id, run_id)}/artifacts/{_q(path, '/')}?{_ML}"


def served_file_url(base: str, run_id: str, path: str) -> str:
    """An artifact of a run as the MLflow server serves it (as a download), e.g. the parent run's ``report.html``."""
    return f"{normalise_base(base)}get-artifact?path={_q(path)}&run_uuid={_q(run_id)}"


def report_page_url(base: str, run_id: str) -> str:
    """A sweep's ``report.html`` as a page of the MLflow server that runs xlsweep's app plugin (``xlsweep ui``)."""
    return f"{normalise_base(base)}{REPORT_ROUTE}/{_q(run_id)}"
