"""The MLflow store: where it is, how it is opened (fast and safely), and where its artifacts lie.

:func:`open_client` creates or migrates an sqlite store under a file lock beside it, so two
sweeps (or a sweep and ``xlsweep report``) started together on a new database both succeed.
:func:`check_store` fails in seconds, with one line, where MLflow's own client would retry for
minutes (a closed port, an sqlite path that cannot be written). An sqlite store keeps its
artifacts beside the database, addressed relative to it (``mlflow-artifacts:/<experiment>``,
files in ``<db dir>/mlartifacts/``), so a copied or moved store (the DB and ``mlartifacts/``)
shows its own files in ``xlsweep ui``; :func:`artifact_paths` lists them without a server.
Every MLflow client of xlsweep is made here (:func:`mlflow_client`, :func:`open_client`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import sqlite3
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from xlsweep.tracking.tags import LOGGED_ARTIFACTS_TAG

__all__ = ["ARTIFACTS_SCHEME", "MlflowClient", "MlflowException", "TrackingError", "absolute_tracking_uri",
           "artifact_paths", "artifact_root", "check_store", "check_uri", "default_tracking_uri", "local_artifact_dir",
           "log_artifact", "log_table", "mlflow_client", "open_client", "server_healthy", "sqlite_path", "store_lock"]

ARTIFACTS_SCHEME = "mlflow-artifacts:"


def mlflow_client(tracking_uri: str) -> MlflowClient:
    """An MLflow client of ``tracking_uri`` (a store known to exist: :func:`open_client` creates one)."""
    return MlflowClient(tracking_uri)


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else an sqlite DB in the working directory (absolute, for workers)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def sqlite_path(tracking_uri: str, *, resolve: bool = True) -> Path | None:
    """The database file of an ``sqlite:///`` tracking URI, else None: absolute with symlinks resolved, or with
    ``resolve=False`` as written (locks and store checks use the path the user gave, not its link target)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = Path(tracking_uri.removeprefix("sqlite:///"))
    return path.resolve() if resolve else path


def artifact_root(tracking_uri: str, experiment: str) -> str | None:
    """Artifacts of an sqlite store live beside the DB (``<db dir>/mlartifacts/<experiment>``), not in
    whatever directory the driver was started from, and are addressed relative to it: the
    ``mlflow-artifacts:`` URI that ``xlsweep ui`` serves from ``<db dir>/mlartifacts``, wherever the store
    was copied to. A server or other store decides for itself."""
    if sqlite_path(tracking_uri) is None:
        return None
    return f"{ARTIFACTS_SCHEME}/{re.sub(r'[^A-Za-z0-9_.-]', '_', experiment) or 'experiment'}"


def local_artifact_dir(tracking_uri: str, artifact_uri: str) -> Path | None:
    """Where the files of ``artifact_uri`` (a run's or experiment's) lie on this machine: beside an sqlite
    store for ``mlflow-artifacts:`` URIs, the path of ``file:`` URIs; None if a server holds them."""
    db = sqlite_path(tracking_uri)
    if artifact_uri.startswith(ARTIFACTS_SCHEME) and db is not None:
        relative = urllib.parse.urlparse(artifact_uri).path.lstrip("/")
        return db.parent / "mlartifacts" / urllib.parse.unquote(relative)
    if artifact_uri.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(artifact_uri).path))
    if "://" not in artifact_uri and ":" not in artifact_uri.split("/", 1)[0]:
        return Path(artifact_uri)
    return None


def artifact_paths(tracking_uri: str, run_id: str) -> set[str]:
    """Every artifact file of a run, as paths relative to its artifact root (``report.html``, ``dir/x.png``).

    Reads an sqlite store's files directly (MLflow's client refuses ``mlflow-artifacts:`` URIs
    without a server); asks the store otherwise.
    """
    store = mlflow_client(tracking_uri)
    root = local_artifact_dir(tracking_uri, store.get_run(run_id).info.artifact_uri)
    if root is not None:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
    found: set[str] = set()
    pending: list[str | None] = [None]
    while pending:
        for item in store.list_artifacts(run_id, pending.pop()):
            if item.is_dir:
                pending.append(item.path)
            else:
                found.add(item.path)
    return found


