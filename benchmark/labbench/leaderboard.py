"""Leaderboards: per protocol, one row per config, statistics over seeds.

Per-seed records come from MLflow (:func:`records_from_mlflow`, what ``--report``
reads) or from a work folder (:func:`records_from_work_dir`, when MLflow cannot be
reached). :func:`leaderboard_table` turns them into rows: mean, sample std and the 95%
confidence interval of the mean (Student's t, n-1 degrees of freedom), the difference to
the protocol's baseline and whether it is significant by Welch's two-sided t-test at
p < 0.05, the mean and std of each metric the protocol reports beside its ranked one
(``reported_metrics``, e.g. the k-NN top-1 of a linear probe), parameters, FLOPs, train
time and peak memory, the metafile's expected band, with links to the paper and the
MLflow runs.

Every shown column is defined once, in :data:`COLUMNS` (and a protocol's reported
metrics in :func:`reported_columns`): :func:`leaderboard_frame` formats
the rows into one text frame per format (:class:`Markup`), from which pandas writes the
Markdown (``to_markdown``), the LaTeX (``Styler.to_latex``, booktabs) and the HTML table
(``Styler.to_html``, in :mod:`labbench.htmlpage`); the CSV holds the rows' numbers.
:func:`write_leaderboard` writes all four.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labbench.protocol import Protocol
from labbench.runfolder import run_folders
from labbench.stats import summarize_seeds, welch_test
from labbench.tracking import Tracker

SIGNIFICANCE = 0.05
RECORD_COLUMNS = [
    "protocol", "protocol_version", "config", "codebase", "seed", "status", "metric",
    "train_time_s", "peak_memory_mb", "params", "flops", "paper_title", "paper_url",
    "tracking_uri", "experiment_id", "run_id", "parent_run_id", "curve", "expected",
    "metrics",
]  # fmt: skip


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def records_from_work_dir(work_dir: Path) -> pd.DataFrame:
    """One row per run folder in ``work_dir`` (the latest result of each)."""
    rows = []
    for folder in run_folders(work_dir):
        record, result = folder.record(), folder.result() or {}
        marker = folder.logged() or {}
        curve = [(r["step"], r["train/loss"]) for r in folder.scalars() if "train/loss" in r]
        rows.append(
            {
                "protocol": record["protocol"],
                "protocol_version": record["protocol_version"],
                "config": record["config_name"],
                "codebase": record["codebase"],
                "seed": record["seed"],
                "status": result.get("status", ""),
                "metric": _number(result.get("metric")),
                "train_time_s": _number(result.get("train_time_s")),
                "peak_memory_mb": _number(result.get("peak_memory_mb")),
                "params": _number(result.get("params")),
                "flops": _number(result.get("flops")),
                "paper_title": record.get("paper_title", ""),
                "paper_url": record.get("paper_url", ""),
                "tracking_uri": marker.get("tracking_uri", ""),
                "experiment_id": "",
                "run_id": marker.get("run_id", ""),
                "parent_run_id": marker.get("parent_run_id", ""),
                "curve": curve,
                "expected": record.get("expected") or {},
                "metrics": result.get("metrics") or {},
            }
        )
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def records_from_mlflow(tracker: Tracker, protocols: dict[str, Protocol]) -> pd.DataFrame:
    """One row per seed run that MLflow holds for the current version of each protocol."""
    rows = []
    client = tracker.client
    for name, protocol in sorted(protocols.items()):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            continue
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=(
                "tags.`labbench.kind` = 'seed' and "
                f"tags.`labbench.protocol_version` = '{protocol.version}'"
            ),
            max_results=10000,
        )
        parents: dict[str, dict[str, str]] = {}
        for run in runs:
            tags, metrics = run.data.tags, run.data.metrics
            parent_id = tags.get("mlflow.parentRunId", "")
            if parent_id and parent_id not in parents:
                parents[parent_id] = client.get_run(parent_id).data.tags
            parent_tags = parents.get(parent_id, {})
            history = client.get_metric_history(run.info.run_id, "train/loss")
            rows.append(
                {
                    "protocol": name,
                    "protocol_version": protocol.version,
                    "config": tags.get("labbench.config", ""),
                    "codebase": tags.get("labbench.codebase", ""),
                    "seed": int(tags.get("labbench.seed", -1)),
                    "status": tags.get("labbench.status", ""),
                    "metric": metrics.get(protocol.metric.key, math.nan),
                    "train_time_s": metrics.get("train_time_s", math.nan),
                    "peak_memory_mb": metrics.get("peak_memory_mb", math.nan),
                    "params": metrics.get("params", math.nan),
                    "flops": metrics.get("flops", math.nan),
                    "paper_title": parent_tags.get("labbench.paper_title", ""),
                    "paper_url": parent_tags.get("labbench.paper_url", ""),
                    "tracking_uri": tracker.uri,
                    "experiment_id": experiment.experiment_id,
                    "run_id": run.info.run_id,
                    "parent_run_id": parent_id,
                    "curve": sorted((m.step, m.value) for m in history),
                    "expected": json.loads(parent_tags.get("labbench.expected") or "{}"),
                    "metrics": dict(metrics),
                }
            )
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def mlflow_link(uri: str, experiment_id: str, run_id: str) -> str:
    """A browser link to a run on an MLflow server, else ``mlflow:<run id>``."""
    if not run_id:
        return ""
    if uri.startswith(("http://", "https://")) and experiment_id:
        return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"mlflow:{run_id}"


def leaderboard_table(records: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """The rows of ``protocol``'s leaderboard, best first in the metric's direction: the
    numbers the CSV holds and every other format formats (:data:`COLUMNS`)."""
    mine = records[(records["protocol"] == protocol.name) & (records["status"] == "finished")]
    mine = mine[mine["metric"].notna()]
    baseline_values = mine.loc[mine["config"] == protocol.baseline, "metric"].tolist()
    baseline_mean = summarize_seeds(baseline_values)["mean"] if baseline_values else None
    rows = []
    for config, group in mine.groupby("config", sort=True):
        values = group.sort_values("seed")["metric"].tolist()
        summary = summarize_seeds(values)
        is_baseline = config == protocol.baseline
        p_value = None if is_baseline else welch_test(values, baseline_values)
        first = group.iloc[0]
        reported = {}
        for metric in protocol.reported_metrics:
            seeds = [_seed_metric(m, metric.key) for m in group.sort_values("seed")["metrics"]]
            stats = summarize_seeds([v for v in seeds if not math.isnan(v)])
            reported[f"{metric.name}_mean"] = stats["mean"]
            reported[f"{metric.name}_std"] = stats["std"]
        band = expected_band(first["expected"], protocol.metric.name)
        in_band = None if band is None else bool(band[0] <= summary["mean"] <= band[1])
        rows.append(
            {
                "config": config,
                "codebase": first["codebase"],
                "seeds": summary["n"],
                "mean": summary["mean"],
                "std": summary["std"],
                "ci95": summary["ci95"],
                "diff_to_baseline": (
                    summary["mean"] - baseline_mean if baseline_mean is not None else None
                ),
                "p_value": p_value,
                "significant": bool(p_value is not None and p_value < SIGNIFICANCE),
                "baseline": is_baseline,
                **reported,
                "params_m": group["params"].mean() / 1e6,
                "gflops": group["flops"].mean() / 1e9,
                "train_time_s": group["train_time_s"].mean(),
                "peak_memory_mb": group["peak_memory_mb"].max(),
                "expected": (
                    "-" if band is None else "ok" if in_band else f"OUT [{band[0]:g}, {band[1]:g}]"
                ),
                "band_low": band[0] if band else None,
                "band_high": band[1] if band else None,
                "in_band": in_band,
                "paper_title": first["paper_title"],
                "paper_url": first["paper_url"],
                "mlflow": mlflow_link(
                    first["tracking_uri"], first["experiment_id"], first["parent_run_id"]
                ),
                "seed_runs": " ".join(
                    mlflow_link(r.tracking_uri, r.experiment_id, r.run_id)
                    for r in group.itertuples()
                ),
            }
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values("mean", ascending=not protocol.metric.greater_is_better)
    return table.reset_index(drop=True)


def _seed_metric(metrics: Any, key: str) -> float:
    """One seed's value of the metric ``key`` from its record's metrics, NaN when absent."""
    return _number(metrics.get(key)) if isinstance(metrics, dict) else math.nan


def expected_band(expected: Any, metric: str) -> tuple[float, float] | None:
    """The ``(low, high)`` band the metafile's ``Expected`` states for ``metric``, or None."""
    band = expected.get(metric) if isinstance(expected, dict) else None
    if not band:
        return None
    return float(band[0]), float(band[1])


