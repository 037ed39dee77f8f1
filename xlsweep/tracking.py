"""MLflow at the edge: one parent run per sweep, one child run per trial, all idempotent.

A retried or resumed trial finds its child run by the ``xlsweep.trial_id`` tag and
continues it; metric steps it already logged are not logged again. The sweep's
experiment (and an sqlite database) is created by the driver before any trial
starts, since several processes creating a fresh sqlite store at once fail; and
:func:`open_client` creates or migrates an sqlite store under a file lock beside it,
so two sweeps (or a sweep and ``xlsweep report``) started together on a new database
both succeed. :func:`check_store` fails in seconds, with one line, where MLflow's own
client would retry for minutes (a closed port, an sqlite path that cannot be written).

Metrics are logged at their wall-clock time, rounded to float32 precision (scores are
computed in float32: ``0.9959999918937683`` is logged as ``0.996``). An sqlite store keeps
its artifacts beside the database, addressed relative to it (``mlflow-artifacts:/<experiment>``,
files in ``<db dir>/mlartifacts/``), so a copied or moved store (the DB and ``mlartifacts/``)
shows its own files in ``xlsweep ui``; :func:`artifact_paths` lists them without a server.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

__all__ = ["VIEW_TAG", "SweepRun", "TrackingError", "TrialRun", "absolute_tracking_uri", "artifact_paths",
           "check_store", "default_tracking_uri", "find_trial_run", "flatten_params", "local_artifact_dir",
           "log_artifact", "open_client", "readable", "serve_ui", "server_command", "server_healthy", "sqlite_path",
           "stop_server", "view_key"]

PARENT_TAG = "mlflow.parentRunId"
SWEEP_TAG = "xlsweep.sweep"
TRIAL_TAG = "xlsweep.trial_id"
NOTE_TAG = "mlflow.note.content"  # the run's (or experiment's) description, Markdown, shown by the UI
VIEW_TAG = "mlflow.sharedViewState."  # + key: an experiment page view the UI opens with ?viewStateShareKey=key
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # what marks a JSON artifact as a table for the UI's viewer
ARTIFACTS_SCHEME = "mlflow-artifacts:"
DEGENERATE_TAG = "xlsweep.degenerate"  # why a trial's (or, on a parent run, stage 1's) model learnt nothing


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


def _artifact_root(tracking_uri: str, experiment: str) -> str | None:
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


def view_key(sweep_id: str) -> str:
    """The shared-view key of a sweep (what an experiment tag key allows)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", sweep_id)


def artifact_paths(tracking_uri: str, run_id: str) -> set[str]:
    """Every artifact file of a run, as paths relative to its artifact root (``report.html``, ``dir/x.png``).

    Reads an sqlite store's files directly (MLflow's client refuses ``mlflow-artifacts:`` URIs
    without a server); asks the store otherwise.
    """
    client = MlflowClient(tracking_uri)
    root = local_artifact_dir(tracking_uri, client.get_run(run_id).info.artifact_uri)
    if root is not None:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
    found: set[str] = set()
    pending: list[str | None] = [None]
    while pending:
        for item in client.list_artifacts(run_id, pending.pop()):
            if item.is_dir:
                pending.append(item.path)
            else:
                found.add(item.path)
    return found


def readable(value: float) -> float:
    """``value`` at float32 precision, as the float32's shortest decimal: ``0.9959999918937683`` -> ``0.996``.

    Scores and losses are computed in float32 from values of order 1, whose resolution is
    ~6e-8: a score, or a difference of scores (``0.97599995 - 0.96 = 0.015999973``), carries
    that much absolute noise. So: 7 decimals, then the float32's shortest decimal (``0.016``).
    Values beyond float32's range are kept as they are.
    """
    value = float(value)
    if not math.isfinite(value) or abs(value) > float(np.finfo(np.float32).max):
        return value
    return float(str(np.float32(round(value, 7))))


