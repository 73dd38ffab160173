"""labcore.cpu_pins: the pins reach a child process's torch before it chooses its kernels,
give bit-identical training on AVX-512 machines where unpinned runs differ, and are
recorded by ``lab train --reproducible``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.config import Config

from labcore.cpu_pins import CpuPins, apply_before_torch, check_in_effect, cpu_flags, cpu_provenance
from labcore.errors import ConfigError

TESTS_DIR = Path(__file__).parent
HAS_AVX512 = "avx512f" in cpu_flags()
HAS_AVX2 = "avx2" in cpu_flags()
PIN_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")

# Trains a small conv net for a few AdamW steps (conv, batch norm, linear, as the tiny
# protocols' models) and prints torch's kernel level and a hash of the weights.
TRAIN_AND_HASH = textwrap.dedent(
    """
    import hashlib, torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(16, 8),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    images, labels = torch.randn(32, 3, 32, 32), torch.randint(0, 8, (32,))
    for _ in range(10):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weights = b"".join(p.detach().numpy().tobytes() for p in model.parameters())
    print(torch.backends.cpu.get_cpu_capability(), hashlib.sha256(weights).hexdigest())
    """
)


def _unpinned_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PIN_VARIABLES}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _child(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_spec_gives_defaults_fields_or_no_pins_and_names_bad_values():
    assert CpuPins.from_spec(True) == CpuPins()
    assert CpuPins.from_spec(None) is None and CpuPins.from_spec(False) is None
    pins = CpuPins.from_spec({"aten": "default", "threads": 2})
    assert pins.variables()["ATEN_CPU_CAPABILITY"] == "default"
    assert pins.variables()["OMP_NUM_THREADS"] == "2" and pins.onednn == "AVX2"
    with pytest.raises(ConfigError, match="unknown keys \\['isa'\\]"):
        CpuPins.from_spec({"isa": "AVX2"})
    with pytest.raises(ConfigError, match="avx3"):
        CpuPins(aten="avx3")
    with pytest.raises(ConfigError, match="capitals"):
        CpuPins(onednn="avx2")
    with pytest.raises(ConfigError, match="threads"):
        CpuPins(threads=0)


def test_environment_adds_the_pins_to_a_base_and_in_effect_reads_them():
    pins = CpuPins()
    env = pins.environment({"PATH": "/bin", "OMP_NUM_THREADS": "8"})
    assert env["PATH"] == "/bin" and env["OMP_NUM_THREADS"] == "1"
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "AVX2"
    assert pins.in_effect(env) and not pins.in_effect({"PATH": "/bin"})


def test_pins_cannot_be_applied_once_torch_chose_its_kernels():
    import torch  # noqa: F401  (loaded, as in any test process)

    pins = CpuPins(aten="default")
    with pytest.raises(ConfigError, match="before torch is imported"):
        apply_before_torch(pins)
    with pytest.raises(ConfigError, match="not in this process's environment"):
        check_in_effect(pins)


def test_provenance_names_the_cpu_its_simd_flags_and_the_pins():
    record = cpu_provenance(CpuPins())
    assert record["cpu_model"] and record["cpu_count"] >= 1
    assert record["cpu_pins"] == {
        "aten": "avx2",
        "onednn": "AVX2",
        "mkl_cbwr": "AVX2",
        "threads": 1,
    }
    if cpu_flags():
        assert "avx2" in record["cpu_isa"].split() or "sse4_2" in record["cpu_isa"].split()
    assert record["aten_cpu_capability"] in {"DEFAULT", "AVX2", "AVX512"}
    assert cpu_provenance()["cpu_pins"] is None


def test_pins_reach_the_torch_of_a_child_process():
    code = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    env = CpuPins(aten="default", threads=1).environment(_unpinned_environment())
    assert _child(code, env) == "DEFAULT 1"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_AVX512, reason="needs a CPU with AVX-512 (/proc/cpuinfo avx512f)")
def test_pinned_runs_agree_bit_for_bit_where_an_unpinned_run_differs():
    pinned = CpuPins().environment(_unpinned_environment())
    first, second = _child(TRAIN_AND_HASH, pinned), _child(TRAIN_AND_HASH, pinned)
    unpinned = _child(TRAIN_AND_HASH, _unpinned_environment())
    assert first.split()[0] == "AVX2" and unpinned.split()[0] == "AVX512"
    assert first == second
    assert first.split()[1] != unpinned.split()[1]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_AVX2, reason="the default pins need a CPU with AVX2")
def test_lab_train_reproducible_trains_under_the_pins_and_records_them(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    import lab_engine_toy

    config = tmp_path / "toy.py"
    config.write_text(lab_engine_toy.toy_config_text(max_length=1))
    work_dir = tmp_path / "work"
    env = dict(_unpinned_environment(), PYTHONPATH=str(TESTS_DIR))
    done = subprocess.run(
        [sys.executable, "-m", "labcore.cli.main", "train", str(config), "--reproducible",
         "--work-dir", str(work_dir), "--no-mlflow"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    provenance = Config.fromfile(str(work_dir / "toy.py")).cpu_provenance
    assert provenance["cpu_pins"] == CpuPins().as_dict()
    assert provenance["aten_cpu_capability"] == "AVX2" and provenance["torch_threads"] == 1
