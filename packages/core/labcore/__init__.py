"""labcore: OpenLab's common engine package, on top of MMEngine.

Importing labcore applies the fixes that MMEngine 0.10.7 needs on today's torch,
MLflow and setuptools (see :mod:`labcore.engine.compat`).
"""

__version__ = "0.1.0"

from labcore.engine import compat as _compat  # noqa: E402

_compat.apply()

from labcore.zoo import scheme as _zoo_scheme  # noqa: E402,F401  (registers zoo:// with MMEngine)
