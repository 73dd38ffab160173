"""What a run was trained with: git commit, package versions, hardware.

Recorded into each run folder when the run starts, so that a run sent to MLflow later
(``labbench --sync``) carries the facts of when it trained.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGES = ("torch", "torchvision", "mmengine", "mlflow", "labcore", "labbench")


def git_commit(folder: Path | None = None) -> str:
    """The commit of the repository holding labbench, with ``-dirty`` when the working
    tree has changes; ``unknown`` outside a git checkout."""
    folder = folder or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def environment_info() -> dict[str, str]:
    """Versions of python and the key packages, the git commit and the hardware."""
    info = {"python": platform.python_version(), "git_commit": git_commit()}
    for package in PACKAGES:
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["platform"] = platform.platform()
    info["cpu"] = f"{_cpu_name()} x{os.cpu_count()}"
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["gpu"] = ", ".join(names)
        info["cuda"] = str(torch.version.cuda)
    else:
        info["gpu"] = "none"
    return info
