"""The leaderboard as one self-contained HTML page that reads at 1280 px wide.

Per protocol: the table (:func:`labbench.leaderboard.leaderboard_frame` in HTML markup,
written by pandas' Styler) with each mean coloured by its expected band and a legend,
links to the paper and to the MLflow UI, and plots embedded as base64 PNG (the metric
against GFLOPs and against train time with 95% interval error bars; learning curves).
The page loads nothing from elsewhere: no scripts, styles or images from other hosts.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from pandas.io.formats.style import Styler  # noqa: E402

from labbench.leaderboard import (  # noqa: E402
    HTML,
    STATS_NOTE,
    Column,
    columns_for,
    leaderboard_frame,
)
from labbench.protocol import Protocol  # noqa: E402

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.8em 0 0.3em; }
p { max-width: 75em; margin: 0.4em 0; }
a { color: #1a56b0; }
table.leaderboard { border-collapse: collapse; margin: 0.6em 0; font-size: 13px;
  font-variant-numeric: tabular-nums; }
table.leaderboard th, table.leaderboard td { border-bottom: 1px solid #ddd;
  padding: 3px 6px; text-align: right; white-space: nowrap; }
table.leaderboard th { vertical-align: bottom; white-space: normal; border-bottom: 2px solid #aaa; }
table.leaderboard td.left { text-align: left; }
table.leaderboard td.c-config { white-space: normal; min-width: 16em; }
td.baseline { background: #eef3fb; }
td.in-band { background: #dff2e3; }
td.out-of-band { background: #fbdcd8; color: #8a1c12; font-weight: 600; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em;
  border: 1px solid #bbb; margin: 0 0.3em 0 0.8em; }
.swatch.in-band { background: #dff2e3; }
.swatch.out-of-band { background: #fbdcd8; }
.swatch.baseline { background: #eef3fb; }
.note, .legend { color: #555; font-size: 13px; }
.plots { display: flex; flex-wrap: wrap; gap: 1%; margin-top: 0.6em; }
.plots img { max-width: 32%; height: auto; }
"""

LEGEND = (
    "<p class='legend'>The mean is "
    "<span class='swatch in-band'></span>inside the band its metafile expects (ok) or "
    "<span class='swatch out-of-band'></span>outside it (OUT: a regression, or a changed "
    "protocol); uncoloured where the metafile states no band. "
    "<span class='swatch baseline'></span>The protocol's baseline.</p>"
)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def x_limits(values: Sequence[float], *, log: bool = False) -> tuple[float, float]:
    """Limits of a plot's x axis that keep the points clear of its edges. Values that are
    equal or nearly so (configs of equal FLOPs) get half their value on either side
    instead of an axis that spreads them over 0.02008 to 0.02016; positive values keep a
    non-negative axis."""
    low, high = min(values), max(values)
    if log:
        return low / 1.5, high * 1.5
    span = high - low
    if span <= 0.1 * max(abs(low), abs(high)):
        centre = (low + high) / 2
        half = max(0.5 * abs(centre), span) or 1.0
        low, high = centre - half, centre + half
    else:
        low, high = low - 0.1 * span, high + 0.1 * span
    return (max(0.0, low) if min(values) >= 0 else low), high


def metric_figure(table: pd.DataFrame, x: str, xlabel: str, metric: str) -> Figure | None:
    """The mean metric (95% interval error bars) of each config against column ``x`` of
    its leaderboard table, or None when no config has a positive ``x``. The x axis is
    logarithmic when ``x`` spans more than a factor of 30."""
    if table.empty:
        return None
    data = table[table[x].notna() & (table[x] > 0)]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    markers = "osD^v<>ph*"
    for i, row in enumerate(data.itertuples()):
        error = row.ci95 if row.ci95 is not None and not pd.isna(row.ci95) else 0.0
        ax.errorbar(
            getattr(row, x), row.mean, yerr=error, fmt=markers[i % len(markers)],
            capsize=4, label=row.config,
        )  # fmt: skip
    values = data[x].astype(float).tolist()
    log = max(values) / min(values) > 30
    if log:
        ax.set_xscale("log")
    ax.set_xlim(*x_limits(values, log=log))
    if not log:
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def curves_figure(records: pd.DataFrame, protocol: Protocol) -> Figure | None:
    """The training loss of each config by iteration, averaged over its finished seeds."""
    mine = records[(records["protocol"] == protocol.name) & (records["status"] == "finished")]
    if mine.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    drawn = False
    for config, group in mine.groupby("config", sort=True):
        by_step: dict[int, list[float]] = {}
        for curve in group["curve"]:
            for step, value in curve or []:
                if math.isfinite(value):
                    by_step.setdefault(int(step), []).append(value)
        if not by_step:
            continue
        steps = sorted(by_step)
        ax.plot(steps, [sum(by_step[s]) / len(by_step[s]) for s in steps], label=config)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _cell_classes(row: pd.Series, column: Column) -> str:
    classes = [f"c-{column.name}"]
    if column.align == "l":
        classes.append("left")
    if row["baseline"]:
        classes.append("baseline")
    if column.name in ("mean", "expected") and not pd.isna(row["in_band"]):
        classes.append("in-band" if row["in_band"] else "out-of-band")
    return " ".join(classes)


