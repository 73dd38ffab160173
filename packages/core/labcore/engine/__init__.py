"""OpenLab's engine: config loading, MMEngine fixes, shared hooks and the runner
factory. Importing it registers the hooks and the MLflow backend."""

from labcore.engine import hooks, mlflow_backend, optimizers  # noqa: F401  (registration)
from labcore.engine.config import load_config, resolve_config_path
from labcore.engine.hooks import NonFiniteLossHook, RNGStateHook
from labcore.engine.mlflow_backend import LabMLflowVisBackend
from labcore.engine.optimizers import LARS
from labcore.engine.training import build_runner

__all__ = [
    "LARS",
    "LabMLflowVisBackend",
    "NonFiniteLossHook",
    "RNGStateHook",
    "build_runner",
    "load_config",
    "resolve_config_path",
]
