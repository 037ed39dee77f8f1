"""xlsweep's MLflow app plugin: the MLflow server, plus each sweep's ``report.html`` served as a page.

Registered under the ``mlflow.app`` entry point as ``xlsweep`` (``mlflow server --app-name xlsweep``,
as ``xlsweep ui`` starts it). Beside everything ``mlflow server`` serves, it answers:

* ``/xlsweep/report/<parent run id>``: the sweep's ``report.html`` as a top-level page (MLflow's
  ``get-artifact`` sends it as a download, its artifact viewer shows it in a sandboxed frame whose
  links cannot open), so the page's links — relative to the server's root — open the runs and
  compare views of this server. Only a sweep's parent run (one with ``xlsweep.sweep_id``) is served;
  the page is read through the server's own REST routes, under a restrictive content policy.
* the UI's index page with browser-side defaults that the user can still change: the model-training
  mode (MLflow 3 opens in its GenAI mode, whatever the experiment's ``mlflow.experimentKind`` tag) and
  the Assistant panel closed (MLflow opens it on the first load of a local server). The report page
  sets them too, before its links open the UI.

A plain ``mlflow server`` serves the same store, without these two.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

from flask import Flask, Response

from xlsweep.tracking.tags import SWEEP_ID_TAG
from xlsweep.tracking.urls import REPORT_FILE, REPORT_ROUTE

__all__ = ["APP_NAME", "UI_DEFAULTS", "add_routes", "create_app"]

APP_NAME = "xlsweep"  # the name of the `mlflow.app` entry point

# the UI's browser-side settings (localStorage `<key>_v<version>`, JSON values; checked against MLflow 3.18's UI),
# set where the browser has none: model-training mode, the Assistant panel closed
UI_DEFAULTS = {"mlflow.workflowType_v1": json.dumps("machine_learning"), "mlflow.assistant.panelOpen_v1": "false",
               "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true"}
_DEFAULTS_SCRIPT = ("<script>(function(){try{var d=" + json.dumps(UI_DEFAULTS)
                    + ";for(var k in d){if(localStorage.getItem(k)===null){localStorage.setItem(k,d[k]);}}}"
                      "catch(e){}})();</script>")
_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def _prefix() -> str:
    return os.environ.get("_MLFLOW_STATIC_PREFIX", "").rstrip("/")


def _report_page(run_id: str) -> Response:
    """The parent run ``run_id``'s report page, read through this server's REST routes (no private API)."""
    from flask import current_app

    client = current_app.test_client()
    quoted = urllib.parse.quote(run_id, safe="")
    got = client.get(f"{_prefix()}/api/2.0/mlflow/runs/get?run_id={quoted}")
    if got.status_code != 200:
        return _plain(404, f"no run {run_id!r} in this MLflow store")
    tags = {t["key"] for t in got.get_json()["run"]["data"].get("tags", [])}
    if SWEEP_ID_TAG not in tags:
        return _plain(404, f"run {run_id!r} is not a sweep's parent run (it has no {SWEEP_ID_TAG} tag)")
    page = client.get(f"{_prefix()}/get-artifact?path={REPORT_FILE}&run_uuid={quoted}")
    if page.status_code != 200:
        return _plain(404, f"the sweep of run {run_id!r} has no {REPORT_FILE} (yet): `xlsweep report` writes it")
    response = Response(_with_defaults(page.get_data(as_text=True)), mimetype="text/html")
    response.headers["Content-Security-Policy"] = _POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # a resumed sweep rewrites its report
    return response


def _with_defaults(html: str) -> str:
    """``html`` with the UI's defaults set first thing (in its ``<head>``, else before it all)."""
    return html.replace("<head>", "<head>" + _DEFAULTS_SCRIPT, 1) if "<head>" in html else _DEFAULTS_SCRIPT + html


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def _with_ui_defaults(serve: Any) -> Any:
    def index(*args: Any, **kwargs: Any) -> Any:
        response = serve(*args, **kwargs)
        if getattr(response, "mimetype", "") != "text/html":
            return response
        response.direct_passthrough = False
        response.set_data(_with_defaults(response.get_data(as_text=True)))
        return response

    return index


def add_routes(app: Flask) -> Flask:
    """``app`` (MLflow's Flask app) with the report page's route and the index page's defaults; idempotent."""
    if "xlsweep_report" not in app.view_functions:
        app.add_url_rule(f"{_prefix()}/{REPORT_ROUTE}/<run_id>", "xlsweep_report", _report_page)
        if "serve" in app.view_functions:
            app.view_functions["serve"] = _with_ui_defaults(app.view_functions["serve"])
    return app


def create_app(app: Flask | None = None) -> Any:
    """The ``mlflow.app`` factory: MLflow's server app with :func:`add_routes`, as an ASGI app under uvicorn (MLflow
    3's default server) and as the Flask app under gunicorn or waitress."""
    if app is None:
        from mlflow.server import app as mlflow_app

        app = mlflow_app
    add_routes(app)
    if os.environ.get("_MLFLOW_SGI_NAME") == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app