def log_artifact(store: MlflowClient, tracking_uri: str, run_id: str, path: Path, *, name: str | None = None) -> None:
    """Log the file ``path`` as ``name`` (default: its file name) at the run's artifact root: copied into an sqlite
    store's own ``mlartifacts/`` (``mlflow-artifacts:`` URIs, which MLflow's client only resolves through a server),
    else through the client."""
    local = local_artifact_dir(tracking_uri, store.get_run(run_id).info.artifact_uri)
    if local is None:
        if name is None or name == path.name:
            store.log_artifact(run_id, str(path))
        else:
            with tempfile.TemporaryDirectory() as d:
                shutil.copyfile(path, Path(d) / name)
                store.log_artifact(run_id, str(Path(d) / name))
        return
    local.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, local / (name or path.name))


def log_table(store: MlflowClient, tracking_uri: str, run_id: str, columns: Sequence[str],
              rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
    """``mlflow.log_table``'s form (JSON ``{"columns", "data"}`` and the run's ``mlflow.loggedArtifacts`` entry),
    so the UI's artifact view shows a table; written whole, not appended to (idempotent)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / artifact_file
        path.write_text(json.dumps({"columns": list(columns), "data": [list(r) for r in rows]}, ensure_ascii=False))
        log_artifact(store, tracking_uri, run_id, path)
    logged = json.loads(store.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in logged:
        store.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*logged, entry]))


def server_healthy(url: str, *, timeout: float) -> bool:
    """Whether the MLflow server at ``url`` answers ``/health`` with 200; OSError if it cannot be reached."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as response:  # noqa: S310
        return bool(response.status == 200)


class TrackingError(RuntimeError):
    """The tracking store cannot be used as given; the message says what to change."""


def absolute_tracking_uri(tracking_uri: str) -> str:
    """An sqlite URI with a relative path (``sqlite:///mlflow.db``) made absolute against the working directory,
    so trials (in Tune's trial directories, on other nodes) and a later ``xlsweep resume`` open the same file."""
    path = sqlite_path(tracking_uri, resolve=False)
    if path is None or str(path) == ":memory:":
        return tracking_uri
    return f"sqlite:///{Path(os.path.abspath(os.path.expanduser(path)))}"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK if path.is_dir() else os.W_OK)


_DATABASES = re.compile(r"^(postgresql|mysql|mssql)(\+\w+)?://.", re.IGNORECASE)  # MLflow's other SQL stores
_URI_FORMS = ("expected sqlite:///relative.db or sqlite:////absolute/path.db, http(s)://HOST:PORT of an MLflow "
              "server, or a database URL (postgresql://...)")


def check_uri(tracking_uri: str) -> None:
    """Refuse a tracking URI of no form xlsweep uses, in one line (MLflow would read a plain path or a ``file:``
    URI as its file store, which it keeps in maintenance mode, and anything else as a path too)."""
    where = f"tracking URI {tracking_uri!r}"
    if tracking_uri.startswith(("http://", "https://")):
        if not urllib.parse.urlparse(tracking_uri).hostname:
            raise TrackingError(f"{where} is malformed (no host); {_URI_FORMS}")
        return
    if tracking_uri.lower().startswith("sqlite"):  # sqlite//x.db, sqlite:/x.db, SQLITE:///x.db
        if not tracking_uri.startswith("sqlite:///") or tracking_uri == "sqlite:///":
            raise TrackingError(f"{where} is malformed (an sqlite URI is sqlite:/// then the file's path); "
                                f"{_URI_FORMS}")
        return
    if _DATABASES.match(tracking_uri) or tracking_uri.startswith(("databricks", "uc:")):
        return
    scheme = urllib.parse.urlparse(tracking_uri).scheme if "://" in tracking_uri or ":" in tracking_uri[2:] else ""
    if scheme in ("", "file") and re.fullmatch(r"[\w./~\\ -]+|file:.+", tracking_uri):
        raise TrackingError(f"{where} names MLflow's file store (a directory of runs), which xlsweep does not use; "
                            f"expected e.g. sqlite:///{Path(tracking_uri.removeprefix('file://')) / 'mlflow.db'}")
    raise TrackingError(f"{where} is malformed; {_URI_FORMS}")


_MLFLOW_TABLES = {"alembic_version", "experiments", "runs"}


