"""Reading checkpoints and loading weights: the one home for both in OpenLab.

- :func:`read_checkpoint` reads a checkpoint from any source: a path (``.pth`` from
  training, a bare state dict, or ``.safetensors``), an http(s) URL, ``zoo://NAME``, and
  the other schemes MMEngine's ``CheckpointLoader`` knows. It returns a
  :class:`Checkpoint`: the model weights (EMA weights where the file holds them) and the
  training metadata.
- :func:`load_state_dict` puts weights into a model with one strictness rule: shapes
  that differ always raise; with ``strict`` (the default) missing and unexpected keys
  raise too, named; otherwise they are named in a warning. A ``module.`` prefix (DDP)
  is removed first; :func:`strip_prefix` takes a sub-module's part (``backbone.``).
- :func:`load_checkpoint_file` is the ``torch.load`` underneath: since torch 2.6
  ``torch.load`` only unpickles tensors and plain containers unless more classes are
  allowed. MMEngine's own checkpoints also hold its message hub (HistoryBuffer objects
  with numpy arrays), numpy scalars and dtypes; those few classes are allowed here, so
  checkpoints load without ever unpickling arbitrary objects. Files from the internet
  are loaded the same restricted way. A refused file always names what was refused.

Codebases, the zoo and the ``lab`` commands read checkpoints only through this module.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from torch import nn

from labcore.errors import CheckpointError

#: how many key names an error lists before it says how many more there are
_NAMED_KEYS = 20


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
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".safetensors"):
        return _load_safetensors(os.fspath(source), name, map_location)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()), warnings.catch_warnings():
            # torch warns before it fails on a plain pickle; the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _refused_global(err) or _plain_pickle_globals(source)
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


def _plain_pickle_globals(source) -> str | None:
    """What a plain Python pickle (``pickle.dump``, not ``torch.save``) would import, read
    from its opcodes without running it; None when ``source`` is not such a pickle.

    torch's restricted unpickler stops at the first opcode of pickle protocol 4 and newer
    (``Unsupported operand 149``, the FRAME opcode) without saying what the file holds.
    """
    if not isinstance(source, (str, os.PathLike)):
        return None
    try:
        with open(source, "rb") as f:
            data = f.read(64 * 1024 * 1024)
    except OSError:
        return None
    if len(data) < 2 or data[0] != 0x80 or data[1] > pickle.HIGHEST_PROTOCOL:
        return None
    names: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif opcode.name == "GLOBAL":
                names.append(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif opcode.name == "STOP":
                break
    except Exception:  # a damaged pickle: name what was read before the damage
        pass
    protocol = f"a plain Python pickle (protocol {data[1]}), not a torch checkpoint"
    if names:
        listed = ", ".join(dict.fromkeys(names))
        return f"{protocol}, that imports {listed}"
    return protocol


def _load_safetensors(path: str, name: str, map_location) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    device = map_location if isinstance(map_location, str | torch.device) else "cpu"
    try:
        return load_file(path, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"Checkpoint '{name}' is not a readable safetensors file ({err}). Download or "
            f"copy it again."
        ) from err


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
            refused = _refused_global(err)
            if refused is None:
                raise _corrupt(filename, err) from err
            raise CheckpointError(
                f"Checkpoint '{filename}' holds objects that are not allowed to be unpickled "
                f"({refused}); downloaded files are only loaded as weights. Ask its publisher "
                f"for a plain state dict or a safetensors file."
            ) from err
        except (RuntimeError, EOFError, zipfile.BadZipFile, IndexError, KeyError) as err:
            raise _corrupt(filename, err) from err
    return checkpoint


LOADERS: dict[str, Callable] = {
    "": load_from_local,
    "http://": load_from_http,
    "https://": load_from_http,
}


@dataclass
class Checkpoint:
    """What :func:`read_checkpoint` read.

    Attributes:
        state_dict: the model weights, ``{key: Tensor}`` (EMA weights where present).
        meta: MMEngine's ``meta`` of a training checkpoint (``dataset_meta``, ``epoch``,
            ...); ``{}`` for bare state dicts and safetensors files.
        source: the path, URL or zoo name it was read from, for messages.
    """

    state_dict: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)
    source: str = ""


def read_checkpoint(source: str | os.PathLike, map_location="cpu") -> Checkpoint:
    """Read a checkpoint from any source and return its model weights and metadata.

    Args:
        source: a path (``.pth``/``.pt``/``.bin`` torch file or ``.safetensors``), an
            http(s) URL, ``zoo://NAME``, or another scheme of MMEngine's
            ``CheckpointLoader`` (``torchvision://``, ``open-mmlab://``).
        map_location: as for ``torch.load``.

    Raises:
        CheckpointError: the file is missing, unreadable, holds objects outside the
            allowlist, or holds no tensors; the message names the source.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    name = os.fspath(source)
    if "://" not in name:
        name = os.path.expanduser(name)
    content = CheckpointLoader.load_checkpoint(name, map_location=map_location, logger="silent")
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"Checkpoint '{name}' holds a {type(content).__name__}, not a dict of weights; "
            f"save a state dict (torch.save(model.state_dict(), path)) or safetensors."
        )
    meta = content.get("meta")
    return Checkpoint(
        state_dict=model_weights(content, source=name),
        meta=dict(meta) if isinstance(meta, Mapping) else {},
        source=name,
    )


