"""Fixes for MMEngine 0.10.7 on torch >= 2.6, MLflow 3 and setuptools without
pkg_resources. Applied once, when labcore is imported."""


def apply() -> None:
    """Apply every fix; calling it again does nothing."""
