"""labcore: OpenLab's common engine package, on top of MMEngine.

Importing labcore makes sure that the fixes MMEngine 0.10.7 needs on today's torch,
MLflow and setuptools (:mod:`labcore.engine.compat`) and the ``zoo://`` checkpoint
scheme are in place before any code uses MMEngine: at once when MMEngine is already
imported, else as soon as the import that first loads MMEngine has finished (the
outermost labcore module being imported then, or MMEngine itself). ``import labcore``
alone loads neither torch nor MMEngine, which keeps ``lab --help`` short and lets
``lab train --reproducible`` set its CPU pins before torch is loaded.
"""

__version__ = "0.1.0"

import importlib.abc
import sys


def _apply_fixes() -> None:
    from labcore.engine import compat
    from labcore.zoo import scheme

    compat.apply()
    scheme.register()


class _FixesOnFirstUse(importlib.abc.MetaPathFinder):
    """Applies :func:`_apply_fixes` once MMEngine is imported and no labcore module is
    in the middle of being imported (the fixes import labcore modules themselves, so
    applying them earlier would import a half-initialised module). Removes itself then."""

    def __init__(self) -> None:
        self.depth = 0  # labcore modules (and mmengine) being executed right now
        self.pending = False  # mmengine is imported, the fixes are not applied yet
        self.done = False

    def find_spec(self, name, path=None, target=None):
        if self.done or not (name == "mmengine" or name.startswith("labcore.")):
            return None
        spec = self._find_elsewhere(name, path, target)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CountingLoader(spec.loader, self)
        return spec

    def _find_elsewhere(self, name, path, target):
        """The spec the other finders give (path entries, editable installs, ...)."""
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    return spec
        return None

    def finished(self, name: str) -> None:
        self.pending = self.pending or name == "mmengine"
        if self.pending and self.depth == 0 and not self.done:
            self.done = True
            sys.meta_path.remove(self)
            _apply_fixes()


class _CountingLoader(importlib.abc.Loader):
    def __init__(self, loader, finder: _FixesOnFirstUse) -> None:
        self.loader = loader
        self.finder = finder

    def __getattr__(self, name):  # get_code, get_source, ...: the wrapped loader's (runpy)
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader
        self.finder.depth += 1
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.depth -= 1
        self.finder.finished(module.__name__)


if "mmengine" in sys.modules:
    _apply_fixes()
elif not any(isinstance(f, _FixesOnFirstUse) for f in sys.meta_path):
    sys.meta_path.insert(0, _FixesOnFirstUse())
