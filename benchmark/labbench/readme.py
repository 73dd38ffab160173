"""The results section of a README, written from the leaderboard instead of typed.

``labbench --report --readme README.md`` replaces what stands between the two markers
:data:`START` and :data:`END` of the file with one table per tiny protocol that has runs:
each config's metric over seeds (mean, std), its difference to the protocol's baseline
with Welch's p-value and the metrics the protocol reports beside it. (The metafile's
expected band, as the sweep knew it, is in the full leaderboard.) The rows are the leaderboard's
(:func:`labbench.leaderboard.leaderboard_table`), formatted by the same column
definitions, so a number in the README is the number of the leaderboard it came from.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from labbench.leaderboard import (
    MARKDOWN,
    columns_for,
    leaderboard_frame,
    leaderboard_table,
    reported_columns,
)
from labbench.protocol import Protocol
from labcore.errors import ConfigError

START = "<!-- labbench:results:start -->"
END = "<!-- labbench:results:end -->"
# the leaderboard's columns a README shows, besides the protocol's reported metrics
README_COLUMNS = ("config", "seeds", "mean", "std", "diff", "p")


def results_markdown(records: pd.DataFrame, protocols: dict[str, Protocol]) -> str:
    """One Markdown table per tiny protocol with records, in the protocols' name order."""
    sections = []
    for name in sorted(protocols):
        protocol = protocols[name]
        if not protocol.tiny or name not in set(records["protocol"]):
            continue
        table = leaderboard_table(records, protocol)
        columns = columns_for(MARKDOWN, protocol)
        reported = {c.name for c in reported_columns(protocol)}
        keep = [i for i, c in enumerate(columns) if c.name in README_COLUMNS or c.name in reported]
        frame = leaderboard_frame(table, protocol, MARKDOWN).iloc[:, keep]
        align = [{"l": "left", "r": "right"}[columns[i].align] for i in keep]
        direction = "higher" if protocol.metric.greater_is_better else "lower"
        sections.append(
            f"**{protocol.label}**: {protocol.metric.name} ({direction} is better)\n\n"
            + frame.to_markdown(index=False, colalign=align, disable_numparse=True)
        )
    note = (
        f"Written on {date.today().isoformat()} by `labbench --report --readme` from the "
        "runs in MLflow; * marks a difference to the baseline significant by Welch's "
        "t-test (p < 0.05). The full leaderboard, with confidence intervals, the "
        "metafiles' expected bands and links to every run, is "
        "`leaderboard/leaderboard.html` of the benchmark's work dir."
    )
    return "\n\n".join([*sections, note])


def update_readme(path: Path, records: pd.DataFrame, protocols: dict[str, Protocol]) -> None:
    """Replace the text between :data:`START` and :data:`END` in ``path``."""
    text = path.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ConfigError(
            f"{path} needs the lines {START} and {END}, once each and in that order, "
            "around the results that `labbench --report --readme` writes."
        )
    head, rest = text.split(START)
    _, tail = rest.split(END)
    path.write_text(f"{head}{START}\n{results_markdown(records, protocols)}\n{END}{tail}")
