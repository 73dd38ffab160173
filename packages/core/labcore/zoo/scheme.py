"""``zoo://NAME`` checkpoints for MMEngine: ``init_cfg=dict(type='Pretrained',
checkpoint='zoo://NAME')``, ``load_from='zoo://NAME'`` and ``load_checkpoint(model,
'zoo://NAME')`` resolve NAME through the zoo manifests, download (or reuse the cache),
verify and load the safetensors weights. Registered when labcore is imported.
"""

from __future__ import annotations

import torch
from mmengine.runner.checkpoint import CheckpointLoader

PREFIX = "zoo://"


def load_from_zoo(filename: str, map_location=None) -> dict:
    """MMEngine checkpoint loader for ``zoo://NAME``: ``{'state_dict': <NAME's weights>}``,
    the shape of a training checkpoint, which hooks that read ``checkpoint['state_dict']``
    after loading (EMAHook) expect."""
    from labcore.zoo.client import load

    name = filename[len(PREFIX) :].strip("/")
    device = map_location if isinstance(map_location, str | torch.device) else "cpu"
    return {"state_dict": load(name, map_location=device), "meta": {"zoo_name": name}}


def register() -> None:
    """Register the loader with MMEngine's CheckpointLoader (idempotent)."""
    CheckpointLoader.register_scheme(prefixes=PREFIX, loader=load_from_zoo, force=True)


register()
