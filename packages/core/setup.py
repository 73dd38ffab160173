"""Builds labcore and its compiled ops, the extension ``labcore._C``.

The C++/CUDA sources live in ``csrc/`` at the repository root (``../../csrc`` from
here). CUDA kernels are compiled whenever nvcc is found (``CUDA_HOME``), also on a
machine without a GPU; otherwise the extension holds the CPU kernels only.

Environment switches:

* ``OPENLAB_WITH_CUDA=0|1``   force a CPU-only build, or require the CUDA kernels;
* ``TORCH_CUDA_ARCH_LIST``     GPU architectures (default ``8.0;9.0``: A100 and H100);
* ``MAX_JOBS``                 parallel compile jobs (ninja);
* ``OPENLAB_DEBUG=1``          ``-O0 -g`` instead of ``-O2``.

Rebuild in the shared environment with ``nox -s ops``.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

HERE = Path(__file__).parent.resolve()
CSRC = (HERE / ".." / ".." / "csrc").resolve()
DEFAULT_ARCH_LIST = "8.0;9.0"


def _with_cuda() -> bool:
    switch = os.environ.get("OPENLAB_WITH_CUDA", "").strip()
    if switch == "0":
        return False
    if switch == "1":
        if CUDA_HOME is None:
            raise RuntimeError(
                "OPENLAB_WITH_CUDA=1 but nvcc was not found: set CUDA_HOME to the CUDA toolkit "
                "(e.g. CUDA_HOME=/usr/local/cuda-13.0) or unset OPENLAB_WITH_CUDA."
            )
        return True
    return CUDA_HOME is not None


def _sources(with_cuda: bool) -> list[str]:
    # Relative to this folder: setuptools refuses absolute source paths.
    patterns = ["*.cpp", "ops/*.cpp", "ops/cpu/*.cpp"]
    if with_cuda:
        patterns.append("ops/cuda/*.cu")
    files = sorted(p for pattern in patterns for p in CSRC.glob(pattern))
    return [os.path.relpath(p, HERE) for p in files]


class BuildOps(BuildExtension):
    """Places each object file at build_temp/csrc/..., not at build_temp/../../csrc/...
    where the relative source path would put it (outside the build folder)."""

    def build_extensions(self) -> None:
        object_filenames = self.compiler.object_filenames

        def inside_build_temp(sources, strip_dir=0, output_dir=""):
            rooted = [os.path.relpath(HERE / source, CSRC.parent) for source in sources]
            return object_filenames(rooted, strip_dir=strip_dir, output_dir=output_dir)

        self.compiler.object_filenames = inside_build_temp
        super().build_extensions()


def _extension():
    with_cuda = _with_cuda()
    debug = os.environ.get("OPENLAB_DEBUG") == "1"
    optimise = ["-O0", "-g"] if debug else ["-O2"]
    # -g0 drops the debug info that Python's default CFLAGS ask for: a smaller library and
    # a faster build.
    cxx = ["-std=c++20", "-fopenmp", *optimise, *([] if debug else ["-g0"])]
    define_macros: list[tuple[str, str | None]] = []
    kwargs = dict(
        name="labcore._C",
        sources=_sources(with_cuda),
        include_dirs=[str(CSRC)],
        extra_link_args=["-fopenmp"],
    )
    if not with_cuda:
        return CppExtension(define_macros=define_macros, extra_compile_args={"cxx": cxx}, **kwargs)
    arch_list = os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_ARCH_LIST)
    # Commas only: the macro passes through a shell and is stringified in C++. Given to the
    # C++ compiler alone (module.cpp reads it): nvcc would split its value at the commas.
    archs = ",".join(a for a in arch_list.replace(";", " ").split() if a)
    cxx.append(f"-DOPENLAB_CUDA_ARCHS={archs}")
    define_macros.append(("WITH_CUDA", None))
    nvcc = ["-std=c++20", *optimise, "--expt-relaxed-constexpr"]
    return CUDAExtension(
        define_macros=define_macros, extra_compile_args={"cxx": cxx, "nvcc": nvcc}, **kwargs
    )


setup(ext_modules=[_extension()], cmdclass={"build_ext": BuildOps})
