"""The one check of a folder OpenLab writes to (a work dir, the zoo cache under
``OPENLAB_HOME``, the data cache under ``OPENLAB_DATA``): create it, try writing in it,
and when either fails say which setting points where and why it cannot work."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from labcore.errors import LabError


class FolderError(LabError):
    """A folder OpenLab must write to cannot be created or written."""


def writable_folder(path: str | os.PathLike, *, setting: str) -> Path:
    """``path`` as a folder that exists and takes new files (created when missing).

    Args:
        path: the folder.
        setting: what chose it, as the user wrote it: ``"--work-dir"``,
            ``"OPENLAB_HOME"``, ``"OPENLAB_DATA"``; named in the error.

    Raises:
        FolderError: the folder cannot be created (a part of the path is a file, the
            file system is read-only or does not allow new folders there) or written.
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise FolderError(
            f"{setting}: the folder {path} cannot be used: {_reason(path, err)}. Set "
            f"{setting} to a folder you can write to."
        ) from None
    return path


def _reason(path: Path, err: OSError) -> str:
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing is not None and not os.access(existing, os.W_OK):
        return f"{existing} is not writable ({err.strerror or err})"
    return f"{err.strerror or err} ({err.filename or path})"
