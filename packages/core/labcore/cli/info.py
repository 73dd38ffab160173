"""Show the versions of the stack, CUDA devices, compiled ops and installed codebases."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import platform
import sys

from labcore.errors import LabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def collect_info() -> dict:
    """Versions of python and the libraries OpenLab stands on, CUDA availability, the
    build of ``labcore._C`` and the codebases registered under ``openlab.codebases``."""
    import torch

    info: dict = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("torch", "torchvision", "mmengine", "mlflow", "numpy", "labcore"):
        info[dist] = _version(dist)
    info["cuda_available"] = torch.cuda.is_available()
    info["torch_cuda_build"] = torch.version.cuda or "none"
    if torch.cuda.is_available():
        info["cuda_devices"] = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
    info["compiled_ops"] = _ops_info()
    from labcore.codebase import discover_codebases

    info["codebases"] = {name: _version(name) for name in discover_codebases()}
    return info


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _ops_info() -> dict | str:
    """The build report of ``labcore._C``, or "not built" with the reason and the command
    that rebuilds it: a missing or mismatched extension must not hide the versions."""
    try:
        return importlib.import_module("labcore.ops").build_info()
    except (LabError, ImportError, AttributeError, OSError, RuntimeError) as err:
        # LabError: labcore.ops.ExtensionError, whose message names the rebuild command
        return f"not built ({err})"


def run(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {value}")
    return 0
