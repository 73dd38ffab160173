"""The sweep end to end on the toy codebase: two configs x two seeds train in worker
processes, a config that raises is recorded while the others finish, a config that
overrides its protocol is refused, MLflow holds the runs, the leaderboard has the rows,
a second invocation trains nothing, and the same seed gives the same result twice."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from labbench import cli, worker
from labbench.discovery import registered_configs
from labbench.executor import Executor
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols
from labbench.sweep import Sweep
from labbench.tracking import tracking_uri
from labcore.engine.checkpoint import read_checkpoint


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def sweep(toy_world_files, toy_env, tmp_path_factory):
    work = tmp_path_factory.mktemp("sweep")
    with toy_env(toy_world_files):
        code, out = run_cli("--protocol", "toy-tiny", "--work-dir", str(work), "--workers", "2")
        uri = tracking_uri(work)  # the store the sweep logged to, whatever the tests' env
    return SimpleNamespace(work=work, code=code, out=out, uri=uri)


def seed_runs(client: MlflowClient, experiment_id: str, **tags: str):
    clauses = ["tags.`labbench.kind` = 'seed'", *(f"tags.`{k}` = '{v}'" for k, v in tags.items())]
    return client.search_runs([experiment_id], filter_string=" and ".join(clauses))


def run_dirs(work: Path, config: str) -> list[Path]:
    return sorted((work / "runs" / "toy-tiny-v3" / config).iterdir())


@pytest.mark.slow
def test_sweep_records_failures_and_refusals_and_goes_on(sweep):
    assert sweep.code == 1, sweep.out
    assert "To run: 6 of 6 runs" in sweep.out and "[6/6]" in sweep.out
    assert "FAILED toy-tiny/toy_fail/seed0: RuntimeError: toy failure at iteration 3" in sweep.out
    assert "REFUSED toy-tiny/toy_override" in sweep.out
    assert "train_dataloader.sampler.shuffle: config has False, protocol has True" in sweep.out
    failed = json.loads((run_dirs(sweep.work, "toy_fail")[0] / "result.json").read_text())
    assert failed["status"] == "failed" and "RuntimeError: toy failure" in failed["traceback"]
    for config in ("toy_a", "toy_b"):
        for run_dir in run_dirs(sweep.work, config):
            result = json.loads((run_dir / "result.json").read_text())
            assert result["status"] == "finished" and 0.0 <= result["metric"] <= 1.0
            assert result["iterations"] == 8 and (run_dir / "checkpoint.pth").exists()
            assert result["params"] == (
                8 * 3 * 9 + 8 + 8 * 4 + 4 if config == "toy_a" else 16 * 27 + 16 + 64 + 4
            )
            assert result["flops"] > 0


@pytest.mark.slow
def test_mlflow_holds_nested_runs_with_params_tags_metrics_and_artifacts(sweep):
    client = MlflowClient(sweep.uri)
    experiment = client.get_experiment_by_name("toy-tiny")
    finished = seed_runs(client, experiment.experiment_id, **{"labbench.status": "finished"})
    failed = seed_runs(client, experiment.experiment_id, **{"labbench.status": "failed"})
    assert len(finished) == 4 and len(failed) == 2
    assert all(r.info.status == "FINISHED" for r in finished)
    assert all(
        r.info.status == "FAILED" and "toy failure" in r.data.tags["labbench.error"] for r in failed
    )
    run = seed_runs(
        client, experiment.experiment_id, **{"labbench.config": "toy_a", "labbench.seed": "0"}
    )[0]
    assert run.data.params["model.width"] == "8"
    assert run.data.params["labbench.protocol_version"] == "3"
    assert run.data.tags["labbench.env.torch"] == importlib.metadata.version("torch")
    assert run.data.tags["labbench.env.git_commit"]
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 8
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.py", "log.txt", "result.json", "checkpoint.pth"} <= artifacts
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    values = [
        r.data.metrics["accuracy/top1"]
        for r in finished
        if r.data.tags["labbench.config"] == "toy_a"
    ]
    assert parent.data.tags["labbench.kind"] == "config"
    assert parent.data.metrics["top1_mean"] == pytest.approx(sum(values) / 2)


@pytest.mark.slow
def test_leaderboard_has_one_row_per_finished_config(sweep):
    board = sweep.work / "leaderboard"
    table = pd.read_csv(board / "leaderboard.csv")
    assert sorted(table["config"]) == ["toy_a", "toy_b"]
    row = table.set_index("config").loc["toy_a"]
    assert row["seeds"] == 2 and bool(row["baseline"])
    rows = (board / "leaderboard.md").read_text().splitlines()
    row = next(line for line in rows if line.startswith("| toy_b "))
    assert [cell.strip() for cell in row.split("|")[1:3]] == ["toy_b", "2"]
    assert r"\toprule" in (board / "leaderboard.tex").read_text()
    html = (board / "leaderboard.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<script" not in html


@pytest.mark.slow
def test_second_invocation_trains_nothing(sweep, toy_world):
    before = {p: p.stat().st_mtime_ns for p in sweep.work.glob("runs/*/toy_[ab]/*/result.json")}
    code, out = run_cli(
        "--protocol", "toy-tiny", "--work-dir", str(sweep.work), "--only", "toy_[ab]"
    )
    assert code == 0, out
    assert "To run: 0 of 4 runs" in out and "0 trained, 4 already done" in out
    assert before == {p: p.stat().st_mtime_ns for p in before}
    client = MlflowClient(sweep.uri)
    experiment = client.get_experiment_by_name("toy-tiny")
    assert len(seed_runs(client, experiment.experiment_id, **{"labbench.status": "finished"})) == 4


@pytest.mark.slow
def test_same_seed_gives_the_same_result_twice(sweep, toy_world, tmp_path):
    original = run_dirs(sweep.work, "toy_a")[0]
    again = tmp_path / original.name
    again.mkdir()
    for name in ("config.py", "run.json"):
        shutil.copy(original / name, again / name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker ran: two workers on two cores
    try:
        assert worker.run(again) == 0
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    first = json.loads((original / "result.json").read_text())
    second = json.loads((again / "result.json").read_text())
    assert second["final_loss"] == first["final_loss"]
    assert second["metrics"] == first["metrics"]


@pytest.mark.slow
@pytest.mark.dist
def test_several_devices_run_under_torchrun_with_the_global_batch_split(toy_world, tmp_path):
    code, out = run_cli(
        "--protocol", "toy-tiny", "--only", "toy_a", "--seeds", "0", "--devices", "2",
        "--work-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out
    (run_dir,) = (tmp_path / "runs" / "toy-tiny-v3" / "toy_a").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["train_dataloader"]["batch_size"] == 4
    assert "Distributed launcher: pytorch" in (run_dir / "log.txt").read_text()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "finished" and result["iterations"] == 8


class FinishedProcess:
    def __init__(self, status: int):
        self.status = status

    def poll(self) -> int:
        return self.status

    def terminate(self) -> None:
        pass

    def wait(self) -> int:
        return self.status


class ScriptedExecutor(Executor):
    """Plays a worker without training: per config name, 'ok' writes a finished result,
    'killed' exits 137 without one, 'interrupt' raises KeyboardInterrupt (Ctrl-C)."""

    def __init__(self, script: dict[str, str]):
        super().__init__()
        self.script, self.started = script, []

    def start(self, run_dir: Path):
        record = json.loads((run_dir / "run.json").read_text())
        behaviour = self.script.get(f"{record['config_name']}/{record['seed']}", "ok")
        if behaviour == "interrupt":
            raise KeyboardInterrupt
        self.started.append(f"{record['config_name']}/{record['seed']}")
        if behaviour == "killed":
            (run_dir / "log.txt").write_text("iteration 3\nKilled\n")
            return FinishedProcess(137)
        result = {"status": "finished", "metric": 0.5, "metrics": {"accuracy/top1": 0.5}}
        (run_dir / "result.json").write_text(json.dumps(result))
        return FinishedProcess(0)


def toy_plan():
    protocols = load_all_protocols()
    entries = [e for e in registered_configs() if e.name in ("toy_a", "toy_b")]
    return build_plan(entries, protocols, selected=["toy-tiny"])


def test_interrupted_sweep_resumes_with_only_the_missing_runs(toy_world, tmp_path):
    first = ScriptedExecutor({"toy_b/0": "interrupt"})
    out = io.StringIO()
    report = Sweep(tmp_path, executor=first, tracker=None, out=out).run(toy_plan())
    assert report.interrupted and report.exit_code == 130
    assert (
        first.started == ["toy_a/0", "toy_a/1"] and "Run the same command again" in out.getvalue()
    )
    second = ScriptedExecutor({})
    report = Sweep(tmp_path, executor=second, tracker=None, out=io.StringIO()).run(toy_plan())
    assert second.started == ["toy_b/0", "toy_b/1"] and report.exit_code == 0
    assert [o.status for o in report.outcomes].count("cached") == 2


def test_worker_that_dies_without_a_result_is_recorded_and_the_sweep_goes_on(toy_world, tmp_path):
    executor = ScriptedExecutor({"toy_a/1": "killed"})
    sweep = Sweep(tmp_path, executor=executor, tracker=None, out=io.StringIO())
    report = sweep.run(toy_plan())
    assert executor.started == ["toy_a/0", "toy_a/1", "toy_b/0", "toy_b/1"]
    (failure,) = report.failures
    assert failure.spec.key == "toy-tiny/toy_a/seed1" and report.exit_code == 1
    assert "exited with status 137 without a result (killed, out of memory" in failure.error
    result = json.loads((failure.run_dir / "result.json").read_text())
    assert "Killed" in result["traceback"] and result["exit_status"] == 137


@pytest.mark.slow
def test_a_worker_process_runs_runs_one_after_another_as_fresh_processes_would(toy_world, tmp_path):
    """One worker (``--workers 1``) runs both seeds in one process; ``--process-per-run``
    starts a process for each. The results, weights and logs are the same."""
    args = ("--protocol", "toy-tiny", "--only", "toy_a", "--workers", "1")
    code, out = run_cli(*args, "--work-dir", str(tmp_path / "pooled"))
    assert code == 0, out
    code, out = run_cli(*args, "--work-dir", str(tmp_path / "fresh"), "--process-per-run")
    assert code == 0, out
    pooled, fresh = run_dirs(tmp_path / "pooled", "toy_a"), run_dirs(tmp_path / "fresh", "toy_a")
    processes = [json.loads((d / "result.json").read_text())["process"] for d in pooled]
    assert len({p["pid"] for p in processes}) == 1
    assert sorted(p["earlier_runs"] for p in processes) == [0, 1]
    for d in fresh:
        assert json.loads((d / "result.json").read_text())["process"]["earlier_runs"] == 0
    for a, b in zip(pooled, fresh, strict=True):
        first = json.loads((a / "result.json").read_text())
        second = json.loads((b / "result.json").read_text())
        assert first["final_loss"] == second["final_loss"]
        assert first["metrics"] == second["metrics"]
        weights = [read_checkpoint(d / "checkpoint.pth").state_dict for d in (a, b)]
        assert weights[0].keys() == weights[1].keys()
        assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
        log = (a / "log.txt").read_text()
        assert "Iter(train)" in log or "Epoch(train)" in log
        assert log.count("Exp name:") == (b / "log.txt").read_text().count("Exp name:")
