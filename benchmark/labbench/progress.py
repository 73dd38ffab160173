"""The sweep's progress on the terminal, by rich: one line per ended run, and a status
line of the runs going on with the time left. On a terminal the status line is redrawn
in place (rich's Live display); in a log file it is printed every ``every_s`` seconds."""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class ProgressReporter:
    """Writes the sweep's messages and its status line to ``out``."""

    def __init__(self, out: TextIO, *, every_s: float = 10.0):
        self.console = Console(file=out, highlight=False, soft_wrap=True, emoji=False)
        self.every_s = every_s
        self._last = 0.0
        self._live: Live | None = None

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal

    def say(self, message: str = "") -> None:
        """One line of output (above the status line on a terminal)."""
        self.console.print(Text(message), markup=False)

    def status(self, done: int, total: int, parts: list[str], remaining_s: float) -> None:
        """The runs going on (``parts``), how many are done, and the time left."""
        now = time.monotonic()
        if not parts or now - self._last < (0.5 if self.interactive else self.every_s):
            return
        self._last = now
        line = f"[{done}/{total} done] {' | '.join(parts)} | ETA {format_seconds(remaining_s)}"
        if not self.interactive:
            self.say(line)
            return
        if self._live is None:
            self._live = Live(console=self.console, transient=True, auto_refresh=False)
            self._live.start()
        self._live.update(Text(line[: self.console.width - 1]), refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
