"""Files that another process may read while they are written: atomic writes.

A reader (the benchmark sweep polling a worker's progress, a second sweep on the same
work folder, a zoo client) never sees half a file: each write goes to a temporary file
in the same folder, which then replaces the target in one ``os.replace``. (The sha256 of
a file is :func:`labcore.zoo.download.sha256_file`.)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (the folder must exist)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as JSON atomically; values JSON lacks are written as ``str``."""
    atomic_write_text(path, json.dumps(data, indent=indent, default=str))
