"""CPU kernel pins: the same numbers from a CPU run on any x86-64 machine with AVX2.

PyTorch chooses its CPU kernels at run time from the instruction sets of the processor:
ATen's vectorised kernels (``ATEN_CPU_CAPABILITY``), oneDNN's convolutions
(``ONEDNN_MAX_CPU_ISA``) and MKL's BLAS (``MKL_CBWR``, MKL's conditional numerical
reproducibility branch). AVX-512 and AVX2 kernels round differently in the last bits, a
different thread count sums in a different order, and training amplifies those bits into
different weights and metrics. :class:`CpuPins` fixes all four, so a deterministic run
gives bit-identical weights on every machine that has the pinned instruction set.

Each library reads its variable once, before its first kernel runs, so the pins are
environment variables that must be set before torch is imported: in the environment of a
child process (:meth:`CpuPins.environment`) or in this process while torch is not yet
imported (:func:`apply_before_torch`). The pinned kernels of AVX2 run about as fast as
AVX-512 ones for the small models of the tiny protocols.

    pins = CpuPins()                       # AVX2 kernels everywhere, one thread
    subprocess.run(cmd, env=pins.environment(os.environ))
    lab train CONFIG --reproducible        # the same for `lab train`

:func:`cpu_provenance` is what a run records about its processor: model, SIMD flags, the
pins and the kernel level torch reports.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from labcore.errors import ConfigError

#: ATEN_CPU_CAPABILITY values on x86-64, lowest first
ATEN_CAPABILITIES = ("default", "avx2", "avx512")
#: /proc/cpuinfo flag an ATen capability needs
_ATEN_NEEDS_FLAG = {"avx2": "avx2", "avx512": "avx512f"}
#: /proc/cpuinfo flags recorded in the provenance (the SIMD levels kernels choose from)
SIMD_FLAGS = re.compile(r"^(sse4_1|sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni|amx\w*)$")


@dataclass(frozen=True)
class CpuPins:
    """Which CPU kernels torch may use, and how many threads.

    Attributes:
        aten: ``ATEN_CPU_CAPABILITY``: ``default``, ``avx2`` or ``avx512``.
        onednn: ``ONEDNN_MAX_CPU_ISA``: the highest oneDNN ISA, e.g. ``AVX2``.
        mkl_cbwr: ``MKL_CBWR``: MKL's code branch, e.g. ``AVX2`` or ``COMPATIBLE``.
        threads: intra-op threads (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
            ``torch.set_num_threads``).
    """

    aten: str = "avx2"
    onednn: str = "AVX2"
    mkl_cbwr: str = "AVX2"
    threads: int = 1

    def __post_init__(self) -> None:
        if self.aten not in ATEN_CAPABILITIES:
            raise ConfigError(
                f"cpu_pins.aten={self.aten!r} is not an ATen CPU capability; use one of "
                f"{', '.join(ATEN_CAPABILITIES)}."
            )
        for name in ("onednn", "mkl_cbwr"):
            value = getattr(self, name)
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9_,]+", value):
                raise ConfigError(
                    f"cpu_pins.{name}={value!r} is not an ISA name; write it in capitals "
                    f"as the library names it, e.g. AVX2."
                )
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ConfigError(f"cpu_pins.threads={self.threads!r} must be a whole number >= 1.")

    @classmethod
    def from_spec(cls, spec: bool | Mapping[str, Any] | None) -> CpuPins | None:
        """Pins from a protocol's or config's ``cpu_pins`` field: ``true`` for the
        defaults, a mapping of some of the fields, ``false``/``None`` for no pins.

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        if spec is None or spec is False:
            return None
        if spec is True:
            return cls()
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"cpu_pins must be true, false or a mapping of {[f.name for f in fields(cls)]}, "
                f"not {spec!r}."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(f"cpu_pins has unknown keys {unknown}; known: {sorted(known)}.")
        return cls(**dict(spec))

    def variables(self) -> dict[str, str]:
        """The environment variables that apply these pins."""
        return {
            "ATEN_CPU_CAPABILITY": self.aten,
            "ONEDNN_MAX_CPU_ISA": self.onednn,
            "MKL_CBWR": self.mkl_cbwr,
            "OMP_NUM_THREADS": str(self.threads),
            "MKL_NUM_THREADS": str(self.threads),
        }

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the pins set, for a child
        process that imports torch."""
        env = dict(os.environ if base is None else base)
        env.update(self.variables())
        return env

    def in_effect(self, env: Mapping[str, str] | None = None) -> bool:
        """Whether ``env`` (default: this process's) already holds every pin."""
        env = os.environ if env is None else env
        return all(env.get(k) == v for k, v in self.variables().items())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_before_torch(pins: CpuPins) -> None:
    """Set ``pins`` in this process's environment; torch must not be imported yet.

    Raises:
        ConfigError: torch is already imported and the pins are not in effect (its
            kernels are chosen already); start a new process with
            ``pins.environment()`` instead.
    """
    if "torch" in sys.modules and not pins.in_effect():
        raise ConfigError(
            "The CPU pins must be set before torch is imported, and this process has imported "
            "it already. Run the command in a new process with the environment of "
            "CpuPins.environment(), or set "
            + " ".join(f"{k}={v}" for k, v in pins.variables().items())
            + " before starting Python."
        )
    check_cpu_supports(pins)
    os.environ.update(pins.variables())


def check_in_effect(pins: CpuPins) -> None:
    """Raise ConfigError unless this process runs under ``pins``: every variable is in
    its environment and, when torch is loaded, torch reports the pinned ATen level (and
    the CPU has the instruction set it names)."""
    check_cpu_supports(pins)
    if not pins.in_effect():
        raise ConfigError(
            "The CPU pins are not in this process's environment; they must be set before "
            "torch is imported: start the process with CpuPins.environment() (or `lab train "
            "--reproducible`), which sets "
            + " ".join(f"{k}={v}" for k, v in pins.variables().items())
            + "."
        )
    torch = sys.modules.get("torch")
    if torch is not None:
        capability = torch.backends.cpu.get_cpu_capability()
        if capability.lower() != pins.aten:
            raise ConfigError(
                f"torch runs {capability} kernels, not the pinned {pins.aten}: it chose them "
                f"before ATEN_CPU_CAPABILITY was set. Start a new process with the pins."
            )


def apply_threads(pins: CpuPins) -> None:
    """``torch.set_num_threads(pins.threads)`` (OpenMP reads OMP_NUM_THREADS only once)."""
    import torch

    torch.set_num_threads(pins.threads)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check_cpu_supports(pins: CpuPins) -> None:
    """Raise ConfigError when this CPU lacks the instruction set ``pins.aten`` names
    (ATen would silently fall back to a lower level and the numbers would differ)."""
    flags = cpu_flags()
    needed = _ATEN_NEEDS_FLAG.get(pins.aten)
    if flags and needed and needed not in flags:
        raise ConfigError(
            f"cpu_pins.aten={pins.aten!r} needs a CPU with {needed}, and this one "
            f"({cpu_model()}) has none; run on an x86-64 machine with {needed}, or pin a "
            f"lower level (numbers then differ from runs pinned to {pins.aten})."
        )


def cpu_provenance(pins: CpuPins | None = None) -> dict[str, Any]:
    """What a run records about its processor: model, logical CPUs, SIMD flags, the
    pins (None when unpinned), and the kernel level and threads torch uses (when torch
    is imported)."""
    record: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_isa": " ".join(sorted(f for f in cpu_flags() if SIMD_FLAGS.match(f))),
        "cpu_pins": pins.as_dict() if pins is not None else None,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        record["aten_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        record["torch_threads"] = torch.get_num_threads()
    return record
