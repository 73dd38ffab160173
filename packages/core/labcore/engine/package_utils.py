"""``mmengine.utils.package_utils`` on importlib instead of the removed pkg_resources.

MMEngine 0.10.7 imports ``pkg_resources`` in ``is_installed``, ``get_installed_path``
and ``package2module``; setuptools no longer ships it, so these fail with
ModuleNotFoundError (config ``pkg::`` names and ``mmengine.hub`` rely on them).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os.path as osp


def _distribution(package: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_installed(package: str) -> bool:
    """Whether ``package`` is an installed distribution or an importable module."""
    if _distribution(package) is not None:
        return True
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The top-level import name of the distribution ``package`` (``mmcv-full`` -> ``mmcv``).

    Raises:
        ValueError: the distribution is not installed or its top-level module cannot
            be told from its metadata.
    """
    dist = _distribution(package)
    if dist is None:
        raise ValueError(f"can not infer the module name of {package}: it is not installed")
    top_level = dist.read_text("top_level.txt")
    if top_level and top_level.split():
        return top_level.split()[0]
    for module, dists in importlib.metadata.packages_distributions().items():
        if dist.metadata["Name"] in dists:
            return module
    raise ValueError(f"can not infer the module name of {package}")


def get_installed_path(package: str) -> str:
    """The folder of the importable package that the distribution or module ``package``
    provides (``get_installed_path('mmengine')`` -> ``.../site-packages/mmengine``).

    Raises:
        importlib.metadata.PackageNotFoundError: nothing of that name is installed.
        RuntimeError: ``package`` is a namespace package, which has no single folder.
    """
    for module in _module_candidates(package):
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        if spec.origin is None:
            raise RuntimeError(
                f"{package} is a namespace package, which is invalid for `get_install_path`"
            )
        return osp.dirname(spec.origin)
    raise importlib.metadata.PackageNotFoundError(package)


def _module_candidates(package: str) -> list[str]:
    candidates = [package]
    if _distribution(package) is not None:
        with contextlib.suppress(ValueError):
            candidates.append(package2module(package))
    candidates.append(package.replace("-", "_"))
    return list(dict.fromkeys(candidates))
