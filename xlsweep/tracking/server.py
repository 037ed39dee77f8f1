"""``xlsweep ui``'s MLflow server: started on 127.0.0.1, watched until healthy, stopped with its worker.

It runs xlsweep's app plugin (``mlflow server --app-name xlsweep``, :mod:`xlsweep.tracking.app`), which
also serves each sweep's report as a page. An install whose metadata predates the plugin's entry point
(an editable install not reinstalled since) gets the entry point from a metadata folder put on the
server's ``PYTHONPATH`` for its lifetime.

``mlflow server`` runs a uvicorn worker in its own process group; a stopped ``xlsweep ui``
(Ctrl-C, SIGTERM, SIGHUP) stops both, SIGTERM first, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from xlsweep.tracking.app import APP_NAME
from xlsweep.tracking.store import server_healthy, sqlite_path

__all__ = ["serve_ui", "server_command", "stop_server"]


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
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--app-name", APP_NAME]
    db = sqlite_path(tracking_uri)
    if db is not None:  # `mlflow-artifacts:` URIs resolve there, wherever the store was copied to
        command += ["--artifacts-destination", str(db.parent / "mlartifacts")]
    return command


_ENTRY_POINT = f"[mlflow.app]\n{APP_NAME} = xlsweep.tracking.app:create_app\n"


def app_registered() -> bool:
    """Whether the installed metadata names xlsweep's ``mlflow.app`` entry point."""
    return any(e.name == APP_NAME for e in importlib.metadata.entry_points(group="mlflow.app"))


@contextlib.contextmanager
def _app_environment() -> Iterator[dict[str, str]]:
    """The server's environment: xlsweep's ``mlflow.app`` entry point visible to it (see the module's docstring)."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if app_registered():
        yield env
        return
    folder = Path(tempfile.mkdtemp(prefix="xlsweep-ui-"))
    try:
        info = folder / "xlsweep_mlflow_app-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xlsweep-mlflow-app\nVersion: 0\n")
        (info / "entry_points.txt").write_text(_ENTRY_POINT)
        here = str(Path(__file__).resolve().parents[2])  # xlsweep's own folder: the server imports the plugin
        paths = [str(folder), here, *filter(None, [os.environ.get("PYTHONPATH")])]
        yield {**env, "PYTHONPATH": os.pathsep.join(paths)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    output = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, read if it fails to start
    previous = {}
    if block:  # a stopped `xlsweep ui` stops its server: it is in its own process group, so signals stop here
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    stopping: tuple[type[BaseException], ...] = (KeyboardInterrupt, _Stop) if block else ()
    server = None
    try:
        with _app_environment() as env:  # needed until the server has found its app and is up
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
