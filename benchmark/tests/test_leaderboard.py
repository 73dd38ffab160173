"""Leaderboard tables from per-seed records, checked against scipy, and the formats
written from them."""

from __future__ import annotations

import ast
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as scipy_stats

import labbench.htmlpage
from labbench.htmlpage import metric_figure, x_limits
from labbench.leaderboard import (
    HTML,
    MARKDOWN,
    columns_for,
    leaderboard_frame,
    leaderboard_table,
    paper_label,
    write_leaderboard,
)
from labbench.protocol import Metric, load_protocol


@pytest.fixture
def protocol():
    base = load_protocol("cls-shapes-tiny")
    return type(base)(**{**base.__dict__, "baseline": "base"})


def test_rows_hold_mean_std_interval_and_welch_test_against_the_baseline(protocol, make_records):
    values = {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82], "same": [0.69, 0.73, 0.71]}
    table = leaderboard_table(make_records(protocol.name, values), protocol).set_index("config")
    assert table.index[0] == "better"  # best first
    better = table.loc["better"]
    assert better["mean"] == pytest.approx(0.81)
    assert better["std"] == pytest.approx(0.01)
    assert better["ci95"] == pytest.approx(scipy_stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3))
    welch = scipy_stats.ttest_ind(values["better"], values["base"], equal_var=False).pvalue
    assert better["p_value"] == pytest.approx(welch) and better["significant"]
    assert better["diff_to_baseline"] == pytest.approx(0.81 - 0.71)
    assert not table.loc["same"]["significant"] and table.loc["base"]["baseline"]
    assert better["gflops"] == pytest.approx(1.0) and better["params_m"] == pytest.approx(1.0)
    assert better["mlflow"] == "http://mlflow:5000/#/experiments/1/runs/better-parent"
    assert better["expected"] == "ok" and table.loc["base"]["expected"] == "OUT [0.8, 0.9]"
    assert bool(better["in_band"]) and not table.loc["base"]["in_band"]
    assert (table.loc["base"]["band_low"], table.loc["base"]["band_high"]) == (0.8, 0.9)


def test_failed_runs_are_left_out_and_lower_is_better_sorts_ascending(protocol, make_records):
    data = make_records(protocol.name, {"base": [0.5, 0.6], "x": [0.2, 0.3]})
    data.loc[0, "status"] = "failed"
    lower = type(protocol)(
        **{**protocol.__dict__, "metric": type(protocol.metric)("loss", "loss", False)}
    )
    table = leaderboard_table(data, lower)
    assert list(table["config"]) == ["x", "base"]
    assert table.set_index("config").loc["base", "seeds"] == 1


class _Cells(HTMLParser):
    """The text of every <th> and, per <td>, its class and text."""

    def __init__(self):
        super().__init__()
        self.headers, self.cells, self._open = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._open = (tag, dict(attrs).get("class") or "", [])

    def handle_data(self, data):
        if self._open:
            self._open[2].append(data)

    def handle_endtag(self, tag):
        if self._open and tag == self._open[0]:
            text = "".join(self._open[2]).strip()
            if tag == "th":
                self.headers.append(text)
            else:
                self.cells.append((self._open[1].split(), text))
            self._open = None


def test_written_formats(protocol, make_records, tmp_path):
    data = make_records(protocol.name, {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82]})
    paths = write_leaderboard(data, {protocol.name: protocol}, tmp_path)
    markdown = paths["md"].read_text()
    better = next(line for line in markdown.splitlines() if line.startswith("| better"))
    cells = [c.strip() for c in better.strip("|").split("|")]
    assert cells[:7] == ["better", "3", "0.8100", "0.0100", "0.0248", "+0.1000 *", "0.000"]
    assert cells[-3:] == [
        "ok [0.5, 0.9]",
        '[P](https://example.org/p "P")',
        "[runs](http://mlflow:5000/#/experiments/1/runs/better-parent)",
    ]
    assert "OUT [0.8, 0.9]" in markdown and "Welch" in markdown
    latex = paths["tex"].read_text()
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"better & $0.8100 \pm 0.0100$ & $+0.1000^\dagger$ & 1.00 & 1.00 & 11.0 \\" in latex
    assert r"\begin{tabular}{lrrrrr}" in latex and r"$\Delta$ baseline" in latex
    csv = pd.read_csv(paths["csv"])
    assert list(csv["protocol"].unique()) == [protocol.label] and len(csv) == 2
    assert csv.set_index("config").loc["better", "mean"] == pytest.approx(0.81)
    page = paths["html"].read_text()
    assert page.count("src='data:image/png;base64,") == 3
    assert "<link" not in page and "<script" not in page
    assert 'href="https://example.org/p" title="P"' in page
    assert 'href="leaderboard.csv"' in page and 'href="leaderboard.tex"' in page


def test_markdown_and_html_show_the_same_columns_and_html_marks_the_bands(protocol, make_records):
    data = make_records(protocol.name, {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82]})
    table = leaderboard_table(data, protocol)
    parsed = _Cells()
    parsed.feed(labbench.htmlpage.table_html(table, protocol))
    headers = [c.header.format(metric="top1") for c in columns_for(MARKDOWN)]
    assert parsed.headers == headers == list(leaderboard_frame(table, protocol, MARKDOWN).columns)
    assert len(parsed.cells) == 2 * len(headers)
    by_class = {
        (next(c for c in cls if c.startswith("c-")), "in-band" in cls, "out-of-band" in cls): text
        for cls, text in parsed.cells
    }
    assert by_class[("c-mean", True, False)] == "0.8100"  # better: in its band
    assert by_class[("c-mean", False, True)] == "0.7100"  # base: outside its band
    assert by_class[("c-expected", False, True)] == "OUT [0.8, 0.9]"
    assert all("baseline" in cls for cls, text in parsed.cells[len(headers) :])


