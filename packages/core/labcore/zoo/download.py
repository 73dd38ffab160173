"""Download a file into the cache: mirrors in order, retries with backoff, resume, sha256.

Sources: ``http://`` / ``https://`` (streamed with a progress bar; a partial download
is resumed with a ``Range`` request), ``file://`` URLs and plain paths, and MLflow
``models:/NAME/VERSION`` / ``runs:/RUN_ID/PATH`` URIs (resolved against the current
MLflow tracking URI).

The file is written to ``<target>.part`` and moved into place only after its sha256
matched, so the cache never holds a partial or corrupt file under its final name. Beside
the partial file, ``<target>.part.json`` records the URL it came from and that
server's validator (``ETag`` or ``Last-Modified``); a later download resumes it only
from that same URL, with ``If-Range`` so a changed file is sent whole, and starts
over from byte 0 for any other source or when the server gave no validator. A hash
mismatch after a resumed download is retried once from byte 0. Retries and mirror
switches are logged as warnings (seen on stderr also without a progress bar). A
file lock (``<target>.lock``) makes two processes that want the same file download it
once: the second waits and then finds it in the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from labcore.fileio import atomic_write_json
from labcore.zoo import settings
from labcore.zoo.errors import DownloadError, ZooError

logger = logging.getLogger("labcore.zoo")

CHUNK = 1 << 16
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = "openlab-zoo/1"


class _SourceFailed(Exception):
    """One URL failed; ``permanent`` failures (404, checksum) are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


