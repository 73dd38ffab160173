"""What a run was made with: the git commit of the checkout and the software and
hardware of the machine. ``lab train`` and the benchmark harness record the same facts."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGES = ("torch", "torchvision", "mmengine", "mlflow", "numpy", "labcore", "labbench")


def git_commit(folder: str | os.PathLike | None = None) -> str:
    """The commit checked out in the repository holding ``folder`` (default: labcore's
    own checkout), with ``-dirty`` when tracked files have changes; ``unknown`` outside a
    git checkout or without git."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=20
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``not installed``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def environment_info() -> dict[str, str]:
    """Python and key package versions, the git commit, platform, CPU and GPUs, as
    strings (ready for MLflow tags). Computed once per process."""
    import torch

    info = {"python": platform.python_version(), "git_commit": git_commit()}
    info.update({name: package_version(name) for name in PACKAGES})
    info["platform"] = platform.platform()
    info["cpu"] = f"{cpu_name()} x{os.cpu_count()}"
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["gpu"] = ", ".join(names)
        info["cuda"] = str(torch.version.cuda)
    else:
        info["gpu"] = "none"
    return info