def _tables(path: Path, where: str) -> tuple[set[str], set[str]]:
    """The tables of the sqlite file ``path`` and the columns of its ``runs``, read read-only (``mode=ro``)."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            runs = {row[1] for row in con.execute("PRAGMA table_info(runs)")} if "runs" in tables else set()
        finally:
            con.close()
    except sqlite3.Error as err:
        raise TrackingError(f"{str(path)!r} {where} is not a readable sqlite database ({err}); expected the MLflow "
                            "database a sweep wrote, or a new path") from None
    return tables, runs


def _check_sqlite_content(path: Path, where: str) -> None:
    """An existing non-empty sqlite file is a readable database and, if it has tables, an MLflow store; read
    read-only, so a file that is neither is refused before MLflow migrates anything into it. A store another
    xlsweep process is creating right now (its lock file beside it exists) is read again once it is done."""
    if path.stat().st_size == 0:
        return
    tables, runs = _tables(path, where)
    lock = path.with_name(f".{path.name}.lock")
    if tables and not (tables >= _MLFLOW_TABLES and "run_uuid" in runs) and lock.is_file() and _writable(lock):
        with FileLock(str(lock), timeout=600):
            tables, runs = _tables(path, where)
    if tables and not (tables >= _MLFLOW_TABLES and "run_uuid" in runs):
        listed = ", ".join(sorted(tables)[:12]) + (", ..." if len(tables) > 12 else "")
        raise TrackingError(f"{str(path)!r} {where} is an sqlite database but not an MLflow store (its tables: "
                            f"{listed}); it is left untouched: pass another --tracking-uri (a new file is created)")


def check_store(tracking_uri: str, *, create: bool, write: bool, timeout: float = 10.0) -> None:
    """Fail in seconds where MLflow's client would retry for minutes: a malformed URI (:func:`check_uri`); an HTTP
    server that does not answer ``/health``; an sqlite path that is a directory, is missing (with ``create=False``),
    cannot be created or written (with ``write=True``: its file or its directory read-only, e.g. a read-only file
    system), or is a file that is not an sqlite database or a database that is not an MLflow store (checked
    read-only, before MLflow would add its tables).

    Raises:
        TrackingError: One line naming the URI, what is wrong and what to do.
    """
    check_uri(tracking_uri)
    if tracking_uri.startswith(("http://", "https://")):
        try:
            ok = server_healthy(tracking_uri, timeout=timeout)
        except OSError as err:  # URLError included
            reason = getattr(err, "reason", err)
            raise TrackingError(f"the MLflow server at {tracking_uri!r} cannot be reached ({reason}); start it "
                                "(`mlflow server ...` or `xlsweep ui`) or pass a reachable --tracking-uri") from None
        if not ok:
            raise TrackingError(f"the MLflow server at {tracking_uri!r} is not healthy (/health did not answer 200)")
        return
    path = sqlite_path(tracking_uri, resolve=False)
    if path is None:
        return
    where = f"(tracking URI {tracking_uri!r})"
    if path.is_dir():
        raise TrackingError(f"{str(path)!r} is a directory, not an sqlite file {where}; expected e.g. "
                            f"sqlite:///{path / 'mlflow.db'}")
    if not path.exists():
        if not create:
            raise TrackingError(f"no MLflow database at {str(path)!r} {where}: expected the sqlite file a sweep "
                                "wrote; pass --tracking-uri or set MLFLOW_TRACKING_URI")
        if not path.parent.is_dir():
            raise TrackingError(f"cannot create the MLflow database {str(path)!r} {where}: directory "
                                f"{str(path.parent)!r} does not exist")
        if not _writable(path.parent):
            raise TrackingError(f"cannot create the MLflow database {str(path)!r} {where}: directory "
                                f"{str(path.parent)!r} is not writable (read-only?); pass another --tracking-uri")
    elif write and not (_writable(path) and _writable(path.parent)):
        ro = "the file" if not _writable(path) else f"its directory {str(path.parent)!r}"
        raise TrackingError(f"the MLflow database {str(path)!r} {where} is read-only ({ro}): a sweep writes runs "
                            "to it; make it writable or pass another --tracking-uri")
    if path.is_file() and str(path) != ":memory:":
        _check_sqlite_content(path, where)


def store_lock(tracking_uri: str) -> contextlib.AbstractContextManager[object]:
    """A file lock beside an sqlite database (where its directory is writable), else nothing."""
    path = sqlite_path(tracking_uri, resolve=False)
    if path is None or not _writable(path.parent):
        return contextlib.nullcontext()
    return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=600)


def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient``; an sqlite store is created or migrated under a file lock beside it (MLflow does that
    when a client first opens it, and two processes doing it at once break the database)."""
    try:
        with store_lock(tracking_uri):
            return mlflow_client(tracking_uri)
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise TrackingError(f"cannot open the MLflow store {tracking_uri!r}: {err}") from None
        raise
