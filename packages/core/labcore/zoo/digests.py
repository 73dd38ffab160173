"""Record the full sha256 and size of imported weights in their manifest.

Upstream file names carry only the first 8 or more hex digits of the sha256, which is all
a freshly generated ``kind: imported`` entry knows. ``lab zoo record-digests MANIFEST``
fetches each such file once (through the zoo client, so mirrors, the cache and the
prefix check apply), hashes it and writes ``sha256`` and ``size`` into the manifest;
from then on every download is checked against the full digest. The generator of the
imported manifests (``model_zoo/generate_imported.py``) keeps recorded digests when it
rewrites a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from labcore.zoo.manifest import ImportedEntry, read_manifest, write_manifest


def manifest_header(path: Path) -> str:
    """The comment lines at the top of a manifest file, kept when it is rewritten."""
    lines = []
    for line in path.read_text().splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def record_digests(
    path: str | Path,
    names: Iterable[str] | None = None,
    *,
    report: Callable[[str], None] = print,
) -> tuple[int, list[str]]:
    """Fetch the imported entries of the manifest ``path`` that lack a full digest (or
    the entries ``names``, recorded or not), and write their sha256 and size into it.

    Returns the number of entries recorded and the names that failed (each failure is
    reported with its reason; the others are still recorded).
    """
    from labcore.zoo.client import download
    from labcore.zoo.download import sha256_file
    from labcore.zoo.errors import ZooError

    path = Path(path)
    manifest = read_manifest(path)
    wanted = set(names) if names is not None else None
    known = {m.name for m in manifest.models}
    failed = sorted(wanted - known) if wanted else []
    for name in failed:
        report(f"{name}: not an entry of {path}")
    models, recorded = [], 0
    for entry in manifest.models:
        selected = entry.name in wanted if wanted is not None else entry.weights.sha256 is None
        if not isinstance(entry, ImportedEntry) or not selected:
            models.append(entry)
            continue
        try:
            file = download(entry)
        except (ZooError, OSError) as err:
            report(f"{entry.name}: FAILED: {err}")
            failed.append(entry.name)
            models.append(entry)
            continue
        weights = entry.weights.model_copy(
            update={"sha256": sha256_file(file), "size": file.stat().st_size}
        )
        models.append(entry.model_copy(update={"weights": weights}))
        recorded += 1
        report(f"{entry.name}: sha256 {weights.sha256}, {weights.size} bytes")
    write_manifest(manifest.model_copy(update={"models": models}), path, manifest_header(path))
    return recorded, failed


def recorded_digests(path: str | Path) -> dict[str, dict[str, object]]:
    """``{url: {"sha256": ..., "size": ...}}`` of the entries of ``path`` whose full digest
    is recorded (empty when the file does not exist): what a regenerated manifest keeps."""
    path = Path(path)
    if not path.is_file():
        return {}
    return {
        m.weights.url: {"sha256": m.weights.sha256, "size": m.weights.size}
        for m in read_manifest(path).models
        if isinstance(m, ImportedEntry) and m.weights.sha256 is not None
    }
