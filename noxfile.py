"""Every OpenLab workflow is a nox session.

All sessions share ONE virtual environment (``.venv`` at the repository root, or the
folder named by ``OPENLAB_VENV``). It is created on first use and reused afterwards:
torch and torchvision are gigabytes and are never installed twice. Two stamp files
inside the environment record what was installed, so a session re-installs only
what changed:

* ``openlab-deps.sha256``      third-party requirements (torch, tools);
* ``openlab-packages.sha256``  the OpenLab distributions and the C++/CUDA sources
                               that ``labcore._C`` is compiled from.

    pip install nox && nox -s tests      # the test suite
    pip install nox && nox -s benchmark  # the main job: the benchmark sweep
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent.resolve()
VENV = Path(os.environ.get("OPENLAB_VENV", ROOT / ".venv"))
BIN = VENV / "bin"
PYTHON = str(BIN / "python")

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]

# torch and torchvision first, pinned: pip takes these builds from the local disk.
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
TOOLS = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "scikit-learn>=1.4",
    "ruff>=0.6",
    "setuptools>=70",
    "wheel",
    "ninja",
    "shapely>=2.0",  # labrot's DOTA mAP test: the reference polygon IoU
    # the documentation site (nox -s docs)
    "sphinx>=8",
    "myst-parser>=4",
    "furo>=2024.8",
]
# Installed in this order; each depends only on those before it.
DISTRIBUTIONS = [
    "packages/core",
    "packages/cls",
    "packages/det",
    "packages/pose",
    "packages/seg",
    "packages/rot",
    "packages/ssl",
    "benchmark",
]


def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _package_sources() -> list[Path]:
    files = [ROOT / d / name for d in DISTRIBUTIONS for name in ("pyproject.toml", "setup.py")]
    files = [f for f in files if f.exists()]
    csrc = ROOT / "csrc"
    if csrc.exists():
        files += [p for p in csrc.rglob("*") if p.is_file()]
    return files


def _pip(session: nox.Session, *args: str) -> None:
    session.run(
        PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args, external=True
    )


def _cuda_env() -> dict[str, str]:
    """Point the extension build at nvcc when one is installed (CUDA kernels compile
    without a GPU); FORCE_CUDA/OPENLAB_WITH_CUDA from the caller win."""
    env: dict[str, str] = {}
    if "CUDA_HOME" not in os.environ:
        for nvcc in (
            "/usr/local/cuda/bin/nvcc",
            *sorted(Path("/usr/local").glob("cuda-*/bin/nvcc")),
        ):
            if Path(nvcc).exists():
                env["CUDA_HOME"] = str(Path(nvcc).resolve().parent.parent)
                break
    env.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
    return env


def shared_env(session: nox.Session, force_packages: bool = False) -> dict[str, str]:
    """Create or update the shared environment; returns the env for session.run."""
    if not (BIN / "python").exists():
        session.log(f"creating the shared environment in {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    deps_stamp = VENV / "openlab-deps.sha256"
    deps = _digest([], extra="\n".join(TORCH + TOOLS))
    if not deps_stamp.exists() or deps_stamp.read_text() != deps:
        session.log("installing torch, torchvision and the tools (first run only)")
        _pip(session, "--upgrade", "pip")
        _pip(session, *TORCH, *TOOLS)
        deps_stamp.write_text(deps)
    pkg_stamp = VENV / "openlab-packages.sha256"
    pkgs = _digest(_package_sources())
    if force_packages or not pkg_stamp.exists() or pkg_stamp.read_text() != pkgs:
        session.log("installing the OpenLab distributions (editable) and building labcore._C")
        editable = [arg for d in DISTRIBUTIONS for arg in ("-e", str(ROOT / d))]
        session.run(
            PYTHON,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "--no-build-isolation",
            *editable,
            external=True,
            env=_cuda_env(),
        )
        pkg_stamp.write_text(pkgs)
    return {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(VENV)}


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite. Extra arguments go to pytest: nox -s tests -- -k resume"""
    env = shared_env(session)
    args = session.posargs or ["-n", "2", "--durations=15"]
    session.run(PYTHON, "-m", "pytest", *args, external=True, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    env = shared_env(session)
    session.run(str(BIN / "ruff"), "check", ".", external=True, env=env)
    session.run(str(BIN / "ruff"), "format", "--check", ".", external=True, env=env)


@nox.session
def ops(session: nox.Session) -> None:
    """Rebuild the compiled ops (labcore._C) and print how they were built.

    CUDA kernels compile when nvcc is found (CUDA_HOME), also without a GPU;
    OPENLAB_WITH_CUDA=0/1 forces CPU-only or CUDA, TORCH_CUDA_ARCH_LIST picks the GPU
    architectures (default 8.0;9.0), MAX_JOBS the parallel compile jobs.
    """
    start = time.monotonic()
    env = shared_env(session, force_packages=True)
    session.log(f"installed and built labcore._C in {time.monotonic() - start:.0f} s")
    show = "import pprint, labcore.ops as o; pprint.pprint(o.build_info(), sort_dicts=False)"
    session.run(PYTHON, "-c", show, external=True, env=env)


@nox.session(name="bench-ops")
def bench_ops(session: nox.Session) -> None:
    """Time the compiled ops against their plain references and print the ratios.

    nox -s bench-ops -- [--device cuda] [--repeats N] [--quick]
    """
    env = shared_env(session)
    session.run(PYTHON, "-m", "labcore.ops.bench", *session.posargs, external=True, env=env)


@nox.session(name="bench-engine")
def bench_engine(session: nox.Session) -> None:
    """Training through the engine (``lab train``) against a bare torch loop: it/s ratio
    and time to the first iteration, for a classification and a detection tiny config.

    nox -s bench-engine -- [--iters 80] [--warmup 10] [--threads 1] [--config NAME ...]
    """
    env = shared_env(session)
    session.run(PYTHON, "-m", "labcore.engine.bench", *session.posargs, external=True, env=env)


@nox.session(name="bench-det")
def bench_det(session: nox.Session) -> None:
    """Time labdet's RetinaNet and Faster R-CNN R50-FPN against torchvision's on one batch.

    nox -s bench-det -- [--device cuda] [--size 512] [--batch 2] [--repeats 5] [--quick]
    """
    env = shared_env(session)
    session.run(PYTHON, "-m", "labdet.bench", *session.posargs, external=True, env=env)


@nox.session(name="bench-seg")
def bench_seg(session: nox.Session) -> None:
    """Time labseg's DeepLabV3 R-50 against torchvision's deeplabv3_resnet50 on one batch:
    training step, whole and slide inference, peak memory.

    nox -s bench-seg -- [--device cuda] [--size 96] [--batch 2] [--repeats 3] [--threads 1] [--quick]
    """
    env = shared_env(session)
    session.run(PYTHON, "-m", "labseg.bench", *session.posargs, external=True, env=env)


@nox.session(name="bench-pose")
def bench_pose(session: nox.Session) -> None:
    """Time labpose's SimpleBaseline R-50 against the same network in plain torch on
    torchvision's ResNet-50 (training step, inference with and without flip test, peak
    memory), and HRNet-W32 on its own.

    nox -s bench-pose -- [--device cuda] [--batch 2] [--repeats 3] [--threads 1] [--no-hrnet] [--quick]
    """
    env = shared_env(session)
    session.run(PYTHON, "-m", "labpose.bench", *session.posargs, external=True, env=env)


@nox.session
def benchmark(session: nox.Session) -> None:
    """The main job: train every registered config under its protocol(s).

    nox -s benchmark -- --list | --dry-run | --only PATTERN | --report | --publish DEST
    """
    env = shared_env(session)
    session.run(str(BIN / "labbench"), *session.posargs, external=True, env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: regenerate docs/model_zoo.md and model_zoo/schema.json from
    the manifests, build the site (Sphinx, MyST pages, the API reference from the
    docstrings) with warnings as errors, and check its internal links.

    nox -s docs                 # build into docs/_build/html
    nox -s docs -- --check      # only fail when the generated pages are stale
    """
    env = shared_env(session)
    lab = str(BIN / "lab")
    if "--check" in session.posargs:
        session.run(lab, "zoo", "docs", "--check", external=True, env=env)
        return
    session.run(lab, "zoo", "schema", external=True, env=env)
    session.run(lab, "zoo", "docs", external=True, env=env)
    html = ROOT / "docs" / "_build" / "html"
    sphinx = [PYTHON, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    session.run(*sphinx, str(ROOT / "docs"), str(html), external=True, env=env)
    session.run(PYTHON, str(ROOT / "ci" / "check_links.py"), str(html), external=True, env=env)


@nox.session
def zoo(session: nox.Session) -> None:
    """The model zoo: nox -s zoo -- list | show NAME | download NAME | verify | publish ...

    nox -s zoo -- generate      # rewrite model_zoo/imported-*.yml from the installed
                                # torchvision, then docs/model_zoo.md
    """
    env = shared_env(session)
    if session.posargs[:1] == ["generate"]:
        generator = str(ROOT / "model_zoo" / "generate_imported.py")
        session.run(PYTHON, generator, *session.posargs[1:], external=True, env=env)
        session.run(str(BIN / "lab"), "zoo", "schema", external=True, env=env)
        session.run(str(BIN / "lab"), "zoo", "docs", external=True, env=env)
        return
    session.run(str(BIN / "lab"), "zoo", *(session.posargs or ["list"]), external=True, env=env)
