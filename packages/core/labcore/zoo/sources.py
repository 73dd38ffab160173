"""Any checkpoint source as a local file: ``checkpoint_file(source)``.

``lab test`` and ``lab infer`` take a checkpoint as a path, a ``file://`` URL, an
http(s) URL or ``zoo://NAME``; code that needs the file itself (not only its weights,
which :func:`labcore.engine.checkpoint.read_checkpoint` reads) gets it here:

- a path or ``file://`` URL: that file, which must exist;
- ``zoo://NAME``: the zoo weights of NAME, downloaded into the cache and verified
  against the manifest's sha256 (:func:`labcore.zoo.client.download`); for an imported
  entry, its converted OpenLab-layout safetensors (:func:`labcore.zoo.client.converted_file`);
- ``http(s)://``: downloaded once into ``$OPENLAB_HOME/checkpoints/<digest of the
  URL>/<file name>`` with the zoo's retries, resume and mirrors' rules
  (:func:`labcore.zoo.download.fetch`), then reused from there.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from pathlib import Path

from labcore.errors import CheckpointError
from labcore.zoo import settings
from labcore.zoo.scheme import PREFIX as ZOO_PREFIX

CHECKPOINTS_DIR = "checkpoints"


def checkpoint_file(source: str | os.PathLike, *, progress: bool | None = None) -> Path:
    """The local file of the checkpoint ``source`` (see the module docstring).

    Raises:
        CheckpointError: a path that does not exist, or a scheme that is not a file.
        ZooError: an unknown zoo name, or a download that failed from every source.
        FolderError: ``$OPENLAB_HOME`` cannot hold the download.
    """
    name = os.fspath(source)
    if name.startswith(ZOO_PREFIX):
        from labcore.zoo.client import converted_file, download, resolve
        from labcore.zoo.manifest import ImportedEntry

        entry = resolve(name[len(ZOO_PREFIX) :].strip("/"))
        if isinstance(entry, ImportedEntry):
            return converted_file(entry, progress=progress)
        return download(entry, progress=progress)
    parsed = urllib.parse.urlparse(name)
    if parsed.scheme in ("http", "https"):
        from labcore.zoo.download import fetch

        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        file_name = Path(urllib.parse.unquote(parsed.path)).name or "checkpoint.pth"
        folder = settings.home_folder(CHECKPOINTS_DIR, digest)
        return fetch([name], folder / file_name, sha256=None, progress=progress)
    if parsed.scheme == "file" or "://" not in name:
        from labcore.zoo.download import local_path

        path = local_path(name)
        if not path.is_file():
            raise CheckpointError(
                f"Checkpoint '{name}' does not exist. Give the path of a .pth or .safetensors "
                f"file, an http(s) URL or zoo://NAME."
            )
        return path
    raise CheckpointError(
        f"Checkpoint '{name}': the scheme '{parsed.scheme}://' names no file to download. "
        f"Give a path, an http(s) URL or zoo://NAME."
    )