def sha256_file(path: str | Path) -> str:
    """The hex sha256 digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(
    urls: Sequence[str],
    target: str | Path,
    *,
    sha256: str | None,
    size: int | None = None,
    progress: bool | None = None,
    sha256_prefix: str | None = None,
) -> Path:
    """Make sure ``target`` holds the file with digest ``sha256``; return its path.

    A cached ``target`` of the right size is reused without network access. Otherwise
    ``urls`` are tried in order; transient failures (connection refused or cut,
    timeouts, HTTP 5xx) are retried ``OPENLAB_ZOO_RETRIES`` times with exponential
    backoff, resuming a partial download; HTTP 4xx and checksum mismatches move on to
    the next URL at once. When every URL failed, :class:`DownloadError` lists them all.
    With ``OPENLAB_OFFLINE=1`` only the cache is used.

    Args:
        urls: sources in the order to try them.
        target: the file's place in the cache.
        sha256: the expected hex digest (64 characters); None when it is not known (a
            checkpoint URL given by a user): then the file is only checked to be
            complete (the server's ``Content-Length``).
        size: the expected size in bytes, when known (lets a cached file be accepted
            without hashing it, and a resumed download be checked).
        progress: show a progress bar; default: when stderr is a terminal.
        sha256_prefix: when ``sha256`` is None, the first hex digits the digest must
            start with (the hash torchvision and OpenMMLab put in their file names).
    """
    target = Path(target)
    if _is_cached(target, size):
        return target
    if settings.offline():
        raise ZooError(
            f"{target.name} is not in the cache ({target}) and OPENLAB_OFFLINE=1 forbids "
            f"downloading it. Download it where the network is available (`lab zoo download`) "
            f"or unset OPENLAB_OFFLINE."
        )
    if not urls:
        raise DownloadError(f"no URL to download {target.name} from; the manifest entry lists none")
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(blocking=False)
    except Timeout:
        logger.info("zoo: another process is downloading %s; waiting for it", target.name)
        lock.acquire()
    try:
        if _is_cached(target, size):  # the other process finished it
            return target
        return _fetch_locked(
            list(urls), target, sha256=sha256, prefix=sha256_prefix, size=size, progress=progress
        )
    finally:
        lock.release()


def _is_cached(target: Path, size: int | None) -> bool:
    return target.is_file() and (size is None or target.stat().st_size == size)


def _digest_matches(actual: str | None, sha256: str | None, prefix: str | None) -> bool:
    if sha256 is not None:
        return actual == sha256
    return prefix is None or (actual is not None and actual.startswith(prefix))


def _fetch_locked(
    urls: list[str],
    target: Path,
    *,
    sha256: str | None,
    prefix: str | None,
    size: int | None,
    progress: bool | None,
) -> Path:
    part = PartialFile(Path(str(target) + ".part"))
    failures: list[str] = []
    expected = sha256 if sha256 is not None else f"a digest starting with {prefix}"
    for i, url in enumerate(urls):
        try:
            resumed = _fetch_one(url, part, size=size, progress=progress)
            hashed = sha256 is not None or prefix is not None
            actual = sha256_file(part.path) if hashed else None
            if not _digest_matches(actual, sha256, prefix) and resumed:
                logger.warning(
                    "zoo: %s: sha256 mismatch after resuming a partial download; "
                    "downloading it again from byte 0",
                    url,
                )
                part.discard()
                _fetch_one(url, part, size=size, progress=progress)
                actual = sha256_file(part.path)
            if not _digest_matches(actual, sha256, prefix):
                part.discard()
                raise _SourceFailed(
                    f"sha256 mismatch: expected {expected}, got {actual}; the file was deleted",
                    permanent=True,
                )
        except _SourceFailed as err:
            failures.append(f"{url}: {err.reason}")
            if i + 1 < len(urls):
                logger.warning(
                    "zoo: %s failed (%s); trying next mirror %s", url, err.reason, urls[i + 1]
                )
            continue
        part.finish(target)
        return target
    tried = "\n  ".join(failures)  # a partial download stays, to be resumed next time
    raise DownloadError(
        f"could not download {target.name}; every source failed, in the order tried:\n  {tried}\n"
        f"Check the network and the URLs, or add a mirror with OPENLAB_ZOO_MIRRORS."
    )


class PartialFile:
    """``<target>.part`` and the record of where its bytes came from (``.part.json``:
    ``url`` and the server's ``etag`` / ``last_modified``).

    A partial file may be continued only by the source that wrote it, and only when that
    source gave a validator to check that its file did not change since.
    """

    def __init__(self, path: Path):
        self.path = path
        self.source_file = Path(str(path) + ".json")

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def source(self) -> dict | None:
        """The recorded source, or None when there is none (or it cannot be read)."""
        try:
            return json.loads(self.source_file.read_text())
        except (OSError, ValueError):
            return None

    def resumable_from(self, url: str) -> str | None:
        """The validator to send as ``If-Range`` when ``url`` may continue this partial
        file; None when it must start over (other source, no validator, no bytes)."""
        source = self.source()
        if not self.size() or source is None or source.get("url") != url:
            return None
        return source.get("etag") or source.get("last_modified")

    def start(self, url: str, *, etag: str | None = None, last_modified: str | None = None):
        """Forget any old bytes and record ``url`` (and its validator) as the source."""
        self.path.unlink(missing_ok=True)
        atomic_write_json(self.source_file, dict(url=url, etag=etag, last_modified=last_modified))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.source_file.unlink(missing_ok=True)

    def finish(self, target: Path) -> None:
        """Move the complete, verified file to ``target``."""
        os.replace(self.path, target)
        self.source_file.unlink(missing_ok=True)


def _fetch_one(url: str, part: PartialFile, *, size: int | None, progress: bool | None) -> bool:
    """Download ``url`` into ``part``; True when it continued bytes downloaded before."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("http", "https"):
        return _fetch_http(url, part, size=size, progress=progress)
    if scheme in ("models", "runs"):
        part.discard()
        _fetch_mlflow(url, part.path)
    elif scheme in ("file", ""):
        part.discard()
        _fetch_file(url, part.path)
    else:
        raise _SourceFailed(
            f"unsupported URL scheme '{scheme}' (use http(s)://, file://, models:/ or runs:/)",
            permanent=True,
        )
    return False


def probe(url: str, size: int | None) -> str | None:
    """Check that ``url`` serves a file of ``size`` bytes without downloading it (HTTP
    HEAD, or the file's size for ``file://``); return what is wrong, or None when it is
    fine. MLflow URIs are not probed (None); ``size=None`` checks only that it is there."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("models", "runs"):
        return None
    if scheme in ("file", ""):
        path = local_path(url)
        if not path.is_file():
            return f"no such file {path}"
        actual = path.stat().st_size
    else:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout()) as response:
                length = response.headers.get("Content-Length")
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code} {err.reason}"
        except (urllib.error.URLError, OSError) as err:
            return f"cannot connect: {getattr(err, 'reason', err)}"
        if length is None:
            return None  # the server does not say; a download will check the digest
        actual = int(length)
    return None if size is None or actual == size else f"size {actual} bytes, expected {size}"


def local_path(url: str) -> Path:
    """The local path a ``file://`` URL (or a plain path) names."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(url).expanduser()


def _fetch_file(url: str, part: Path) -> None:
    source = local_path(url)
    if not source.is_file():
        raise _SourceFailed(f"no such file {source}", permanent=True)
    shutil.copyfile(source, part)


def _fetch_mlflow(url: str, part: Path) -> None:
    """Download an MLflow artifact; a ``models:/`` version holding a folder contributes
    the file named like ``part`` (without ``.part``)."""
    import mlflow

    wanted = part.name.removesuffix(".part")
    with tempfile.TemporaryDirectory(dir=part.parent) as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=url, dst_path=tmp))
        except Exception as err:  # MLflow raises many types (MlflowException, OSError, ...)
            raise _SourceFailed(
                f"MLflow could not resolve it at tracking URI {mlflow.get_tracking_uri()}: "
                f"{str(err).splitlines()[0] if str(err) else type(err).__name__}",
                permanent=True,
            ) from None
        if local.is_dir():
            matches = sorted(local.rglob(wanted)) or sorted(
                p for p in local.rglob("*") if p.is_file()
            )
            if len(matches) != 1:
                raise _SourceFailed(f"the artifact folder does not hold {wanted}", permanent=True)
            local = matches[0]
        shutil.move(str(local), part)


