"""Loading checkpoints with ``torch.load(weights_only=True)`` and an allowlist.

Since torch 2.6, ``torch.load`` only unpickles tensors and plain containers unless more
classes are allowed. MMEngine's own checkpoints also hold its message hub (HistoryBuffer
objects with numpy arrays), numpy scalars and dtypes; those few classes are allowed
here, so checkpoints load again without ever unpickling arbitrary objects. Files from
the internet are loaded the same restricted way.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Callable

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from labcore.errors import CheckpointError


def _numpy_globals() -> list:
    """numpy arrays, scalars and dtypes, under the module names of numpy 1 and 2."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed: list = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed.append((multiarray._reconstruct, f"{module}._reconstruct"))
        allowed.append((multiarray.scalar, f"{module}.scalar"))
    allowed.extend(dict.fromkeys(type(np.dtype(t)) for t in np.sctypeDict.values()))
    return allowed


def history_buffer_getattr(owner, name: str):
    """The only ``getattr`` a checkpoint may call: MMEngine's HistoryBuffer pickles its
    statistics methods as ``getattr(HistoryBuffer, "mean")``; any other use is refused."""
    statistics = {"min", "max", "current", "mean", *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in statistics and callable(getattr(owner, name, None)):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f"checkpoint calls getattr({owner!r}, {name!r}); only HistoryBuffer statistics "
        f"methods are allowed"
    )


def checkpoint_safe_globals() -> list:
    """The classes and functions besides tensors that OpenLab checkpoints may hold."""
    return [HistoryBuffer, (history_buffer_getattr, "builtins.getattr"), *_numpy_globals()]


def load_checkpoint_file(source, map_location=None, *, name: str | None = None):
    """``torch.load(source, weights_only=True)`` with :func:`checkpoint_safe_globals`.

    Args:
        source: a path or a binary file object.
        map_location: as for ``torch.load``.
        name: how to name the source in errors (defaults to ``source``).

    Raises:
        CheckpointError: the file is missing, not a torch checkpoint, corrupt, or holds
            objects outside the allowlist; the message names the file.
    """
    name = name or str(source)
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise CheckpointError(
            f"Checkpoint '{name}' does not exist. Check the path, or list the checkpoints "
            f"of a run in its work dir (epoch_N.pth, iter_N.pth, last_checkpoint)."
        )
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _refused_global(err)
        if refused is None:
            raise _corrupt(name, err) from err
        raise CheckpointError(
            f"Checkpoint '{name}' holds objects that are not allowed to be unpickled "
            f"({refused}). OpenLab loads only tensors, containers and its own training "
            f"state; re-save the weights as a plain state dict "
            f"(torch.save(model.state_dict(), path)) or as safetensors."
        ) from err
    except Exception as err:  # a damaged file fails anywhere inside the unpickler
        raise _corrupt(name, err) from err


def _refused_global(err: pickle.UnpicklingError) -> str | None:
    """The global that the weights-only unpickler refused, or None when the file is
    damaged instead (bad opcodes, truncated data)."""
    # torch words it "Unsupported global: GLOBAL a.b was not an allowed global" or
    # "Trying to load unsupported GLOBAL a.b whose module a is blocked"
    match = re.search(
        r"unsupported global:?\s*(?:GLOBAL\s+)?([\w.]+)", str(err), flags=re.IGNORECASE
    )
    if match:
        return f"global {match.group(1)}"
    for line in str(err).splitlines():
        if "only HistoryBuffer statistics methods" in line:
            return line.strip()
    return None


def _corrupt(name: str, err: BaseException) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint '{name}' is not a readable torch checkpoint: it is corrupt, truncated "
        f"or another kind of file ({_unpickler_reason(err)}). "
        f"Download or copy it again, or pick an earlier checkpoint of the run."
    )


def _unpickler_reason(err: BaseException) -> str:
    """The cause in ``err``'s message, without torch's advice to load unrestricted
    (which OpenLab never does)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if "WeightsUnpickler error" in str(err):  # the cause is the line after that marker
        marker = next(i for i, line in enumerate(lines) if "WeightsUnpickler error" in line)
        lines = lines[marker + 1 :] or lines
    return f"{type(err).__name__}: {(lines or [''])[0][:200]}"


def load_from_local(filename: str, map_location=None):
    """MMEngine's local-file checkpoint loader, restricted by the allowlist."""
    return load_checkpoint_file(os.path.expanduser(filename), map_location)


def load_from_http(filename: str, map_location=None, model_dir: str | None = None, progress=False):
    """MMEngine's http(s) checkpoint loader: download once into torch's hub cache (local
    rank 0 first), then load restricted by the allowlist, never unrestricted."""
    from mmengine.dist import get_dist_info

    rank, world_size = get_dist_info()

    def download():
        return torch.hub.load_state_dict_from_url(
            filename,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=True,
        )

    checkpoint = None
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        try:
            if rank == 0:
                checkpoint = download()
            if world_size > 1:
                torch.distributed.barrier()
                if rank > 0:
                    checkpoint = download()
        except pickle.UnpicklingError as err:
            if _refused_global(err) is None:
                raise _corrupt(filename, err) from err
            raise CheckpointError(
                f"Checkpoint '{filename}' holds objects that are not allowed to be unpickled; "
                f"downloaded files are only loaded as weights. Ask its publisher for a plain "
                f"state dict or a safetensors file."
            ) from err
        except (RuntimeError, EOFError, zipfile.BadZipFile, IndexError, KeyError) as err:
            raise _corrupt(filename, err) from err
    return checkpoint


LOADERS: dict[str, Callable] = {
    "": load_from_local,
    "http://": load_from_http,
    "https://": load_from_http,
}
