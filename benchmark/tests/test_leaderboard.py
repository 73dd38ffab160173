"""Leaderboard tables from per-seed records, checked against scipy."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats as scipy_stats

from labbench.leaderboard import RECORD_COLUMNS, leaderboard_table, write_leaderboard
from labbench.protocol import load_protocol


def records(protocol: str, values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for config, metrics in values.items():
        for seed, metric in enumerate(metrics):
            row = dict.fromkeys(RECORD_COLUMNS, "")
            row.update(
                protocol=protocol, protocol_version=1, config=config, codebase="labcls", seed=seed,
                status="finished", metric=metric, train_time_s=10.0 + seed, peak_memory_mb=100.0,
                params=1e6, flops=2e9 if config == "base" else 1e9, paper_title="P",
                paper_url="https://example.org/p", tracking_uri="http://mlflow:5000",
                experiment_id="1", run_id=f"{config}{seed}", parent_run_id=f"{config}-parent",
                curve=[(1, 2.0), (2, 1.0 + seed)],
                expected={"top1": [0.5, 0.9] if config == "better" else [0.8, 0.9]},
            )  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


@pytest.fixture
def protocol():
    base = load_protocol("cls-shapes-tiny")
    return type(base)(**{**base.__dict__, "baseline": "base"})


def test_rows_hold_mean_std_interval_and_welch_test_against_the_baseline(protocol):
    values = {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82], "same": [0.69, 0.73, 0.71]}
    table = leaderboard_table(records(protocol.name, values), protocol).set_index("config")
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


def test_failed_runs_are_left_out_and_lower_is_better_sorts_ascending(protocol):
    data = records(protocol.name, {"base": [0.5, 0.6], "x": [0.2, 0.3]})
    data.loc[0, "status"] = "failed"
    lower = type(protocol)(
        **{**protocol.__dict__, "metric": type(protocol.metric)("loss", "loss", False)}
    )
    table = leaderboard_table(data, lower)
    assert list(table["config"]) == ["x", "base"]
    assert table.set_index("config").loc["base", "seeds"] == 1


def test_written_formats(protocol, tmp_path):
    data = records(protocol.name, {"base": [0.70, 0.72, 0.71], "better": [0.80, 0.81, 0.82]})
    paths = write_leaderboard(data, {protocol.name: protocol}, tmp_path)
    markdown = paths["md"].read_text()
    assert "| better | 3 | 0.8100 | 0.0100 |" in markdown and "+0.1000 *" in markdown
    assert "[P](https://example.org/p)" in markdown and "Welch" in markdown
    latex = paths["tex"].read_text()
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"$0.8100 \pm 0.0100$" in latex and r"$+0.1000^\dagger$" in latex
    csv = pd.read_csv(paths["csv"])
    assert list(csv["protocol"].unique()) == [protocol.label] and len(csv) == 2
    html = paths["html"].read_text()
    assert html.count("<img src='data:image/png;base64,") == 3
    assert 'href="https://example.org/p"' in html and "<link" not in html