def model_weights(checkpoint: Mapping, source: str = "the checkpoint") -> dict[str, torch.Tensor]:
    """The model weights in a checkpoint's content, EMA weights when present.

    MMEngine's EMAHook saves the averaged weights under ``state_dict`` (and the raw
    ones under ``ema_state_dict`` with a ``module.`` prefix), so ``state_dict`` is the
    EMA model there; timm-style ``state_dict_ema`` is preferred when present. A mapping
    of tensors is taken as a state dict itself.
    """
    for key in ("state_dict_ema", "state_dict", "model", "module"):
        value = checkpoint.get(key)
        if isinstance(value, Mapping) and value:
            checkpoint = value
            break
    weights = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if not weights:
        raise CheckpointError(
            f"{source} holds no tensors (top-level keys: {sorted(checkpoint)[:10]}); "
            f"expected a state dict or a dict with 'state_dict'."
        )
    return weights


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries whose key starts with ``prefix`` (e.g. ``'backbone.'``), prefix removed."""
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def load_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    strict: bool = True,
    source: str | None = None,
) -> tuple[list[str], list[str]]:
    """Load ``state_dict`` into ``model`` with OpenLab's one strictness rule.

    A ``module.`` prefix (from DDP) is removed first. Tensors whose shape differs from
    the model's always raise. With ``strict``, missing and unexpected keys raise; without,
    they are named in a warning and the rest is loaded.

    Returns:
        (missing keys, unexpected keys).

    Raises:
        CheckpointError: naming the source, the model, and every key that does not fit
            (the first 20 of each kind, and how many more).
    """
    from mmengine.logging import print_log

    source = source or "the checkpoint"
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    own = model.state_dict()
    wrong_shape = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state_dict.items()
        if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)
    ]
    if wrong_shape:
        raise CheckpointError(
            f"{source} does not fit {type(model).__name__}: tensors of different shapes: "
            f"{_listed(wrong_shape)}. Check that the config matches the checkpoint "
            f"(e.g. num_classes, depth, widths)."
        )
    result = model.load_state_dict(state_dict, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {_listed(unexpected)}")
        message = f"{source} does not match {type(model).__name__}: {'; '.join(parts)}."
        if strict:
            raise CheckpointError(f"{message} {_mismatch_hint(unexpected)}")
        print_log(f"{message} Loaded the rest (strict=False).", logger="current", level=30)
    return missing, unexpected


def _listed(names: list[str]) -> str:
    more = len(names) - _NAMED_KEYS
    return ", ".join(names[:_NAMED_KEYS]) + (f" ... and {more} more" if more > 0 else "")


def _mismatch_hint(unexpected: list[str]) -> str:
    if any(k.startswith(("fc.", "classifier.", "heads.")) for k in unexpected):
        return (
            "The checkpoint holds another project's classifier: convert it with `lab convert` "
            "(labcore.models.convert.convert_classifier) and load the 'backbone.' part "
            "(strip_prefix)."
        )
    return (
        "Use the config the checkpoint was trained with, or allow a partial load on purpose "
        "(`lab test --allow-partial`, strict=False)."
    )
