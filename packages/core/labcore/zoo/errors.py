"""Errors of the model zoo: all are :class:`labcore.errors.LabError`, so the ``lab``
command prints their message (what failed, and what to do) instead of a traceback."""

from __future__ import annotations

from labcore.errors import LabError


class ZooError(LabError):
    """A model-zoo operation failed: unknown name, invalid manifest, offline cache miss."""


class DownloadError(ZooError):
    """Every source of a file failed; the message lists each URL and why it failed."""


class ChecksumError(ZooError):
    """A file's sha256 differs from the manifest's; the file has been deleted."""

    def __init__(self, path, expected: str, actual: str):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}. "
            f"The file was deleted; download it again (`lab zoo download`), and if the "
            f"mismatch persists the source or the manifest entry is wrong."
        )


class PublishError(ZooError):
    """Weights could not be exported or uploaded to the destination."""
