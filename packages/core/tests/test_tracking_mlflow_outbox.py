"""labcore.tracking.mlflow_outbox and the backend's outage handling, against a real
``mlflow server`` process on 127.0.0.1 that is killed and started again."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from mmengine.hooks import Hook

from labcore.cli.main import main
from labcore.engine.mlflow_backend import LabMLflowVisBackend
from labcore.tracking.mlflow_outbox import OUTBOX_DIR, MlflowOutbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:``port`` with a sqlite store in ``root``."""

    def __init__(self, root: Path):
        self.root, self.port = root, _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, wait: float = 120.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'server.db'}",
            "--artifacts-destination",
            str(self.root / "artifacts"),
        ]
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (the process owns it)
        self.process = subprocess.Popen(
            command, cwd=self.root, stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"mlflow server did not start: {(self.root / 'server.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and its workers
            self.process.wait(30)
        self.process = None


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")  # a busy machine answers slowly
    monkeypatch.setenv("OPENLAB_MLFLOW_RETRY_INTERVAL", "0.2")
    srv = MlflowServer(tmp_path / "server")
    srv.start()
    yield srv
    srv.stop()


class ServerOutage(Hook):
    """Stops the server after epoch ``down`` and starts it again after epoch ``up``
    (waiting until it answers), so the epochs between log into an outage."""

    priority = "LOWEST"  # after the checkpoint of the epoch

    def __init__(self, server: MlflowServer, down: int, up: int):
        self.server, self.down, self.up = server, down, up

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.down:
            self.server.stop()
        if runner.epoch + 1 == self.up:
            self.server.start()


@pytest.mark.slow
def test_training_survives_an_outage_and_every_point_arrives(tmp_path, server, monkeypatch):
    from labcore.engine.training import build_runner

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import lab_engine_toy

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    config = tmp_path / "toy.py"
    config.write_text(lab_engine_toy.toy_config_text(max_length=4, mlflow=True))
    work_dir = tmp_path / "work"
    runner = build_runner(config, work_dir=work_dir)
    runner.logger.setLevel(logging.WARNING)
    runner.register_hook(ServerOutage(server, down=1, up=3))
    runner.train()
    runner.visualizer.close()

    backend = runner.visualizer.get_backend("LabMLflowVisBackend")
    assert backend.outbox is None  # sent once the server was back
    assert not list(work_dir.rglob(OUTBOX_DIR))
    assert [p.name for p in sorted(work_dir.glob("epoch_*.pth"))] == [
        f"epoch_{i}.pth" for i in range(1, 5)
    ]
    client = mlflow.MlflowClient(tracking_uri=server.uri)
    run = client.get_run(backend.run_id)
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(backend.run_id, "loss")]
    assert steps == list(range(1, 17))  # 4 epochs of 4 iterations, none lost
    assert len(client.get_metric_history(backend.run_id, "mse")) == 4
    assert "config.py" in {a.path for a in client.list_artifacts(backend.run_id)}
    log = next(work_dir.rglob("*.log")).read_text()
    assert log.count("is unreachable") == 1 and "is reachable again" in log

    # A server that is away for the whole run, even when it starts: everything stays in
    # the outbox and `lab sync` sends it, to the URI the run had or to another one.
    dead = f"http://127.0.0.1:{_free_port()}"
    offline = LabMLflowVisBackend(save_dir=str(tmp_path / "offline" / "vis"), tracking_uri=dead)
    for step in range(1, 6):
        offline.add_scalars({"loss": 1.0 / step, "lr": 0.1}, step=step)
    offline.close()
    (outbox,) = MlflowOutbox.find(tmp_path / "offline")
    assert outbox.run["run_id"] is None and outbox.pending() == 6  # 5 metrics and the end
    assert main(["sync", str(tmp_path / "offline")]) == 2
    assert main(["sync", str(tmp_path / "offline"), "--tracking-uri", server.uri]) == 0
    assert not outbox.folder.exists()
    runs = client.search_runs([client.get_experiment_by_name("openlab").experiment_id])
    (synced,) = [r for r in runs if r.info.run_id != backend.run_id]
    assert synced.info.status == "FINISHED"
    history = client.get_metric_history(synced.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / s) for s in range(1, 6)]
    assert main(["sync", str(tmp_path / "offline")]) == 0  # nothing left: a no-op
