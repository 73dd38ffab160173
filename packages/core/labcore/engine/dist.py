"""Starting distributed training on CPU-only machines as well as on GPUs.

MMEngine 0.10.7 always calls ``torch.cuda.set_device`` when it starts a process group
and wraps models in DDP with ``device_ids``; both fail on a machine without CUDA. Here
the backend is chosen at run time (``"auto"``: nccl with CUDA, gloo without), the
device is set only where CUDA exists, and the Slurm launcher reads its ranks from the
``SLURM_*`` variables without needing ``scontrol`` or GPUs.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess

import torch
import torch.distributed as torch_dist

from labcore.errors import ConfigError

DEFAULT_MASTER_PORT = "29500"


def resolve_backend(backend: str | None) -> str:
    """``"auto"`` or None -> nccl where CUDA is available, else gloo; nccl without CUDA
    falls back to gloo as well, since it cannot run there."""
    if backend in (None, "auto") or (backend == "nccl" and not torch.cuda.is_available()):
        return "nccl" if torch.cuda.is_available() else "gloo"
    return backend


def first_slurm_host(node_list: str) -> str:
    """The first host name of a Slurm node list (``"node[03-05,7],gpu1"`` -> ``"node03"``).

    Uses ``scontrol show hostnames`` when it exists, else expands the first entry itself.
    """
    if shutil.which("scontrol"):
        out = subprocess.run(
            ["scontrol", "show", "hostnames", node_list], capture_output=True, text=True
        )
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", node_list)
    if match is None:
        raise ConfigError(f"SLURM_NODELIST '{node_list}' is not a Slurm node list.")
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    first = ranges.split(",")[0].split("-")[0]
    return f"{prefix}{first}"


def slurm_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The torch.distributed variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT) that a Slurm task's ``SLURM_*`` variables describe.

    MASTER_ADDR and MASTER_PORT already set in ``environ`` are kept.

    Raises:
        ConfigError: a required SLURM variable is missing (not started by srun).
    """
    env = dict(os.environ if environ is None else environ)
    missing = [k for k in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST") if k not in env]
    if missing:
        raise ConfigError(
            f"--launcher slurm needs the variables {missing} that srun sets; start the job "
            f"with srun, or use --launcher pytorch with torchrun."
        )
    rank = int(env["SLURM_PROCID"])
    if "SLURM_LOCALID" in env:
        local_rank = int(env["SLURM_LOCALID"])
    else:
        local_rank = rank % max(torch.cuda.device_count(), 1)
    return {
        "RANK": str(rank),
        "LOCAL_RANK": str(local_rank),
        "WORLD_SIZE": env["SLURM_NTASKS"],
        "MASTER_ADDR": env.get("MASTER_ADDR") or first_slurm_host(env["SLURM_NODELIST"]),
        "MASTER_PORT": env.get("MASTER_PORT", DEFAULT_MASTER_PORT),
    }


def init_dist(launcher: str, backend: str | None = "auto", init_backend: str = "torch", **kwargs):
    """Start the default process group for ``launcher`` ('pytorch' or 'slurm'; 'mpi'
    is passed to MMEngine). Replaces ``mmengine.dist.init_dist``.

    Args:
        launcher: how the processes were started.
        backend: 'auto' (nccl with CUDA, gloo without) or a torch.distributed backend.
        init_backend: only 'torch' is supported here.
        **kwargs: passed to ``init_process_group``; ``timeout`` in seconds.
    """
    from labcore.engine import compat

    backend = resolve_backend(backend)
    if launcher == "mpi":
        return compat.ORIGINALS["init_dist"](launcher, backend, init_backend, **kwargs)
    if launcher not in ("pytorch", "slurm"):
        raise ConfigError(
            f"Unknown launcher '{launcher}': choose none, pytorch (torchrun), slurm (srun) or mpi."
        )
    if init_backend != "torch":
        raise ConfigError(
            f"init_backend '{init_backend}' is not supported; remove it from env_cfg.dist_cfg."
        )
    if launcher == "slurm":
        port = kwargs.pop("port", None)
        os.environ.update(slurm_environment())
        if port is not None:
            os.environ["MASTER_PORT"] = str(port)
    if kwargs.get("timeout") is not None:
        kwargs["timeout"] = datetime.timedelta(seconds=kwargs["timeout"])
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    torch_dist.init_process_group(
        backend=backend,
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        **kwargs,
    )


def shutdown_dist() -> None:
    """Tear the default process group down, if one was started.

    A process that exits with a live gloo group may abort in the group's background
    threads ("terminate called without an active exception"), which turns a finished
    run into a failed one. Every rank waits for the others first, so no rank leaves
    while another still talks to it.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    try:
        torch_dist.barrier()
    finally:
        torch_dist.destroy_process_group()
