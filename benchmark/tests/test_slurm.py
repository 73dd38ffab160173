"""A real one-node Slurm cluster on localhost (Debian's slurm-wlm and munge, started by a
fixture with a generated slurm.conf): a sweep of 2 configs x 2 seeds runs as one job
array through ``--executor slurm``; one job is requeued in the middle of its run
(``scontrol requeue``) and resumes from its checkpoint; every run ends with one finished
MLflow run, and the leaderboard equals that of a local sweep."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from labbench import cli
from labbench.runfolder import RunFolder
from labbench.tracking import tracking_uri

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
SWEEP = ("--protocol", "toy-resume", "--seeds", "0,1")

SLURM_CONF = """\
ClusterName=openlab-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
MpiDefault=none
SwitchType=switch/none
NodeName={host} CPUs=2 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(pid_file: Path) -> None:
    """Stop the daemon whose pid ``pid_file`` holds, if it runs."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def slurm_cluster():
    """munged, slurmctld and slurmd on this machine, one node of 2 CPUs in partition
    ``test``; yields the environment that points Slurm's commands at it. Everything it
    started is stopped at the end."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing or os.geteuid() != 0:
        why = f"missing {', '.join(missing)}" if missing else "not root"
        pytest.skip(
            f"no local Slurm cluster ({why}): install Debian's slurm-wlm and munge "
            "(apt-get install -y slurm-wlm munge; .ci/run does) and run as root"
        )
    root = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # short paths for sockets
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(host=host, root=root, ctld_port=free_port(), d_port=free_port())
    )
    env = {"SLURM_CONF": str(conf)}
    started = []
    try:
        subprocess.run(
            ["munged", f"--socket={root}/munge.socket", f"--pid-file={root}/munged.pid",
             f"--key-file={key}", f"--log-file={root}/munged.log", f"--seed-file={root}/seed",
             "--force"],
            check=True,
        )  # fmt: skip
        started.append(root / "munged.pid")
        for daemon, pid in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
            subprocess.run([daemon, "-f", str(conf)], check=True, env={**os.environ, **env})
            started.append(root / pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%T"],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
            ).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            logs = (root / "slurmctld.log").read_text()[-2000:]
            pytest.fail(f"the local Slurm node did not become idle: {state!r}\n{logs}")
        yield env
    finally:
        for pid_file in reversed(started):
            _stop(pid_file)
        shutil.rmtree(root, ignore_errors=True)


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(list(args))
    return code, out.getvalue()


def board(work: Path) -> pd.DataFrame:
    table = pd.read_csv(work / "leaderboard" / "leaderboard.csv")
    return table[["protocol", "config", "seeds", "mean", "std", "baseline"]]


@pytest.mark.slow
def test_a_slurm_sweep_with_a_requeued_job_equals_a_local_sweep(
    slurm_cluster, toy_world, tmp_path, start_sweep, monkeypatch
):
    for key, value in slurm_cluster.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "slurm"
    sweep = start_sweep(toy_world, *SWEEP, "--executor", "slurm", "--work-dir", str(work))
    try:
        deadline = time.monotonic() + 400
        requeued = None
        while requeued is None and time.monotonic() < deadline:
            for path in work.glob("runs/toy-resume-v1/*/*"):
                folder = RunFolder(path)
                progress, job = folder.progress() or {}, folder.job()
                if job and folder.last_checkpoint() and 6 < progress.get("iter", 0) < 20:
                    subprocess.run(["scontrol", "requeue", job["job_id"]], check=True)
                    requeued = folder
                    break
            time.sleep(0.1)
        assert requeued is not None, "no job passed its first checkpoint"
        out, _ = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, out
    assert "4 trained" in out
    result = requeued.result()
    assert result["status"] == "finished" and result["resumed_from_iter"] >= 6, result
    assert result["iterations"] == 24
    folders = [RunFolder(p) for p in work.glob("runs/toy-resume-v1/*/*")]
    assert len(folders) == 4 and len({f.job()["job_id"].split("_")[0] for f in folders}) == 1
    client = MlflowClient(tracking_uri(work))
    experiment = client.get_experiment_by_name("toy-resume")
    seeds = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'seed'")
    assert sorted(r.info.status for r in seeds) == ["FINISHED"] * 4
    assert len({r.data.tags["labbench.run_hash"] for r in seeds}) == 4

    code, status = run_cli(*SWEEP, "--executor", "slurm", "--work-dir", str(work), "--status")
    assert code == 0 and "4 finished" in status, status
    local = tmp_path / "local"
    code, out = run_cli(*SWEEP, "--work-dir", str(local), "--workers", "2")
    assert code == 0, out
    pd.testing.assert_frame_equal(board(work), board(local))
