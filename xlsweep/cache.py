"""Build-once artefacts, keyed by a content hash of everything that determines them.

``cached(root, kind, key, build)`` returns ``<root>/<kind>-<hash>/``, building it
with ``build(tmp_dir)`` first if it does not exist. A file lock makes concurrent
callers (trials of one sweep) wait for one builder instead of racing, and the
directory appears only by an atomic rename once complete: an interrupted build
leaves nothing half-written behind.

Keys name what an artefact is made of by content: ``file_digest(path, root)`` is the
sha256 of a file (a data file, a model's weights), memoised in ``<root>/file-digests.json``
by the file's identity (size, mtime, ctime, inode) so a big file is hashed once, not on
every call, and rehashed as soon as it is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["cached", "file_digest", "fingerprint"]

DIGESTS = "file-digests.json"
_RECENT_S = 2.0  # a file modified this recently may change again within its mtime's tick: hashed, not memoised
_seen: dict[tuple[str, tuple[int, ...]], str] = {}  # this process's memo: (path, identity) -> sha256


def fingerprint(key: Any) -> str:
    """A short stable hash of JSON-able ``key`` (dict order does not matter)."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached(root: str | Path, kind: str, key: Any, build: Callable[[Path], None]) -> Path:
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{kind}-{fingerprint(key)}"
    if (final / "key.json").exists():
        return final
    with FileLock(str(final) + ".lock"):
        if (final / "key.json").exists():  # another process built it while we waited
            return final
        tmp = root / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            build(tmp)
            (tmp / "key.json").write_text(json.dumps(key, sort_keys=True, indent=1, default=str))
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _identity(path: Path) -> tuple[int, ...]:
    """What changes whenever a file is rewritten: size, mtime and ctime (which no tool can set back), inode."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: str | Path, memo_dir: str | Path | None = None) -> str:
    """The sha256 of ``path``'s content, memoised by its identity (in this process and, with ``memo_dir``,
    in ``<memo_dir>/file-digests.json``, shared by every process under a file lock).

    Raises:
        OSError: If ``path`` cannot be read.
    """
    path = Path(path).resolve()
    ident = _identity(path)
    key = (str(path), ident)
    if key in _seen:
        return _seen[key]
    memo = Path(memo_dir).resolve() / DIGESTS if memo_dir is not None else None
    if memo is not None and memo.is_file():
        entry = _read_memo(memo).get(str(path))
        if entry is not None and tuple(entry.get("identity", ())) == ident:
            _seen[key] = str(entry["sha256"])
            return _seen[key]
    digest = _sha256(path)
    if _identity(path) != ident or time.time() - ident[1] / 1e9 < _RECENT_S:
        return digest  # changed while read, or may still change unseen: not memoised
    _seen[key] = digest
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{memo}.lock"):
            entries = _read_memo(memo)
            entries[str(path)] = {"identity": list(ident), "sha256": digest}
            tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries, indent=0, sort_keys=True))
            os.replace(tmp, memo)
    return digest


def _read_memo(memo: Path) -> dict[str, Any]:
    try:
        entries = json.loads(memo.read_text())
    except (OSError, ValueError):  # absent, or damaged: every file is hashed again
        return {}
    return entries if isinstance(entries, dict) else {}
