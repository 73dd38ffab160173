"""Weights files: safetensors in and out, training checkpoints read without unrestricted
unpickling, and state dicts of other projects converted to OpenLab's key layout.

The zoo publishes model weights only, as safetensors (no optimizer state, no pickle).
Training checkpoints (``.pth``) are read by :func:`labcore.engine.checkpoint.read_checkpoint`
(``weights_only=True`` and the engine's small allowlist); a checkpoint that needs
anything else is refused, with the name of the class it asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from labcore.errors import CheckpointError


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
        from labcore.engine.checkpoint import read_checkpoint

        return read_checkpoint(path).state_dict
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


def run_converter(
    state_dict: dict[str, torch.Tensor], converter: str, arguments: Mapping[str, str]
) -> dict[str, torch.Tensor]:
    """Apply ``converter`` (``module:function``, e.g.
    ``labcore.models.convert:convert_torchvision_classifier``) to ``state_dict``, as
    ``function(state_dict, **arguments)``."""
    import importlib

    module_name, _, function_name = converter.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as err:
        raise CheckpointError(
            f"the converter {converter} cannot be imported ({err}); install the codebase "
            f"that provides it (pip install -e packages/...)"
        ) from None
    return function(state_dict, **arguments)
