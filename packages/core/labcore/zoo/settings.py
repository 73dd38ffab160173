"""Where the model zoo keeps its files and which sources it may use, read from the
environment at each call (so tests and users can change them at run time).

- ``OPENLAB_HOME``: cache root (default ``~/.cache/openlab``); weights live under
  ``$OPENLAB_HOME/zoo/<codebase>/<name>/<file>``.
- ``OPENLAB_OFFLINE=1``: use the cache only; a file that is not cached is an error.
- ``OPENLAB_ZOO_MIRRORS``: base URLs tried in order before a manifest's own URLs,
  separated by spaces or commas; a file's URL on a mirror is ``<mirror>/<weights.path>``.
- ``OPENLAB_ZOO_MANIFESTS``: folders (or ``.yml`` files) of manifests, separated by
  ``os.pathsep``; default: the repository's ``model_zoo/``. A path that does not exist
  is named in a warning. The benchmark sweep publishes to a local zoo folder
  (``work_dirs/benchmark/zoo``) that can be added here.
- ``OPENLAB_ZOO_RETRIES``: attempts per URL for transient failures (default 3).
- ``OPENLAB_ZOO_BACKOFF``: seconds before the first retry, doubled each time (default 1).
- ``OPENLAB_ZOO_TIMEOUT``: socket timeout in seconds (default 30).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import labcore
from labcore.folders import writable_folder

logger = logging.getLogger("labcore.zoo")
_warned_missing: set[str] = set()


def openlab_home() -> Path:
    """The cache root: ``$OPENLAB_HOME`` or ``~/.cache/openlab``."""
    return Path(os.environ.get("OPENLAB_HOME") or Path.home() / ".cache" / "openlab")


def zoo_cache_dir() -> Path:
    return openlab_home() / "zoo"


def home_folder(*parts: str) -> Path:
    """``$OPENLAB_HOME/<parts>``, created and checked writable; an unusable
    ``OPENLAB_HOME`` (under a file, read-only) raises a FolderError naming it."""
    return writable_folder(openlab_home().joinpath(*parts), setting="OPENLAB_HOME")


def offline() -> bool:
    """True when ``OPENLAB_OFFLINE`` is set to 1/true/yes/on."""
    return os.environ.get("OPENLAB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def mirrors() -> list[str]:
    """Mirror base URLs from ``OPENLAB_ZOO_MIRRORS``, in the order given."""
    value = os.environ.get("OPENLAB_ZOO_MIRRORS", "")
    return [m.rstrip("/") for m in re.split(r"[\s,]+", value) if m]


def retries() -> int:
    return max(1, int(os.environ.get("OPENLAB_ZOO_RETRIES", "3")))


def backoff() -> float:
    return float(os.environ.get("OPENLAB_ZOO_BACKOFF", "1.0"))


def timeout() -> float:
    return float(os.environ.get("OPENLAB_ZOO_TIMEOUT", "30"))


def repository_model_zoo() -> Path | None:
    """The ``model_zoo/`` folder of the source checkout labcore was installed from
    (editable installs), or None for an installed wheel."""
    for parent in Path(labcore.__file__).resolve().parents:
        candidate = parent / "model_zoo"
        if candidate.is_dir() and (parent / "packages").is_dir():
            return candidate
    return None


def manifest_locations() -> list[Path]:
    """Manifest folders or files, from ``OPENLAB_ZOO_MANIFESTS`` or the repository."""
    value = os.environ.get("OPENLAB_ZOO_MANIFESTS")
    if value:
        locations = [Path(p).expanduser() for p in value.split(os.pathsep) if p]
        for missing in (p for p in locations if not p.exists()):
            if str(missing) not in _warned_missing:  # once per process and path
                _warned_missing.add(str(missing))
                logger.warning(
                    "zoo: OPENLAB_ZOO_MANIFESTS names %s, which does not exist; no "
                    "manifests are read from it. Fix the path (entries are separated by %r).",
                    missing,
                    os.pathsep,
                )
        return locations
    found = repository_model_zoo()
    return [found] if found is not None else []


def zoo_manifests_with(folder: Path) -> str:
    """A value for ``OPENLAB_ZOO_MANIFESTS``: the current manifest locations and ``folder``."""
    locations = [str(p) for p in manifest_locations()]
    folder = str(Path(folder).resolve())
    return os.pathsep.join([*(p for p in locations if p != folder), folder])
