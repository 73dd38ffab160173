"""Leaderboards: per protocol, one row per config, statistics over seeds.

Per-seed records come from MLflow (:func:`records_from_mlflow`, what ``--report``
reads) or from a work folder (:func:`records_from_work_dir`, when MLflow cannot be
reached). :func:`leaderboard_table` turns them into rows: mean, sample std and the 95%
confidence interval of the mean (Student's t, n-1 degrees of freedom), the difference to
the protocol's baseline and whether it is significant by Welch's two-sided t-test at
p < 0.05, parameters, FLOPs, train time and peak memory, with links to the paper and the
MLflow runs. :func:`write_leaderboard` writes Markdown, CSV, LaTeX (booktabs) and a
self-contained HTML page (see :mod:`labbench.htmlpage`).
"""

from __future__ import annotations

import json
import math
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
    """The rows of ``protocol``'s leaderboard, best first in the metric's direction."""
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
                "params_m": group["params"].mean() / 1e6,
                "gflops": group["flops"].mean() / 1e9,
                "train_time_s": group["train_time_s"].mean(),
                "peak_memory_mb": group["peak_memory_mb"].max(),
                "expected": _expected_text(
                    first["expected"], protocol.metric.name, summary["mean"]
                ),
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


def _expected_text(expected: Any, metric: str, mean: float | None) -> str:
    """``ok`` or ``OUT [lo, hi]`` against the metafile's ``Expected`` band, else ``-``."""
    band = expected.get(metric) if isinstance(expected, dict) else None
    if not band or mean is None:
        return "-"
    low, high = float(band[0]), float(band[1])
    return "ok" if low <= mean <= high else f"OUT [{low:g}, {high:g}]"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _diff_text(row: pd.Series) -> str:
    if row["baseline"]:
        return "baseline"
    if row["diff_to_baseline"] is None or pd.isna(row["diff_to_baseline"]):
        return "-"
    mark = " *" if row["significant"] else ""
    return f"{row['diff_to_baseline']:+.4f}{mark}"


STATS_NOTE = (
    "Mean and sample std over seeds; ci95 is the half-width of the 95% confidence interval "
    "of the mean (Student's t, n-1 degrees of freedom). Diff is to the protocol's baseline; "
    f"* marks a difference significant by Welch's two-sided t-test at p < {SIGNIFICANCE}. "
    "Expected: the mean against the band in the config's metafile."
)


def to_markdown(table: pd.DataFrame, protocol: Protocol) -> str:
    metric = protocol.metric.name
    direction = "higher" if protocol.metric.greater_is_better else "lower"
    lines = [
        f"## {protocol.label}: {metric} ({direction} is better)",
        "",
        f"{protocol.description}".strip(),
        "",
        f"| Config | Seeds | {metric} mean | std | ci95 | Diff | p | Params (M) | GFLOPs "
        "| Train time (s) | Peak mem (MB) | Expected | Paper | MLflow |",
        "|" + "---|" * 14,
    ]
    for _, row in table.iterrows():
        paper = (
            f"[{row['paper_title'] or 'paper'}]({row['paper_url']})" if row["paper_url"] else "-"
        )
        link = row["mlflow"]
        mlflow = f"[runs]({link})" if link.startswith("http") else (link or "-")
        lines.append(
            f"| {row['config']} | {row['seeds']} | {_fmt(row['mean'])} | {_fmt(row['std'])} "
            f"| {_fmt(row['ci95'])} | {_diff_text(row)} | {_fmt(row['p_value'], 3)} "
            f"| {_fmt(row['params_m'], 3)} | {_fmt(row['gflops'], 3)} "
            f"| {_fmt(row['train_time_s'], 1)} | {_fmt(row['peak_memory_mb'], 0)} "
            f"| {row['expected']} | {paper} | {mlflow} |"
        )
    lines += ["", STATS_NOTE, ""]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("#", r"\#"),
    ):
        text = text.replace(char, escaped)
    return text


def to_latex(table: pd.DataFrame, protocol: Protocol) -> str:
    """A booktabs table: mean $\\pm$ std, difference to the baseline, significance marked."""
    metric = _latex_escape(protocol.metric.name)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex_escape(protocol.label)}: {metric} over seeds (mean $\pm$ std). "
        r"$^\dagger$: difference to the baseline significant (Welch's t-test, $p<0.05$).}",
        r"\begin{tabular}{lcrrrr}",
        r"\toprule",
        rf"Config & {metric} & $\Delta$ & Params (M) & GFLOPs & Time (s) \\",
        r"\midrule",
    ]
    for _, row in table.iterrows():
        value = f"${row['mean']:.4f}"
        value += (
            rf" \pm {row['std']:.4f}$"
            if row["std"] is not None and not pd.isna(row["std"])
            else "$"
        )
        if row["baseline"]:
            diff = "--"
        elif row["diff_to_baseline"] is None or pd.isna(row["diff_to_baseline"]):
            diff = "n/a"
        else:
            diff = f"${row['diff_to_baseline']:+.4f}" + (
                r"^\dagger$" if row["significant"] else "$"
            )
        lines.append(
            f"{_latex_escape(row['config'])} & {value} & {diff} & {_fmt(row['params_m'], 2)} & "
            rf"{_fmt(row['gflops'], 3)} & {_fmt(row['train_time_s'], 1)} \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def write_leaderboard(
    records: pd.DataFrame, protocols: dict[str, Protocol], out_dir: Path
) -> dict[str, Path]:
    """Write ``leaderboard.{md,csv,tex,html}`` for every protocol with records; returns
    the paths by format."""
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
    paths["html"].write_text(html_page(tables, protocols, records))
    return paths
