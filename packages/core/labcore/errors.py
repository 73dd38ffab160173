"""User-facing errors.

Every error that a user can cause (a bad config, a missing file, a corrupt checkpoint)
is raised as a :class:`LabError`. Its message names the thing that is wrong and how
to fix it; the ``lab`` command prints the message and exits with status 2 instead of
showing a bare traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LabError(Exception):
    """An error caused by user input; the message says what is wrong and how to fix it."""


class UnknownTypeError(LabError, KeyError):
    """A config's ``type`` is not registered in the registry that was searched.

    Subclasses KeyError because MMEngine's builders raise KeyError for the same case.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(LabError):
    """A config file is missing or invalid, or a ``--cfg-options`` key does not exist."""


class CheckpointError(LabError):
    """A checkpoint file is missing, corrupt or holds objects that are not allowed."""


class NonFiniteLossError(LabError):
    """Training produced a NaN or infinite loss."""


def close_matches(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The candidates closest to ``word``: difflib matches first, then case-insensitive
    substring matches, without duplicates."""
    candidates = sorted(set(candidates))
    matches = difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)
    lower = word.lower()
    for c in candidates:
        if len(matches) >= n:
            break
        if c not in matches and (lower in c.lower() or c.lower() in lower):
            matches.append(c)
    return matches
