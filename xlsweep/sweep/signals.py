"""SIGTERM and SIGHUP stop a sweep the way Ctrl-C does.

Ctrl-C (SIGINT) is what Tune handles well: while trials run, its handler ends the run after saving
its state once more; outside Tune, Python raises ``KeyboardInterrupt``. A sweep stopped by a
scheduler (SIGTERM: ``kill``, ``scancel``, ``docker stop``, systemd) or by a closed terminal
(SIGHUP) must end the same way — parent run KILLED, ``state.json`` "interrupted", the resume
command printed — instead of Ray's handler exiting the process mid-write (or its C++ handler
dumping a stack and aborting, exit 134). :class:`StopSignals` forwards both to whatever handles
SIGINT at the moment they arrive.

A signal sent to the driver's whole process group (``kill -TERM -- -PGID``, a terminal's SIGHUP)
also reaches the local Ray instance's processes, which the driver starts in its own group: killed,
they take Tune down with them before it can stop cleanly. :func:`held_for_children` blocks both
signals in the processes Ray starts, as Ray itself does for SIGINT; they end with the driver.
(Stopping them then takes ~4 s longer at the end of a sweep: Ray waits 1 s for each to heed a
SIGTERM before it kills it.)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

__all__ = ["StopSignals", "held_for_children", "signals_ignored"]

FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # Tune's (ends the run after a last save) or Python's default (KeyboardInterrupt)
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or left to the OS by someone else: stop all the same
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


class StopSignals:
    """A context manager: inside it SIGTERM and SIGHUP act as SIGINT, and SIGINT starts as Python's default
    (``KeyboardInterrupt``): Tune sets its own handler for a run and never puts the previous one back, so in a
    process that ran a sweep before, Ctrl-C in stage 1 would only set a flag nobody reads. :meth:`install` again
    after anything that sets its own handlers (``ray.init`` sets one for SIGTERM). Outside the main thread it
    does nothing."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.SIGINT not in self._previous:
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in FORWARDED:
            previous = signal.signal(signum, _as_interrupt)
            self._previous.setdefault(signum, previous)

    def restore(self) -> None:
        """The handlers from before the first :meth:`install`."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def __enter__(self) -> StopSignals:
        self.install()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.restore()


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP ignored inside (a second Ctrl-C while a stopped sweep closes its run and writes its
    state file, which takes milliseconds, would leave them half-done). Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, *FORWARDED)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def held_for_children() -> Iterator[None]:
    """SIGTERM and SIGHUP blocked while inside: processes started meanwhile (the local Ray instance's) keep them
    blocked; here, one that arrives meanwhile is delivered on the way out, to the handler installed by then."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
