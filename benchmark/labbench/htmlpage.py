"""The leaderboard as one self-contained HTML page: tables, and plots embedded as base64
PNG (metric vs FLOPs and vs train time with 95% interval error bars; learning curves)."""

from __future__ import annotations

import base64
import html
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from labbench.leaderboard import STATS_NOTE, _diff_text, _fmt  # noqa: E402
from labbench.protocol import Protocol  # noqa: E402

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.baseline { background: #f3f6fb; }
.plots img { max-width: 32%; margin-right: 1%; }
.note { color: #555; font-size: 13px; }
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _scatter(table: pd.DataFrame, x: str, xlabel: str, metric: str) -> str | None:
    if table.empty:
        return None
    data = table[table[x].notna() & (table[x] > 0)]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for _, row in data.iterrows():
        error = row["ci95"] if row["ci95"] is not None and not pd.isna(row["ci95"]) else 0.0
        ax.errorbar(row[x], row["mean"], yerr=error, fmt="o", capsize=4, label=row["config"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def _curves(records: pd.DataFrame, protocol: Protocol) -> str | None:
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
    return _png(fig)


def _link(url: str, text: str) -> str:
    if not url:
        return "-"
    if url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'
    return html.escape(url)


def _table_html(table: pd.DataFrame, protocol: Protocol) -> str:
    metric = html.escape(protocol.metric.name)
    head = (
        f"<tr><th>Config</th><th>Seeds</th><th>{metric} mean</th><th>std</th><th>ci95</th>"
        "<th>Diff</th><th>p</th><th>Params (M)</th><th>GFLOPs</th><th>Train time (s)</th>"
        "<th>Peak mem (MB)</th><th>Expected</th><th>Paper</th><th>MLflow</th></tr>"
    )
    rows = []
    for _, row in table.iterrows():
        css = ' class="baseline"' if row["baseline"] else ""
        cells = [
            html.escape(row["config"]),
            str(row["seeds"]),
            _fmt(row["mean"]),
            _fmt(row["std"]),
            _fmt(row["ci95"]),
            html.escape(_diff_text(row)),
            _fmt(row["p_value"], 3),
            _fmt(row["params_m"], 3),
            _fmt(row["gflops"], 3),
            _fmt(row["train_time_s"], 1),
            _fmt(row["peak_memory_mb"], 0),
            html.escape(row["expected"]),
            _link(row["paper_url"], row["paper_title"] or "paper"),
            _link(row["mlflow"], "runs"),
        ]
        rows.append(f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def html_page(
    tables: dict[str, pd.DataFrame], protocols: dict[str, Protocol], records: pd.DataFrame
) -> str:
    """The whole page; it loads nothing from elsewhere."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>OpenLab benchmark leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>OpenLab benchmark leaderboard</h1>",
    ]
    for name, table in tables.items():
        protocol = protocols[name]
        direction = "higher" if protocol.metric.greater_is_better else "lower"
        parts.append(
            f"<h2>{html.escape(protocol.label)}: {html.escape(protocol.metric.name)} "
            f"({direction} is better)</h2>"
        )
        parts.append(f"<p>{html.escape(protocol.description)}</p>")
        parts.append(_table_html(table, protocol))
        parts.append(f"<p class='note'>{html.escape(STATS_NOTE)}</p>")
        images = [
            _scatter(table, "gflops", "GFLOPs", protocol.metric.name),
            _scatter(table, "train_time_s", "train time (s)", protocol.metric.name),
            _curves(records, protocol),
        ]
        parts.append("<div class='plots'>")
        for image in images:
            if image:
                parts.append(f"<img src='data:image/png;base64,{image}'>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
