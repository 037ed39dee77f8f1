"""Build-once artefacts, keyed by a content hash of everything that determines them.

``cached(root, kind, key, build)`` returns ``<root>/<kind>-<hash>/``, building it
with ``build(tmp_dir)`` first if it does not exist. A file lock makes concurrent
callers (trials of one sweep) wait for one builder instead of racing, and the
directory appears only by an atomic rename once complete: an interrupted build
leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["cached", "fingerprint"]


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
