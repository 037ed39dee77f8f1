"""What a killed driver's local Ray instance leaves, found and ended by the next sweep or resume of its sweep.

A driver killed with SIGKILL (or by the OOM killer, or a power cut of its terminal's session) cannot stop
the Ray instance it started: Ray's DashboardAgent and RuntimeEnvAgent live on as orphans (parent PID 1),
holding memory and ports. So, once its local Ray instance is up, the driver records in its sweep directory
(``ray-session.json``) its own PID and start time, the PIDs and start times of the processes it has started by
then, and Ray's session directory, whose path every Ray process of the session carries on its command line; a
clean end removes the record. :func:`end_leftovers`, run by ``xlsweep sweep`` and ``xlsweep resume`` before
they start Ray, reads the records of the sweep's directories: where the recorded driver is gone (no process
with its PID and start time), it ends the recorded processes still running (same PID *and* start time, so a
reused PID is never hit) and every process of the current user whose command line names the session
directory, SIGTERM then SIGKILL after ``grace`` seconds (Ray's processes ignore SIGTERM under a sweep).

Linux only (it reads ``/proc``); elsewhere nothing is recorded and nothing ended (docs/reliability.md says how
to end them by hand). A cluster's processes (``--address``) are not the driver's and are never recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["SESSION_FILE", "end_leftovers", "forget_session", "record_session"]

SESSION_FILE = "ray-session.json"
_PROC = Path("/proc")
Log = Callable[[str], None]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent PID, start time in clock ticks since boot) of process ``pid``, or None if there is none."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ..., starttime is field 22
    return fields[0], int(fields[1]), int(fields[19])


def _alive(pid: int, start: int) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (a zombie has ended)."""
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[0] not in ("Z", "X")


def _pids() -> list[int]:
    return [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()] if _PROC.is_dir() else []


def _descendants(root: int) -> list[tuple[int, int]]:
    """(PID, start time) of every running descendant of ``root``."""
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] not in ("Z", "X"):
            children.setdefault(stat[1], []).append((pid, stat[2]))
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child[0])
    return found


def _session_dir() -> str | None:
    """The session directory of this process's local Ray instance, if one is running."""
    try:
        from ray._private import worker

        node = worker._global_node
        return str(node.get_session_dir_path()) if node is not None else None
    except Exception:  # noqa: BLE001 - Ray's internals move; without it the recorded PIDs still serve
        return None


def record_session(out_dir: Path) -> None:
    """Write ``out_dir/ray-session.json``: this driver, the processes it has started and Ray's session directory."""
    me = _stat(os.getpid())
    if me is None:  # no /proc: not Linux
        return
    record = {"driver": {"pid": os.getpid(), "start": me[2]}, "session_dir": _session_dir(),
              "processes": [{"pid": pid, "start": start} for pid, start in _descendants(os.getpid())]}
    tmp = out_dir / f".{SESSION_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, out_dir / SESSION_FILE)


def forget_session(out_dir: Path) -> None:
    """Remove the record: the driver stopped its Ray instance itself."""
    (out_dir / SESSION_FILE).unlink(missing_ok=True)


def _mine(pid: int) -> bool:
    try:
        return (_PROC / str(pid)).stat().st_uid == os.getuid()
    except OSError:
        return False


def _naming(session_dir: str) -> list[tuple[int, int]]:
    """(PID, start time) of the current user's processes whose command line names ``session_dir``."""
    found = []
    for pid in _pids():
        try:
            cmdline = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        stat = _stat(pid)
        if session_dir in cmdline and stat is not None and _mine(pid):
            found.append((pid, stat[2]))
    return found


def _leftovers(record: dict[str, Any]) -> list[tuple[int, int]]:
    """The processes a record's dead driver left running (none while the driver runs)."""
    driver = record["driver"]
    if _alive(int(driver["pid"]), int(driver["start"])):
        return []
    procs = {(int(p["pid"]), int(p["start"])) for p in record.get("processes", [])}
    if record.get("session_dir"):
        procs |= set(_naming(str(record["session_dir"])))
    ours = {os.getpid(), *(pid for pid, _ in _ancestors())}
    return sorted((pid, start) for pid, start in procs if pid not in ours and _alive(pid, start) and _mine(pid))


def _ancestors() -> list[tuple[int, int]]:
    found, pid = [], os.getppid()
    while pid > 1 and (stat := _stat(pid)) is not None:
        found.append((pid, stat[2]))
        pid = stat[1]
    return found


def _end(procs: list[tuple[int, int]], grace: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, start in procs:
            if _alive(pid, start):
                with contextlib.suppress(OSError):  # gone meanwhile
                    os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(pid, start) for pid, start in procs):
            time.sleep(0.05)


def end_leftovers(sweep_dirs: Iterable[Path], log: Log, *, grace: float = 1.0) -> list[int]:
    """End what the dead drivers recorded in ``sweep_dirs`` left of their Ray sessions; return their PIDs.

    A record whose driver is gone is removed once its processes are ended; a live driver's is kept (another
    sweep runs). An unreadable record is removed (it names no process that can be trusted).
    """
    ended: list[int] = []
    for out_dir in sweep_dirs:
        path = Path(out_dir) / SESSION_FILE
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
            driver = record["driver"]
            alive = _alive(int(driver["pid"]), int(driver["start"]))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if alive:
            continue
        procs = _leftovers(record)
        if procs:
            log(f"ending {len(procs)} process{'' if len(procs) == 1 else 'es'} of a killed driver's Ray session "
                f"({path.parent}): PIDs {', '.join(str(pid) for pid, _ in procs)}")
            _end(procs, grace)
            ended += [pid for pid, _ in procs]
        path.unlink(missing_ok=True)
    return ended