def table_html(table: pd.DataFrame, protocol: Protocol) -> str:
    """``protocol``'s leaderboard table, from the HTML leaderboard frame through pandas'
    Styler; each cell has the class ``c-<column>`` (and ``left`` where the column is
    left-aligned), the baseline's cells ``baseline``, and the mean and expected cells
    ``in-band`` or ``out-of-band``."""
    columns = columns_for(HTML, protocol)
    frame = leaderboard_frame(table, protocol, HTML)
    styler = Styler(frame, uuid=f"lb-{protocol.name}", cell_ids=False).hide(axis="index")
    if not frame.empty:
        classes = [[_cell_classes(row, c) for c in columns] for _, row in table.iterrows()]
        styler = styler.set_td_classes(pd.DataFrame(classes, columns=frame.columns))
    left = {
        header: [{"selector": "th", "props": [("text-align", "left")]}]
        for header, column in zip(frame.columns, columns)
        if column.align == "l"
    }
    styler = styler.set_table_styles(left, overwrite=False)
    return styler.to_html(table_attributes='class="leaderboard"')


def _tracking_text(records: pd.DataFrame) -> str:
    uris = sorted({u for u in records["tracking_uri"] if u})
    if not uris:
        return ""
    shown = [
        HTML.link(uri, uri, "the MLflow UI")
        if uri.startswith(("http://", "https://"))
        else HTML.code(uri)
        for uri in uris
    ]
    return f"Every run is in MLflow at {', '.join(shown)}."


def html_page(
    tables: dict[str, pd.DataFrame],
    protocols: dict[str, Protocol],
    records: pd.DataFrame,
    *,
    downloads: dict[str, str] | None = None,
) -> str:
    """The whole page; it loads nothing from elsewhere. ``downloads`` maps a format's
    name to the file beside the page that holds the same leaderboard (linked at the top)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>OpenLab benchmark leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>OpenLab benchmark leaderboard</h1>",
    ]
    about = []
    if downloads:
        links = ", ".join(HTML.link(name, href) for name, href in downloads.items())
        about.append(f"This leaderboard as {links}.")
    about.append(_tracking_text(records))
    parts.append(f"<p>{' '.join(filter(None, about))}</p>")
    if len(tables) > 1:
        links = " · ".join(HTML.link(protocols[name].label, f"#{name}") for name in tables)
        parts.append(f"<nav><p>Protocols: {links}</p></nav>")
    for name, table in tables.items():
        protocol = protocols[name]
        direction = "higher" if protocol.metric.greater_is_better else "lower"
        parts.append(f"<section id='{html.escape(name)}'>")
        parts.append(
            f"<h2>{html.escape(protocol.label)}: {html.escape(protocol.metric.name)} "
            f"({direction} is better)</h2>"
        )
        parts.append(f"<p>{html.escape(protocol.description)}</p>")
        parts.append(table_html(table, protocol))
        if "in_band" in table and table["in_band"].notna().any():
            parts.append(LEGEND)
        parts.append(f"<p class='note'>{html.escape(STATS_NOTE)}</p>")
        metric = protocol.metric.name
        figures = [
            (metric_figure(table, "gflops", "GFLOPs", metric), f"{metric} against GFLOPs"),
            (
                metric_figure(table, "train_time_s", "train time (s)", metric),
                f"{metric} against train time",
            ),
            (curves_figure(records, protocol), "training loss by iteration"),
        ]
        parts.append("<div class='plots'>")
        for fig, alt in figures:
            if fig is not None:
                parts.append(
                    f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{_png(fig)}'>"
                )
        parts.append("</div></section>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)
