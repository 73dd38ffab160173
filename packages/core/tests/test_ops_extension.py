"""Loading labcore._C: build report, and one clear LabError when it is unusable."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import labcore.ops
from labcore.errors import LabError
from labcore.ops._extension import ExtensionError, load_extension

OPS = [
    "bbox_overlaps",
    "box_iou_rotated",
    "multi_scale_deformable_attention",
    "multi_scale_deformable_attention_backward",
    "nms_rotated",
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