def paper_label(title: str, url: str) -> str:
    """A short name for a link to a paper: the name before the title's colon (``FCOS``),
    a short title whole (``Mask R-CNN``), else the arXiv id, else ``paper``."""
    name = title.split(":", 1)[0].strip()
    if ":" in title and 0 < len(name) <= 24:
        return name
    if 0 < len(title) <= 24:
        return title
    arxiv = re.search(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", url)
    return f"arXiv:{arxiv.group(1)}" if arxiv else "paper"


# ---- how a cell is written in each format ------------------------------------------------


class Markup:
    """How a cell writes text, links, literals, math and the significance mark; one
    subclass per output format of the leaderboard (:data:`MARKDOWN`, :data:`HTML`,
    :data:`LATEX`)."""

    name = "text"
    missing = "-"

    def escape(self, text: str) -> str:
        return text

    def breakable(self, text: str) -> str:
        """``text`` that may wrap after ``_`` and ``-`` (long config names)."""
        return self.escape(text)

    def link(self, text: str, url: str, title: str = "") -> str:
        return self.escape(text)

    def code(self, text: str, title: str = "") -> str:
        return self.escape(text)

    def math(self, text: str) -> str:
        return text

    def marked(self, number: str) -> str:
        """``number`` marked as a significant difference."""
        return f"{number} *"

    def plus_minus(self, mean: str, std: str) -> str:
        """``mean ± std``."""
        return self.escape(f"{mean} ± {std}")


class MarkdownMarkup(Markup):
    name = "markdown"

    def escape(self, text: str) -> str:
        return text.replace("|", r"\|")

    def link(self, text: str, url: str, title: str = "") -> str:
        if title:  # CommonMark's link title, in double quotes
            url += ' "' + self.escape(title.replace("\\", "\\\\").replace('"', r"\"")) + '"'
        return f"[{self.escape(text)}]({url})"

    def code(self, text: str, title: str = "") -> str:
        return f"`{text}`"


class HtmlMarkup(Markup):
    name = "html"

    def escape(self, text: str) -> str:
        return html.escape(text)

    def breakable(self, text: str) -> str:
        return re.sub(r"([_-])", r"\1<wbr>", self.escape(text))

    def link(self, text: str, url: str, title: str = "") -> str:
        title = f' title="{html.escape(title)}"' if title else ""
        return f'<a href="{html.escape(url)}"{title}>{self.escape(text)}</a>'

    def code(self, text: str, title: str = "") -> str:
        title = f' title="{html.escape(title)}"' if title else ""
        return f"<code{title}>{self.escape(text)}</code>"

    def marked(self, number: str) -> str:
        return (
            f'{number} <abbr title="significant: Welch\'s t-test, p &lt; {SIGNIFICANCE}">*</abbr>'
        )


class LatexMarkup(Markup):
    name = "latex"
    missing = "--"
    _SPECIAL = {
        "\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#",
        "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "Δ": r"$\Delta$", "±": r"$\pm$",
    }  # fmt: skip

    def escape(self, text: str) -> str:
        return "".join(self._SPECIAL.get(char, char) for char in text)

    def math(self, text: str) -> str:
        return f"${text}$"

    def marked(self, number: str) -> str:
        return rf"{number}^\dagger"

    def plus_minus(self, mean: str, std: str) -> str:
        return self.math(rf"{mean} \pm {std}")


MARKDOWN, HTML, LATEX = MarkdownMarkup(), HtmlMarkup(), LatexMarkup()
READING = frozenset({"markdown", "html"})  # the formats people read on screen
ALL_FORMATS = frozenset({"markdown", "html", "latex"})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fixed(value: Any, digits: int, markup: Markup) -> str:
    return markup.missing if _missing(value) else f"{float(value):.{digits}f}"


def _significant(value: Any, digits: int, markup: Markup) -> str:
    """``value`` to ``digits`` significant digits, never in scientific notation."""
    if _missing(value):
        return markup.missing
    value = float(value)
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def _mean_std_cell(row: pd.Series, markup: Markup) -> str:
    if _missing(row["mean"]):
        return markup.missing
    if _missing(row["std"]):
        return markup.math(f"{row['mean']:.4f}")
    return markup.math(rf"{row['mean']:.4f} \pm {row['std']:.4f}")


def _reported_cell(row: pd.Series, name: str, markup: Markup) -> str:
    """The reported metric ``name``: mean ± std over the seeds (the mean alone for one)."""
    mean, std = row.get(f"{name}_mean"), row.get(f"{name}_std")
    if _missing(mean):
        return markup.missing
    if _missing(std):
        return f"{mean:.4f}"
    return markup.plus_minus(f"{mean:.4f}", f"{std:.4f}")


def _diff_cell(row: pd.Series, markup: Markup) -> str:
    if row["baseline"]:
        return "baseline"
    if _missing(row["diff_to_baseline"]):
        return markup.missing
    number = f"{row['diff_to_baseline']:+.4f}"
    return markup.math(markup.marked(number) if row["significant"] else number)


def _expected_cell(row: pd.Series, markup: Markup) -> str:
    if _missing(row["in_band"]):
        return markup.missing
    word = "ok" if row["in_band"] else "OUT"
    return markup.escape(f"{word} [{row['band_low']:g}, {row['band_high']:g}]")


def _paper_cell(row: pd.Series, markup: Markup) -> str:
    title, url = row["paper_title"] or "", row["paper_url"] or ""
    if not url:
        return markup.escape(title) if title else markup.missing
    return markup.link(paper_label(title, url), url, title or url)


def _mlflow_cell(row: pd.Series, markup: Markup) -> str:
    link = row["mlflow"] or ""
    if link.startswith(("http://", "https://")):
        return markup.link("runs", link)
    if link.startswith("mlflow:"):
        run_id = link.removeprefix("mlflow:")
        return markup.code(run_id[:8], f"MLflow run {run_id}")
    return markup.missing


@dataclass(frozen=True)
class Column:
    """One column of the leaderboard as it is shown: its header (``{metric}`` stands for
    the protocol's metric name), how a row of :func:`leaderboard_table` becomes its cell,
    the formats that show it, and its alignment (``l`` or ``r``)."""

    name: str
    header: str
    cell: Callable[[pd.Series, Markup], str]
    formats: frozenset[str] = ALL_FORMATS
    align: str = "r"


COLUMNS = (
    Column("config", "Config", lambda row, m: m.breakable(row["config"]), align="l"),
    Column("seeds", "Seeds", lambda row, m: str(row["seeds"]), READING),
    Column("mean_std", "{metric}", _mean_std_cell, frozenset({"latex"})),
    Column("mean", "{metric} mean", lambda row, m: _fixed(row["mean"], 4, m), READING),
    Column("std", "std", lambda row, m: _fixed(row["std"], 4, m), READING),
    Column("ci95", "ci95", lambda row, m: _fixed(row["ci95"], 4, m), READING),
    Column("diff", "Δ baseline", _diff_cell),
    Column("p", "p", lambda row, m: _fixed(row["p_value"], 3, m), READING),
    Column("params", "Params (M)", lambda row, m: _significant(row["params_m"], 3, m)),
    Column("gflops", "GFLOPs", lambda row, m: _significant(row["gflops"], 3, m)),
    Column("time", "Train time (s)", lambda row, m: _fixed(row["train_time_s"], 1, m)),
    Column("memory", "Peak mem (MB)", lambda row, m: _fixed(row["peak_memory_mb"], 0, m), READING),
    Column("expected", "Expected", _expected_cell, READING, align="l"),
    Column("paper", "Paper", _paper_cell, READING, align="l"),
    Column("mlflow", "MLflow", _mlflow_cell, READING, align="l"),
)  # fmt: skip


def reported_columns(protocol: Protocol) -> list[Column]:
    """One column per metric ``protocol`` reports beside its ranked one (in every format,
    after the test against the baseline): mean ± std over the seeds, headed by its name."""

    def cell(name: str) -> Callable[[pd.Series, Markup], str]:
        return lambda row, markup: _reported_cell(row, name, markup)

    return [Column(m.name, m.name, cell(m.name)) for m in protocol.reported_metrics]


def columns_for(markup: Markup, protocol: Protocol | None = None) -> list[Column]:
    """The :data:`COLUMNS` that ``markup``'s format shows, in order, with ``protocol``'s
    :func:`reported_columns` after the p-value (after Δ baseline where p is not shown)."""
    shown = [column for column in COLUMNS if markup.name in column.formats]
    if protocol is None or not protocol.reported_metrics:
        return shown
    after = "p" if any(c.name == "p" for c in shown) else "diff"
    at = next(i for i, c in enumerate(shown) if c.name == after) + 1
    return [*shown[:at], *reported_columns(protocol), *shown[at:]]


def leaderboard_frame(table: pd.DataFrame, protocol: Protocol, markup: Markup) -> pd.DataFrame:
    """``table`` as ``markup``'s format shows it: one text column per entry of
    :func:`columns_for`, headed by its header. Markdown, LaTeX and HTML are written from it."""
    columns = columns_for(markup, protocol)
    headers = [markup.escape(c.header.format(metric=protocol.metric.name)) for c in columns]
    cells = [[c.cell(row, markup) for c in columns] for _, row in table.iterrows()]
    return pd.DataFrame(cells, columns=headers, dtype=object)


STATS_NOTE = (
    "Mean and sample std over seeds; ci95 is the half-width of the 95% confidence interval "
    "of the mean (Student's t, n-1 degrees of freedom). Δ baseline is the difference to the "
    f"protocol's baseline; * marks a difference significant by Welch's two-sided t-test at "
    f"p < {SIGNIFICANCE}. Expected: the mean inside (ok) or outside (OUT) the band in the "
    "config's metafile."
)


def _title(protocol: Protocol) -> str:
    direction = "higher" if protocol.metric.greater_is_better else "lower"
    return f"{protocol.label}: {protocol.metric.name} ({direction} is better)"


def to_markdown(table: pd.DataFrame, protocol: Protocol) -> str:
    """A section per protocol: title, description, the table (GitHub pipes), the note."""
    frame = leaderboard_frame(table, protocol, MARKDOWN)
    align = [{"l": "left", "r": "right"}[c.align] for c in columns_for(MARKDOWN, protocol)]
    body = frame.to_markdown(index=False, colalign=align, disable_numparse=True)
    return "\n".join(
        [f"## {_title(protocol)}", "", protocol.description.strip(), "", body, "", STATS_NOTE, ""]
    )


def to_latex(table: pd.DataFrame, protocol: Protocol) -> str:
    """A booktabs table: mean $\\pm$ std, difference to the baseline, significance marked."""
    frame = leaderboard_frame(table, protocol, LATEX)
    caption = (
        f"{LATEX.escape(protocol.label)}: {LATEX.escape(protocol.metric.name)} over seeds "
        r"(mean $\pm$ std). $^\dagger$: difference to the baseline significant "
        rf"(Welch's t-test, $p<{SIGNIFICANCE}$)."
    )
    return frame.style.hide(axis="index").to_latex(
        hrules=True,
        column_format="".join(c.align for c in columns_for(LATEX, protocol)),
        caption=caption,
        position="t",
        position_float="centering",
    )


def write_leaderboard(
    records: pd.DataFrame, protocols: dict[str, Protocol], out_dir: Path
) -> dict[str, Path]:
    """Write ``leaderboard.{md,csv,tex,html}`` for every protocol with records; returns
    the paths by format. The CSV holds :func:`leaderboard_table`'s numbers unformatted."""
    from labbench.htmlpage import html_page

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in sorted(protocols):
        if name in set(records["protocol"]):
            tables[name] = leaderboard_table(records, protocols[name])
    markdown = ["# OpenLab benchmark leaderboard", ""]
    latex, frames = [], []
    for name, table in tables.items():
        markdown.append(to_markdown(table, protocols[name]))
        latex.append(to_latex(table, protocols[name]))
        frames.append(table.assign(protocol=protocols[name].label))
    paths = {fmt: out_dir / f"leaderboard.{fmt}" for fmt in ("md", "csv", "tex", "html")}
    paths["md"].write_text("\n".join(markdown))
    csv = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not csv.empty:
        csv = csv[["protocol", *[c for c in csv.columns if c != "protocol"]]]
    csv.to_csv(paths["csv"], index=False)
    paths["tex"].write_text("\n".join(latex))
    downloads = {"CSV": paths["csv"].name, "Markdown": paths["md"].name}
    downloads["LaTeX"] = paths["tex"].name
    paths["html"].write_text(html_page(tables, protocols, records, downloads=downloads))
    return paths
