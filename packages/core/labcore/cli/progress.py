"""The progress bar of ``lab`` commands that count items (images written, patches cut):
``description [bar] done/total elapsed remaining``, with rich."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def counting_progress() -> Progress:
    """A rich ``Progress`` (use it as a context manager) whose tasks count items."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
