"""Shared datasets, transforms and synthetic data generators."""

from labcore.datasets import transforms  # noqa: F401  (registers the shared transforms)