def _fetch_http(url: str, part: PartialFile, *, size: int | None, progress: bool | None) -> bool:
    attempts, delay, last = settings.retries(), settings.backoff(), "no attempt made"
    resumed = False
    for attempt in range(attempts):
        try:
            return _http_get_resuming(url, part, size=size, progress=progress) or resumed
        except _Resumed as err:  # bytes were added to a partial file, then it failed
            resumed, last = True, err.reason
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code} {err.reason}"
            if err.code == 416:  # the partial file does not fit the remote one: restart
                part.discard()
            elif err.code not in TRANSIENT_HTTP:
                raise _SourceFailed(last, permanent=True) from None
        except urllib.error.URLError as err:
            last = f"cannot connect: {err.reason}"
        except (http.client.HTTPException, ConnectionError, TimeoutError, OSError) as err:
            last = f"connection failed: {err or type(err).__name__}"
        if attempt + 1 < attempts:
            wait = delay * 2**attempt
            logger.warning(
                "zoo: %s: %s; retry %d/%d in %g s", url, last, attempt + 1, attempts - 1, wait
            )
            time.sleep(wait)
    raise _SourceFailed(f"{last} (after {attempts} attempts)")


class _Resumed(Exception):
    """A resumed transfer failed after adding bytes; ``reason`` says how."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _http_get_resuming(
    url: str, part: PartialFile, *, size: int | None, progress: bool | None
) -> bool:
    """One GET of ``url`` into ``part``, continuing it when it came from ``url`` and the
    server's validator still matches; True when it continued older bytes.

    Raises:
        _Resumed: a continued transfer failed (the reason inside).
    """
    validator = part.resumable_from(url)
    offset = part.size() if validator else 0
    if size is not None and offset > size:
        validator, offset = None, 0
    if size is not None and offset == size:
        return True
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = validator
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=settings.timeout()) as response:
        if offset and response.status != 206:  # changed, or the server ignored Range
            offset = 0
        elif offset and not response.headers.get("Content-Range", "").startswith(
            f"bytes {offset}-"
        ):
            part.discard()
            raise ConnectionError(
                f"asked for bytes {offset}- but got {response.headers.get('Content-Range')}"
            )
        if offset:
            logger.info("zoo: resuming %s at byte %d", url, offset)
        else:
            part.start(
                url,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else size
        written = offset
        try:
            with (
                open(part.path, "ab" if offset else "wb") as out,
                ProgressBar(part.path.name.removesuffix(".part"), total, offset, progress) as bar,
            ):
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar(len(chunk))
            if total is not None and written < total:
                raise ConnectionError(f"connection closed after {written} of {total} bytes")
        except (http.client.HTTPException, ConnectionError, TimeoutError, OSError) as err:
            if offset:
                raise _Resumed(f"connection failed: {err or type(err).__name__}") from err
            raise
    return bool(offset)


class ProgressBar:
    """A rich progress bar on stderr for one file; entering it gives ``advance(n_bytes)``.
    Disabled, it draws nothing."""

    def __init__(self, label: str, total: int | None, done: int, enabled: bool | None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label, self.total, self.done = label, total, done

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total, completed=self.done)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
