"""Errors in classification datasets."""

from labcore.errors import LabError


class DatasetError(LabError):
    """A dataset's files are missing or malformed; the message names the file and line."""
