"""The run folder: its lock names the process holding it and is freed when that process
dies; a resumed run keeps its checkpoint and rewrites its scalars from it on; --rerun
starts from an empty folder."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from labbench.discovery import registered_configs
from labbench.executor import LocalExecutor
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols
from labbench.runfolder import RunFolder, RunLockedError, run_folders
from labbench.sweep import Sweep, run_states

HOLD = """
import sys, time
from labbench.runfolder import RunFolder
handle = RunFolder(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_the_lock_names_the_other_host_and_pid_and_dies_with_it(tmp_path):
    folder = RunFolder(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError) as caught:
            folder.acquire()
        message = str(caught.value)
        assert f"host {socket.gethostname()}, pid {holder.pid}" in message
        assert "not trained twice" in message
        assert folder.lock_owner()["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert folder.lock_owner() is None  # the kernel freed it with the process
    with folder.locked():
        assert folder.lock_owner()["pid"] != holder.pid


def test_resumed_scalars_restart_after_the_checkpoint_and_state_follows_the_files(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert folder.state() == "new"
    folder.prepare("x = 1\n", {"x": 1}, {"protocol": "p", "seed": 0})
    assert folder.state() == "queued" and folder.config() == {"x": 1}
    with folder.open_scalars() as f:
        for step in range(1, 9):
            f.write(json.dumps({"step": step, "train/loss": 1.0 / step}) + "\n")
        f.write('{"step": 9, "train/lo')  # cut by a kill
    folder.write_progress(9, 24, 1.0)
    assert folder.state() == "interrupted"
    with folder.open_scalars(after_step=6) as f:
        f.write(json.dumps({"step": 7, "train/loss": 0.5}) + "\n")
    assert [r["step"] for r in folder.scalars()] == [1, 2, 3, 4, 5, 6, 7]
    folder.work_dir.mkdir()
    (folder.work_dir / "iter_6.pth").write_bytes(b"weights")
    (folder.work_dir / "last_checkpoint").write_text(str(folder.work_dir / "iter_6.pth"))
    folder.write_result({"status": "failed", "error": "killed"})
    assert folder.state() == "failed" and run_folders(tmp_path) == []
    # preparing it again keeps the checkpoint and drops the old result
    folder.prepare("x = 1\n", {"x": 1}, {"protocol": "p", "seed": 0})
    assert folder.last_checkpoint() == folder.work_dir / "iter_6.pth"
    assert folder.result() is None
    folder.reset()
    assert sorted(p.name for p in folder.path.iterdir()) == []


def test_rerun_starts_from_scratch_and_a_retry_keeps_the_checkpoint(toy_world, tmp_path):
    protocols = load_all_protocols()
    entries = [e for e in registered_configs() if e.name == "toy_a"]
    (spec, _) = build_plan(entries, protocols, selected=["toy-tiny"]).runs
    for rerun, kept in ((False, True), (True, False)):
        sweep = Sweep(
            tmp_path, executor=LocalExecutor(), tracker=None, rerun=rerun, out=io.StringIO()
        )
        folder = sweep.folder(spec)
        folder.work_dir.mkdir(parents=True, exist_ok=True)
        (folder.work_dir / "iter_4.pth").write_bytes(b"w")
        (folder.work_dir / "last_checkpoint").write_text(str(folder.work_dir / "iter_4.pth"))
        sweep.prepare(spec)
        assert (folder.last_checkpoint() is not None) == kept
        record = folder.record()
        assert record["checkpoint_interval"] == 4 and record["environment"]["git_commit"]


def test_lock_owner_of_a_free_folder_is_none_even_after_a_holder_released(tmp_path):
    folder = RunFolder(tmp_path / "run")
    handle = folder.acquire()
    with pytest.raises(RunLockedError):
        folder.acquire()
    folder.release(handle)
    started = time.monotonic()
    assert folder.lock_owner() is None and time.monotonic() - started < 1


def test_status_reads_each_runs_state_from_its_folder(toy_world, tmp_path):
    protocols = load_all_protocols()
    entries = [e for e in registered_configs() if e.name in ("toy_a", "toy_b")]
    plan = build_plan(entries, protocols, selected=["toy-tiny"])
    sweep = Sweep(tmp_path, executor=LocalExecutor(), tracker=None, out=io.StringIO())
    first, second, third, _ = plan.runs
    sweep.prepare(first).write_result({"status": "finished", "metric": 0.5})
    sweep.prepare(second).write_progress(3, 8, 1.0)
    sweep.prepare(third)
    states = {row["run"]: (row["state"], row["progress"]) for row in run_states(plan, tmp_path)}
    assert list(states.values()) == [
        ("finished", ""),
        ("interrupted", "iter 3/8"),
        ("queued", ""),
        ("new", ""),
    ]
