"""Loading labcore._C: build report, and one clear LabError when it is unusable."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest
import torch

import labcore.ops
from labcore.errors import LabError
from labcore.ops._extension import ExtensionError, load_extension

OPS = [
    "bbox_overlaps",
    "bbox_overlaps_backward",
    "box_iou_rotated",
    "multi_scale_deformable_attention",
    "multi_scale_deformable_attention_backward",
    "nms_rotated",
    "roi_align_rotated",
    "roi_align_rotated_backward",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_backward",
    "sigmoid_focal_loss_with_grad",
    "soft_nms",
]


def test_build_info_reports_versions_and_ops():
    info = labcore.ops.build_info()
    assert info["torch_version"] == torch.__version__.split("+")[0]
    assert info["ops"] == OPS
    assert info["cpu_ops"] == OPS
    if info["with_cuda"]:
        assert info["cuda_ops"] == OPS
        assert info["cuda_version"] == ".".join(torch.version.cuda.split(".")[:2])
        assert info["cuda_arch_list"]
    else:
        assert info["cuda_ops"] == [] and info["cuda_version"] is None
    assert info["openmp"] is True


def test_cuda_build_targets_the_arch_list():
    info = labcore.ops.build_info()
    if not info["with_cuda"]:
        assert info["cuda_arch_list"] == ""
        return
    # setup.py's default; a TORCH_CUDA_ARCH_LIST set here is taken as the build's own
    wanted = os.environ.get("TORCH_CUDA_ARCH_LIST", "8.0;9.0").replace(";", " ").split()
    assert info["cuda_arch_list"].split(",") == wanted


def fake_extension(monkeypatch, **build):
    """Stands in for labcore._C with the given build report."""
    report = {
        "torch_version": torch.__version__.split("+")[0],
        "with_cuda": False,
        "cuda_version": None,
        "cuda_arch_list": "",
        **build,
    }
    module = types.ModuleType("labcore._C")
    module.build_info = lambda: dict(report)
    monkeypatch.setitem(sys.modules, "labcore._C", module)


def test_extension_built_for_another_cuda(monkeypatch):
    fake_extension(monkeypatch, with_cuda=True, cuda_version="12.4", cuda_arch_list="8.0,9.0")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with pytest.raises(ExtensionError, match=r"built against CUDA 12\.4 but torch runs CUDA 13\.0"):
        load_extension()
    # the same CUDA release with another patch level is fine
    monkeypatch.setattr(torch.version, "cuda", "12.4.1")
    assert load_extension() is sys.modules["labcore._C"]


def test_cpu_only_extension_loads_under_any_cuda(monkeypatch):
    fake_extension(monkeypatch)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert load_extension() is sys.modules["labcore._C"]
    # and a CUDA build loads under a CPU-only torch, which runs its CPU kernels
    fake_extension(monkeypatch, with_cuda=True, cuda_version="13.0", cuda_arch_list="8.0,9.0")
    monkeypatch.setattr(torch.version, "cuda", None)
    assert load_extension() is sys.modules["labcore._C"]


def test_reexports_torchvision_ops():
    import torchvision.ops as tv

    assert labcore.ops.nms is tv.nms and labcore.ops.roi_align is tv.roi_align
    assert labcore.ops.tv_sigmoid_focal_loss is tv.sigmoid_focal_loss
    assert labcore.ops.sigmoid_focal_loss is not tv.sigmoid_focal_loss


def test_missing_extension_is_one_lab_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "labcore._C", None)  # makes the import fail
    with pytest.raises(ExtensionError, match="nox -s ops") as info:
        load_extension()
    assert isinstance(info.value, LabError)


def test_extension_built_for_another_torch(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "1.13.0")
    with pytest.raises(ExtensionError, match=r"built against torch 2\.\d+.* but torch 1\.13\.0"):
        load_extension()


def test_import_labcore_works_without_extension():
    code = (
        "import sys\n"
        "sys.modules['labcore._C'] = None\n"
        "import labcore\n"
        "try:\n"
        "    import labcore.ops\n"
        "except labcore.errors.LabError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("ExtensionError labcore's compiled ops (labcore._C)")
    assert "nox -s ops" in result.stdout
