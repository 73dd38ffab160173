"""A protocol's ``cpu_pins`` reach the worker's torch before it chooses its kernels, and
the run's result records the CPU, its instruction sets and the pins."""

from __future__ import annotations

import contextlib
import io

import pytest

from labbench import cli
from labbench.protocol import load_protocol
from labbench.runfolder import RunFolder
from labcore.cpu_pins import CpuPins

# ATen's lowest level: no x86-64 machine runs it unless told to, so the worker reporting
# it shows that the pins, not the machine, chose the kernels.
PINS = "cpu_pins: {aten: default, onednn: AVX2, mkl_cbwr: AVX2, threads: 1}\n"


@pytest.mark.slow
def test_the_protocols_pins_reach_the_worker_and_are_recorded(
    toy_world_files, toy_env, tmp_path, monkeypatch
):
    pinned = tmp_path / "protocols"
    pinned.mkdir()
    text = (toy_world_files.protocols / "toy-tiny.yaml").read_text()
    (pinned / "toy-tiny.yaml").write_text(text + PINS)
    work = tmp_path / "work"
    out = io.StringIO()
    with toy_env(toy_world_files):
        monkeypatch.setenv("OPENLAB_PROTOCOLS", f"{pinned}:{toy_world_files.protocols}")
        assert load_protocol("toy-tiny").cpu_pins == CpuPins(aten="default")
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["--protocol", "toy-tiny", "--only", "toy_a", "--seeds", "0", "--work-dir",
                 str(work), "--workers", "1"]
            )  # fmt: skip
    assert code == 0, out.getvalue()
    (run_dir,) = (work / "runs" / "toy-tiny-v3" / "toy_a").iterdir()
    result = RunFolder(run_dir).result()
    assert result["status"] == "finished", result
    cpu = result["cpu"]
    assert cpu["aten_cpu_capability"] == "DEFAULT" and cpu["torch_threads"] == 1
    assert cpu["cpu_pins"] == CpuPins(aten="default").as_dict()
    assert cpu["cpu_model"]
