"""Weights files: safetensors in and out, training checkpoints read without unrestricted
unpickling, and state dicts of other projects converted to OpenLab's key layout.

The zoo publishes model weights only, as safetensors (no optimizer state, no pickle).
Training checkpoints (``.pth``) are read with ``torch.load(weights_only=True)`` and the
engine's small allowlist of what MMEngine checkpoints hold (numpy arrays and scalars,
MMEngine's HistoryBuffer); a checkpoint that needs anything else is refused, with the
name of the class it asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from labcore.errors import CheckpointError


def load_training_checkpoint(path: str | Path, map_location: str = "cpu") -> dict:
    """Read a ``.pth`` checkpoint with ``weights_only=True`` and the engine's allowlist
    (:func:`labcore.engine.checkpoint.load_checkpoint_file`).

    Raises:
        CheckpointError: the file is missing, corrupt, holds a class that is not allowed
            (the message names it), or is not a dict.
    """
    from labcore.engine.checkpoint import load_checkpoint_file

    checkpoint = load_checkpoint_file(str(path), map_location)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(checkpoint).__name__}, not a dict of weights"
        )
    return dict(checkpoint)


def model_weights(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The model weights of a training checkpoint, EMA weights when present.

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
            f"the checkpoint holds no tensors (top-level keys: {sorted(checkpoint)[:10]}); "
            f"expected a state dict or a dict with 'state_dict'"
        )
    return weights


def save_safetensors(
    state_dict: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None
) -> Path:
    """Write ``state_dict`` as safetensors (tensors copied to contiguous CPU memory, so
    tied weights become separate entries). The same weights and metadata always give the
    same bytes, hence the same sha256 in the zoo."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    save_file(tensors, str(path), metadata=dict(metadata or {}))
    _sort_header(path)
    return path


def _sort_header(path: Path) -> None:
    """Rewrite the JSON header of a safetensors file with sorted keys. safetensors writes
    the metadata in hash-map order, which changes from one save to the next; the tensor
    entries carry their own offsets, so their order in the header is free."""
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + length :])


def load_safetensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(
            f"{path} is not a valid safetensors file ({err}); delete it and download it again"
        ) from None


def load_weights_file(path: str | Path, file_format: str) -> dict[str, torch.Tensor]:
    """Read a zoo weights file of ``file_format`` 'safetensors' or 'pth'."""
    if file_format == "safetensors":
        return load_safetensors(path)
    if file_format == "pth":
        return model_weights(load_training_checkpoint(path))
    raise CheckpointError(f"unknown weights format '{file_format}'; use safetensors or pth")


def convert_layout(
    state_dict: dict[str, torch.Tensor], layout: str, family: str | None
) -> dict[str, torch.Tensor]:
    """Rename the keys of another project's state dict to OpenLab's layout.

    ``layout`` is ``openlab`` (returned unchanged), ``torchvision`` or ``openmmlab``;
    ``family`` names the architecture family the converter handles (``resnet``, ...).
    The converters live in :mod:`labcore.models.convert`.
    """
    if layout == "openlab":
        return state_dict
    from labcore.models.convert import convert_classifier

    return convert_classifier(state_dict, source=layout, family=family)
