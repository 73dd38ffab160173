"""labcore.engine.dist: distributed training on CPU (gloo, DDP without device_ids) and
the Slurm launcher's environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel

from labcore.engine import compat
from labcore.engine.dist import first_slurm_host, init_dist, resolve_backend, slurm_environment
from labcore.errors import ConfigError

TESTS_DIR = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def single_process_env(monkeypatch):
    for key, value in {
        "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only path")
def test_pytorch_launcher_starts_gloo_on_cpu_where_mmengine_fails(single_process_env):
    with pytest.raises((RuntimeError, AssertionError)):  # torch.cuda.set_device without CUDA
        compat.ORIGINALS["init_dist"]("pytorch", backend="gloo")
    assert not torch_dist.is_initialized()
    init_dist("pytorch", backend="auto")
    assert torch_dist.is_initialized() and torch_dist.get_backend() == "gloo"

    model = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="device_ids"):
        compat.ORIGINALS["MMDistributedDataParallel.__init__"](
            MMDistributedDataParallel.__new__(MMDistributedDataParallel), model, device_ids=[0]
        )
    wrapped = MMDistributedDataParallel(module=model, device_ids=[0])
    assert wrapped.device_ids is None
    x = torch.randn(4, 3)
    assert torch.equal(wrapped(x), model(x))


def test_backend_is_chosen_at_run_time():
    expected = "nccl" if torch.cuda.is_available() else "gloo"
    assert resolve_backend("auto") == expected
    assert resolve_backend(None) == expected
    assert resolve_backend("nccl") == expected
    assert resolve_backend("gloo") == "gloo"


def test_slurm_environment_from_slurm_variables():
    env = slurm_environment({
        "SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
        "SLURM_NODELIST": "gpu-node[03-04,07]",
    })  # fmt: skip
    assert env == {
        "RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8",
        "MASTER_ADDR": "gpu-node03", "MASTER_PORT": "29500",
    }  # fmt: skip
    kept = slurm_environment({
        "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_NODELIST": "a1",
        "MASTER_ADDR": "head", "MASTER_PORT": "1234",
    })  # fmt: skip
    assert kept["MASTER_ADDR"] == "head" and kept["MASTER_PORT"] == "1234"
    assert kept["LOCAL_RANK"] == "0"
    with pytest.raises(ConfigError, match="SLURM_PROCID"):
        slurm_environment({"SLURM_NTASKS": "2", "SLURM_NODELIST": "a1"})


def test_slurm_launcher_trains_on_cpu(tmp_path, monkeypatch, single_process_env):
    """``launcher='slurm'`` end to end in one process: ranks from SLURM_* variables, a
    gloo group, the model wrapped in DDP without device_ids."""
    import logging

    from labcore.engine.training import build_runner

    monkeypatch.syspath_prepend(str(TESTS_DIR))
    import lab_engine_toy

    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.delenv(key)
    for key, value in {
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # else MMEngine sets them for good
        "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_LOCALID": "0",
        "SLURM_NODELIST": "127.0.0.1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    config = tmp_path / "toy.py"
    config.write_text(lab_engine_toy.toy_config_text(max_length=1))
    runner = build_runner(config, work_dir=tmp_path / "w", launcher="slurm")
    runner.logger.setLevel(logging.WARNING)
    assert torch_dist.get_backend() == "gloo" and os.environ["WORLD_SIZE"] == "1"
    runner.train()
    assert isinstance(runner.model, MMDistributedDataParallel)
    assert runner.model.device_ids is None
    assert (tmp_path / "w" / "epoch_1.pth").is_file()


def test_first_slurm_host_expands_node_lists(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)  # no scontrol here
    assert first_slurm_host("node[003-010],login") == "node003"
    assert first_slurm_host("single") == "single"
    assert first_slurm_host("a[7,9]") == "a7"


@pytest.mark.dist
def test_torchrun_two_processes_match_one_process_of_the_same_global_batch(tmp_path):
    """2 processes x batch 4 (gloo, DDP) against 1 process x batch 8, without dropout:
    the same samples per step, so the weights agree up to float32 summation order
    (tolerance 1e-5)."""
    sys.path.insert(0, str(TESTS_DIR))
    import lab_engine_toy

    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), OMP_NUM_THREADS="1")
    for name, batch in (("single", 8), ("dist", 4)):
        (tmp_path / f"{name}.py").write_text(
            lab_engine_toy.toy_config_text(max_length=2, dropout=0.0, batch_size=batch)
        )
    lab = [sys.executable, "-m", "labcore.cli.main", "train"]
    single = subprocess.run(
        [*lab, str(tmp_path / "single.py"), "--work-dir", str(tmp_path / "single"), "--no-mlflow"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    torchrun = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(_free_port()), "-m", "labcore.cli.main", "train",
    ]  # fmt: skip
    dist = subprocess.run(
        [*torchrun, str(tmp_path / "dist.py"), "--work-dir", str(tmp_path / "dist"),
         "--launcher", "pytorch", "--no-mlflow"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert dist.returncode == 0, dist.stderr[-3000:]
    one = torch.load(tmp_path / "single" / "epoch_2.pth", weights_only=False)["state_dict"]
    two = torch.load(tmp_path / "dist" / "epoch_2.pth", weights_only=False)["state_dict"]
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-5)
    assert "Distributed training: True" in dist.stdout + dist.stderr
