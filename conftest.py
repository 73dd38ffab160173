"""Fixtures shared by the tests of every OpenLab package.

- ``shapes_cls``, ``shapes_det``, ``shapes_seg``, ``shapes_pose``: roots of small
  synthetic data sets (see :mod:`labcore.datasets.synthetic`), generated once per test
  run and shared by pytest-xdist workers through a file lock.
- ``shapes_data_root``: the folder they live in; call
  ``ensure_shapes(task, shapes_data_root, ...)`` there for other sizes.
- ``$OPENLAB_DATA`` points at that folder during the run (unless already set), so data
  sets that configs generate on first use stay out of the user's cache.
- ``$OPENLAB_HOME`` (the model zoo's cache) points into the test run's folder.
- ``tiny_zoo``: a local model zoo holding ``resnet18_tiny_shapes``, trained by the
  benchmark harness under its protocol (one seed), for the tiny detection configs whose
  backbones start from ``zoo://resnet18_tiny_shapes``.
- torch uses one thread per xdist worker (two without xdist), so parallel test workers
  do not oversubscribe the cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHAPES_TEST_SIZES = {
    "cls": {"num_train": 200, "num_val": 40, "image_size": 32},
    "det": {"num_train": 64, "num_val": 16, "image_size": 128},
    "seg": {"num_train": 32, "num_val": 8, "image_size": 128},
    "pose": {"num_train": 32, "num_val": 8, "image_size": 128},
}


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
    yield


@pytest.fixture
def one_thread():
    """Convolutions this small run fastest on one thread; more threads only contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shapes_data_root(tmp_path_factory) -> Path:
    """A folder for generated data, shared by all xdist workers of this test run."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above the per-worker ones
    root = base / "openlab-data"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session", autouse=True)
def _openlab_data_env(shapes_data_root):
    if os.environ.get("OPENLAB_DATA"):
        yield
        return
    os.environ["OPENLAB_DATA"] = str(shapes_data_root)
    try:
        yield
    finally:
        os.environ.pop("OPENLAB_DATA", None)


@pytest.fixture(scope="session")
def _mmengine_scopes_at_start():
    from mmengine.registry import DefaultScope

    return DefaultScope._instance_dict.copy()


@pytest.fixture(autouse=True)
def _mlflow_tracking_uri_restored():
    """Every test ends with MLflow's tracking URI as it began: ``mlflow.set_tracking_uri``
    (which MMEngine's own backend and MLflow's fluent API call) sets it process-wide and
    exports ``MLFLOW_TRACKING_URI``, which OpenLab reads as the user's store."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if "mlflow" in sys.modules:
        from mlflow.tracking._tracking_service import utils

        utils._tracking_uri = None  # MLflow's module-level setting, unset by default
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def _mmengine_default_scope(_mmengine_scopes_at_start):
    """Every test ends with MMEngine's default scope as the session began. A Runner (or
    ``init_default_scope``) sets a process-wide scope that later ``Registry.build`` calls
    switch to, so without this a test's outcome would depend on which tests ran before
    it in the same worker."""
    from mmengine.registry import DefaultScope

    yield
    DefaultScope._instance_dict = _mmengine_scopes_at_start.copy()


@pytest.fixture(scope="session", autouse=True)
def _openlab_home_env(shapes_data_root):
    """The zoo cache of the test run, never the user's (tests may override it)."""
    previous = os.environ.get("OPENLAB_HOME")
    os.environ["OPENLAB_HOME"] = str(shapes_data_root.parent / "openlab-home")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OPENLAB_HOME", None)
        else:
            os.environ["OPENLAB_HOME"] = previous


@pytest.fixture(scope="session")
def _tiny_zoo_folder(shapes_data_root) -> Path:
    """The local zoo of :func:`tiny_zoo`, made once per test run (xdist workers share it
    through a file lock)."""
    from filelock import FileLock

    work = shapes_data_root.parent / "tiny-zoo-sweep"
    with FileLock(str(shapes_data_root.parent / ".tiny-zoo.lock")):
        if not (work / "zoo" / "labcls.yml").is_file():
            # in its own process: the sweep sets process-wide state (MLflow, MMEngine)
            done = subprocess.run(
                [sys.executable, "-m", "labbench.cli", "--protocol", "cls-shapes-tiny",
                 "--only", "resnet18_tiny_shapes", "--seeds", "0", "--workers", "1",
                 "--work-dir", str(work)],
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert done.returncode == 0, (
                f"labbench could not make the tiny zoo:\n{done.stdout[-3000:]}"
            )
    return work / "zoo"


@pytest.fixture
def tiny_zoo(_tiny_zoo_folder, monkeypatch) -> Path:
    """A local zoo with ``resnet18_tiny_shapes`` (protocol cls-shapes-tiny, seed 0) made by
    ``labbench``, added to ``$OPENLAB_ZOO_MANIFESTS`` for the test."""
    from labcore.zoo.settings import zoo_manifests_with

    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", zoo_manifests_with(_tiny_zoo_folder))
    return _tiny_zoo_folder


def _shapes(task: str, root: Path) -> Path:
    from labcore.datasets.synthetic import ensure_shapes

    return ensure_shapes(task, root, seed=0, **SHAPES_TEST_SIZES[task])


@pytest.fixture(scope="session")
def shapes_cls(shapes_data_root) -> Path:
    """Root of a small 'cls' shapes set: 200 train / 40 val images of 32x32."""
    return _shapes("cls", shapes_data_root)


@pytest.fixture(scope="session")
def shapes_det(shapes_data_root) -> Path:
    """Root of a small 'det' shapes set (COCO): 64 train / 16 val images of 128x128."""
    return _shapes("det", shapes_data_root)


@pytest.fixture(scope="session")
def shapes_seg(shapes_data_root) -> Path:
    """Root of a small 'seg' shapes set (PNG label maps): 32 train / 8 val of 128x128."""
    return _shapes("seg", shapes_data_root)


@pytest.fixture(scope="session")
def shapes_pose(shapes_data_root) -> Path:
    """Root of a small 'pose' shapes set (COCO keypoints): 32 train / 8 val of 128x128."""
    return _shapes("pose", shapes_data_root)