def _metrics(values: Mapping[str, float], step: int) -> list[Metric]:
    now = int(time.time() * 1000)
    return [Metric(k, readable(v), now, step) for k, v in values.items()]


def log_artifact(client: MlflowClient, tracking_uri: str, run_id: str, path: Path, *, name: str | None = None) -> None:
    """Log the file ``path`` as ``name`` (default: its file name) at the run's artifact root: copied into an sqlite
    store's own ``mlartifacts/`` (``mlflow-artifacts:`` URIs, which MLflow's client only resolves through a server),
    else through the client."""
    local = local_artifact_dir(tracking_uri, client.get_run(run_id).info.artifact_uri)
    if local is None:
        if name is None or name == path.name:
            client.log_artifact(run_id, str(path))
        else:
            with tempfile.TemporaryDirectory() as d:
                shutil.copyfile(path, Path(d) / name)
                client.log_artifact(run_id, str(Path(d) / name))
        return
    local.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, local / (name or path.name))


def _log_table(client: MlflowClient, tracking_uri: str, run_id: str, columns: Sequence[str],
               rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
    """``mlflow.log_table``'s form (JSON ``{"columns", "data"}`` and the run's ``mlflow.loggedArtifacts`` entry),
    so the UI's artifact view shows a table; written whole, not appended to (idempotent)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / artifact_file
        path.write_text(json.dumps({"columns": list(columns), "data": [list(r) for r in rows]}, ensure_ascii=False))
        log_artifact(client, tracking_uri, run_id, path)
    logged = json.loads(client.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in logged:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*logged, entry]))


_PARAM_KEY = re.compile(r"[\w\-. :/]+")  # what MLflow allows in a param name


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"meta.inner_lr": "0.001", "meta.support": "ana,bel"}``, readable in the MLflow UI."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not all(_PARAM_KEY.fullmatch(str(k)) for k in value):
            # keys MLflow cannot name a param by (data.limits' "*.train"): one param for the mapping
            flat[name] = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, Mapping):
            flat |= flatten_params(value, f"{name}.")
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = str(value)
    return flat


def _log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    items = [Param(k, v[:6000]) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


class SweepRun:
    """The parent run of a sweep (driver side)."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.client = open_client(tracking_uri)
        self.tracking_uri = tracking_uri
        with _store_lock(tracking_uri):  # two sweeps creating one experiment at once: one creates, one finds it
            exp = self.client.get_experiment_by_name(experiment)
            if exp is not None:
                self.experiment_id = exp.experiment_id
            else:
                try:
                    self.experiment_id = self.client.create_experiment(experiment, artifact_location=_artifact_root(
                        tracking_uri, experiment))
                except MlflowException as err:  # created meanwhile by another sweep on a tracking server
                    exp = self.client.get_experiment_by_name(experiment)
                    if exp is None:
                        raise err from None
                    self.experiment_id = exp.experiment_id
        self.run_id = self.sweep_id = self.name = ""

    def start(self, sweep_id: str, *, name: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """Create the parent run, or continue the one of ``sweep_id`` (a resumed sweep)."""
        self.sweep_id, self.name = sweep_id, name
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`xlsweep.sweep_id` = '{sweep_id}'", max_results=1
        )
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            return self.run_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={"xlsweep.sweep_id": sweep_id, SWEEP_TAG: name, **tags})
        self.run_id = run.info.run_id
        _log_params(self.client, self.run_id, params)
        return self.run_id

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.client.log_batch(self.run_id, metrics=_metrics(metrics, 0))

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        for path in paths:
            log_artifact(self.client, self.tracking_uri, self.run_id, Path(path))

    def log_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
        """A table the UI shows in its table viewer (``artifact_file`` ends in ``.json``)."""
        _log_table(self.client, self.tracking_uri, self.run_id, columns, rows, artifact_file)

    def describe(self, markdown: str) -> None:
        """The run's description (the UI's Overview shows it rendered)."""
        self.client.set_tag(self.run_id, NOTE_TAG, markdown[:7500])

    def describe_experiment(self, markdown: str) -> None:
        """The experiment's description (shown on its page)."""
        self.client.set_experiment_tag(self.experiment_id, NOTE_TAG, markdown[:19000])

    def share_view(self, key: str, state: Mapping[str, Any]) -> None:
        """A view of the experiment page (UI state as JSON), opened by ``?viewStateShareKey=<key>``."""
        self.client.set_experiment_tag(self.experiment_id, VIEW_TAG + key, json.dumps(state, ensure_ascii=False))

    def finish(self, status: str) -> None:
        """End the run as ``FINISHED``, ``FAILED`` or ``KILLED`` (interrupted; a resume continues it)."""
        self.client.set_terminated(self.run_id, status)

    def children(self) -> list[Any]:
        return self.client.search_runs([self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{self.run_id}'")


def find_trial_run(client: MlflowClient, experiment_id: str, parent_run_id: str, trial_id: str) -> Any | None:
    """The child run of Tune trial ``trial_id`` under ``parent_run_id``, or None if it has none yet."""
    query = f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'"
    found = client.search_runs([experiment_id], filter_string=query, max_results=1)
    return found[0] if found else None


class TrialRun:
    """A trial's child run (worker side): found by trial id, or created under the parent."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.tracking_uri = client.tracking_uri
        self._logged: dict[str, set[int]] = {}
        self.finished: dict[str, float] | None = None  # a run that had FINISHED already: its last metrics

    @classmethod
    def open(
        cls,
        tracking_uri: str,
        experiment_id: str,
        parent_run_id: str,
        trial_id: str,
        *,
        name: str,
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> TrialRun:
        client = MlflowClient(tracking_uri)
        found = find_trial_run(client, experiment_id, parent_run_id, trial_id)
        if found is not None:
            run = cls(client, found.info.run_id)
            if found.info.status == "FINISHED":  # Tune's saved state predates the trial's end (driver killed)
                run.finished = dict(found.data.metrics)
                return run
            client.update_run(run.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            for key in found.data.metrics:
                run._logged[key] = {m.step for m in client.get_metric_history(run.run_id, key)}
            return run
        created = client.create_run(
            experiment_id, run_name=name, tags={PARENT_TAG: parent_run_id, TRIAL_TAG: trial_id, **tags}
        )
        run = cls(client, created.info.run_id)
        _log_params(client, run.run_id, params)
        return run

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log ``metrics`` at ``step``, skipping any (key, step) this run already has."""
        fresh = _metrics({k: v for k, v in metrics.items() if step not in self._logged.get(k, set())}, step)
        if fresh:
            self.client.log_batch(self.run_id, metrics=fresh)
            for m in fresh:
                self._logged.setdefault(m.key, set()).add(step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_artifact(self, path: Path) -> None:
        log_artifact(self.client, self.tracking_uri, self.run_id, Path(path))

    def log_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], artifact_file: str) -> None:
        """A table the UI shows in its table viewer (``artifact_file`` ends in ``.json``)."""
        _log_table(self.client, self.tracking_uri, self.run_id, columns, rows, artifact_file)

    def finish(self, status: str) -> None:
        """End the run as ``FINISHED``, ``FAILED`` or ``KILLED`` (stopped by Tune: the scheduler, or an interrupted
        sweep; a resume continues it)."""
        self.client.set_terminated(self.run_id, status)


def server_healthy(url: str, *, timeout: float) -> bool:
    """Whether the MLflow server at ``url`` answers ``/health`` with 200; OSError if it cannot be reached."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as response:  # noqa: S310
        return bool(response.status == 200)


class _Stop(Exception):  # noqa: N818 - SIGTERM or SIGHUP reached `xlsweep ui`
    pass


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)


def stop_server(server: subprocess.Popen[bytes], *, grace_s: float = 15.0) -> None:
    """Stop ``mlflow server`` and its uvicorn worker (its own process group): SIGTERM, then SIGKILL."""
    if server.poll() is None or _group_alive(server.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=grace_s)
        deadline = time.monotonic() + grace_s
        while _group_alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is in process group ``pgid``."""
    proc = Path("/proc")
    if proc.is_dir():  # Linux: zombies (not yet reaped by init) count as gone
        for stat in proc.glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
                if int(group) == pgid and state != "Z":
                    return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def server_command(tracking_uri: str, port: int) -> list[str]:
    """``mlflow server`` for ``tracking_uri`` on 127.0.0.1; an sqlite store's artifacts served from beside it."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    db = sqlite_path(tracking_uri)
    if db is not None:  # `mlflow-artifacts:` URIs resolve there, wherever the store was copied to
        command += ["--artifacts-destination", str(db.parent / "mlartifacts")]
    return command


def serve_ui(tracking_uri: str, *, port: int = 5000, on_ready: Callable[[str], None] = print,
             on_start: Callable[[str], None] | None = None, block: bool = True, timeout_s: float = 120.0,
             command: Sequence[str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``mlflow server`` for ``tracking_uri`` on 127.0.0.1:``port``; call ``on_ready(url)`` once healthy.

    ``on_start(url)`` is called as the server is launched (it takes 10-30 s to answer). With
    ``block`` it serves until Ctrl-C, SIGTERM or SIGHUP, then stops the server and its worker;
    else the caller owns the returned process (stop it with :func:`stop_server`). ``command``
    replaces the server's command line (tests). Raises RuntimeError when the port is taken or
    the server does not come up, with the server's last output.
    """
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"--port: 127.0.0.1:{port} is already in use; pass another --port")
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    output = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, read if it fails to start
    previous = {}
    if block:  # a stopped `xlsweep ui` stops its server: it is in its own process group, so signals stop here
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    stopping: tuple[type[BaseException], ...] = (KeyboardInterrupt, _Stop) if block else ()
    server = None
    try:
        server = subprocess.Popen(list(command or server_command(tracking_uri, port)), env=env, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        if on_start is not None:
            on_start(url)
        _wait_healthy(server, url, output, timeout_s)
        on_ready(url)
        if not block:
            return server
        server.wait()
    except stopping:
        pass
    except BaseException:
        if server is not None:
            stop_server(server)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert server is not None
    stop_server(server)
    return server


def _wait_healthy(server: subprocess.Popen[bytes], url: str, output: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            output.seek(0)
            tail = output.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"mlflow server exited with code {server.returncode}: {' / '.join(tail[-3:])}")
        with contextlib.suppress(OSError):
            if server_healthy(url, timeout=2):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not answer on {url} within {timeout_s:.0f} s")
        time.sleep(0.5)
# --------------------------------------------------------------------- opening a store, fast and safely
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


def check_store(tracking_uri: str, *, create: bool, write: bool, timeout: float = 10.0) -> None:
    """Fail in seconds where MLflow's client would retry for minutes: an HTTP server that does not answer
    ``/health``; an sqlite path that is a directory, is missing (with ``create=False``), or cannot be created or
    written (with ``write=True``: its file or its directory read-only, e.g. a read-only file system).

    Raises:
        TrackingError: One line naming the URI, what is wrong and what to do.
    """
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


def _store_lock(tracking_uri: str) -> contextlib.AbstractContextManager[object]:
    """A file lock beside an sqlite database (where its directory is writable), else nothing."""
    path = sqlite_path(tracking_uri, resolve=False)
    if path is None or not _writable(path.parent):
        return contextlib.nullcontext()
    return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=600)


def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient``; an sqlite store is created or migrated under a file lock beside it (MLflow does that
    when a client first opens it, and two processes doing it at once break the database)."""
    try:
        with _store_lock(tracking_uri):
            return MlflowClient(tracking_uri)
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise TrackingError(f"cannot open the MLflow store {tracking_uri!r}: {err}") from None
        raise
