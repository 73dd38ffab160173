"""Loading and describing the compiled extension ``labcore._C``.

``labcore._C`` is built when labcore is installed (``packages/core/setup.py``); loading it
registers the ops under ``torch.ops.lab``. A missing extension, or one built against
another torch, is reported once, as an :class:`ExtensionError` that names the command
that rebuilds it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import torch

from labcore.errors import LabError

REBUILD_HINT = (
    "Rebuild it with `nox -s ops`, or in the shared environment with "
    "`CUDA_HOME=/usr/local/cuda-13.0 MAX_JOBS=2 .venv/bin/pip install --no-build-isolation "
    "--no-deps -e packages/core` (OPENLAB_WITH_CUDA=0 for a CPU-only build)."
)


class ExtensionError(LabError):
    """labcore._C is missing, or was built against another torch or CUDA."""


def _release(version: str) -> str:
    """'2.14.1+cu130' -> '2.14.1'."""
    return version.split("+")[0]


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def load_extension() -> ModuleType:
    """Import labcore._C and check that it matches the running torch and CUDA."""
    try:
        extension = importlib.import_module("labcore._C")
    except ImportError as exc:
        raise ExtensionError(
            f"labcore's compiled ops (labcore._C) could not be loaded: {exc}. {REBUILD_HINT}"
        ) from exc
    info = dict(extension.build_info())
    if _release(info["torch_version"]) != _release(torch.__version__):
        raise ExtensionError(
            f"labcore._C was built against torch {info['torch_version']} but torch "
            f"{torch.__version__} is running. {REBUILD_HINT}"
        )
    running_cuda = torch.version.cuda
    if info["with_cuda"] and running_cuda and info["cuda_version"] != _major_minor(running_cuda):
        raise ExtensionError(
            f"labcore._C was built against CUDA {info['cuda_version']} but torch runs CUDA "
            f"{running_cuda}. {REBUILD_HINT}"
        )
    return extension


def _registered_ops() -> list[str]:
    return sorted(
        name.removeprefix("lab::")
        for name in torch._C._dispatch_get_all_op_names()
        if name.startswith("lab::")
    )


def build_info(extension: ModuleType) -> dict[str, Any]:
    """How labcore._C was built and what it holds.

    Keys: ``torch_version`` and ``cuda_version`` it was built against (``cuda_version`` is
    None for a CPU-only build), ``with_cuda``, ``cuda_arch_list`` (e.g. ``'8.0,9.0'``),
    ``openmp``, ``compiler``, ``ops`` (every ``torch.ops.lab`` op), ``cpu_ops`` and
    ``cuda_ops`` (the ops with a kernel for that device), ``path`` (the library file).
    """
    info: dict[str, Any] = dict(extension.build_info())
    ops = _registered_ops()
    info["ops"] = ops
    for device in ("cpu", "cuda"):
        key = device.upper()
        info[f"{device}_ops"] = [
            op for op in ops if torch._C._dispatch_has_kernel_for_dispatch_key(f"lab::{op}", key)
        ]
    info["path"] = extension.__file__
    return info