def test_mlflow_cells_link_to_a_server_and_show_a_short_run_id_otherwise(protocol, make_records):
    data = make_records(protocol.name, {"base": [0.70, 0.72]})
    served = leaderboard_frame(leaderboard_table(data, protocol), protocol, HTML)
    assert (
        served["MLflow"][0]
        == '<a href="http://mlflow:5000/#/experiments/1/runs/base-parent">runs</a>'
    )
    data["tracking_uri"] = "sqlite:////tmp/mlflow.db"
    data["parent_run_id"] = "0123456789abcdef0123456789abcdef"
    table = leaderboard_table(data, protocol)
    assert leaderboard_frame(table, protocol, HTML)["MLflow"][0] == (
        '<code title="MLflow run 0123456789abcdef0123456789abcdef">01234567</code>'
    )
    assert leaderboard_frame(table, protocol, MARKDOWN)["MLflow"][0] == "`01234567`"


@pytest.mark.parametrize(
    ("title", "url", "label"),
    [
        ("FCOS: Fully Convolutional One-Stage Object Detection", "https://arxiv.org/abs/1904.01355", "FCOS"),
        ("Mask R-CNN", "https://arxiv.org/abs/1703.06870", "Mask R-CNN"),
        ("Focal Loss for Dense Object Detection", "https://arxiv.org/abs/1708.02002", "arXiv:1708.02002"),
        ("Deep Residual Learning for Image Recognition", "https://example.org/resnet", "paper"),
    ],
)  # fmt: skip
def test_paper_links_are_short(title, url, label):
    assert paper_label(title, url) == label


def test_html_page_uses_only_public_names_of_the_leaderboard():
    tree = ast.parse(Path(labbench.htmlpage.__file__).read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "labbench.leaderboard"
        for alias in node.names
    ]
    assert imported and not [name for name in imported if name.startswith("_")]


def test_equal_flops_get_a_sensible_axis(protocol, make_records):
    assert x_limits([0.0201, 0.0201]) == pytest.approx((0.01005, 0.03015))
    assert x_limits([0.02008, 0.02016])[1] - x_limits([0.02008, 0.02016])[0] > 0.015
    assert x_limits([1.0, 3.0]) == pytest.approx((0.8, 3.2))
    data = make_records(protocol.name, {"base": [0.70, 0.72], "better": [0.80, 0.81]})
    data["flops"] = data["config"].map({"base": 2.008e7, "better": 2.016e7})
    fig = metric_figure(leaderboard_table(data, protocol), "gflops", "GFLOPs", "top1")
    low, high = fig.axes[0].get_xlim()
    fig.canvas.draw()
    assert low <= 0.0101 and high >= 0.03 and fig.axes[0].xaxis.get_offset_text().get_text() == ""
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert all(re.fullmatch(r"0\.0\d{1,3}", label) for label in labels if label), labels


def test_a_protocols_reported_metrics_show_as_mean_and_std_in_every_format(
    protocol, make_records, tmp_path
):
    reporting = type(protocol)(
        **{**protocol.__dict__, "reported_metrics": (Metric("knn/top1", "knn_top1"),)}
    )
    data = make_records(protocol.name, {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82]})
    knn = {("base", 0): 0.5, ("base", 1): 0.6, ("base", 2): 0.7, ("better", 0): 0.9}
    data["metrics"] = [
        {"accuracy/top1": m, **({"knn/top1": knn[(c, s)]} if (c, s) in knn else {})}
        for c, s, m in zip(data["config"], data["seed"], data["metric"])
    ]
    table = leaderboard_table(data, reporting).set_index("config")
    assert table.loc["base", "knn_top1_mean"] == pytest.approx(0.6)
    assert table.loc["base", "knn_top1_std"] == pytest.approx(0.1)
    assert table.loc["better", "knn_top1_mean"] == pytest.approx(0.9)  # one seed has it
    assert math.isnan(table.loc["better", "knn_top1_std"])
    assert list(table.index) == ["better", "base"]  # still ranked by the protocol's metric
    paths = write_leaderboard(data, {protocol.name: reporting}, tmp_path)
    header = next(
        line for line in paths["md"].read_text().splitlines() if line.startswith("| Config")
    )
    headers = [c.strip() for c in header.strip("|").split("|")]
    assert headers.index("knn_top1") == headers.index("p") + 1
    base = next(line for line in paths["md"].read_text().splitlines() if line.startswith("| base"))
    assert "| 0.6000 ± 0.1000 |" in base
    assert r"$0.6000 \pm 0.1000$" in paths["tex"].read_text()
    assert r"\begin{tabular}{lrrrrrr}" in paths["tex"].read_text()
    parsed = _Cells()
    parsed.feed(labbench.htmlpage.table_html(leaderboard_table(data, reporting), reporting))
    assert "knn_top1" in parsed.headers
    knn_cells = {text: cls for cls, text in parsed.cells if "c-knn_top1" in cls}
    assert set(knn_cells) == {"0.6000 ± 0.1000", "0.9000"}
    assert "baseline" in knn_cells["0.6000 ± 0.1000"] and "baseline" not in knn_cells["0.9000"]
    csv = pd.read_csv(paths["csv"]).set_index("config")
    assert csv.loc["base", "knn_top1_mean"] == pytest.approx(0.6)
    # a protocol that reports nothing else keeps its columns
    assert "knn_top1" not in leaderboard_frame(
        leaderboard_table(data, protocol), protocol, MARKDOWN
    )
