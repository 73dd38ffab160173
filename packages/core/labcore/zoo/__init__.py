"""The OpenLab model zoo: manifests of published weights, publishing, and the client.

    from labcore import zoo
    zoo.load("resnet18_tiny_shapes")                  # state dict, downloaded and verified
    zoo.init_model("resnet18_tiny_shapes")            # model from its config, weights loaded
    zoo.publish_runs([zoo.ZooRun(...)], "https://example.org/zoo")

Configs may name zoo weights as ``checkpoint='zoo://NAME'`` (see :mod:`labcore.zoo.scheme`).
Names are imported lazily, so importing labcore (which registers ``zoo://``) stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ZooEntry": "labcore.zoo.manifest",
    "Manifest": "labcore.zoo.manifest",
    "all_entries": "labcore.zoo.manifest",
    "find_entry": "labcore.zoo.manifest",
    "read_manifest": "labcore.zoo.manifest",
    "write_entries": "labcore.zoo.manifest",
    "json_schema": "labcore.zoo.manifest",
    "cache_path": "labcore.zoo.client",
    "download": "labcore.zoo.client",
    "converted_file": "labcore.zoo.client",
    "ImportedEntry": "labcore.zoo.manifest",
    "verify_file": "labcore.zoo.client",
    "load": "labcore.zoo.client",
    "init_model": "labcore.zoo.client",
    "fetch": "labcore.zoo.download",
    "checkpoint_file": "labcore.zoo.sources",
    "sha256_file": "labcore.zoo.download",
    "ZooRun": "labcore.zoo.publish",
    "publish_runs": "labcore.zoo.publish",
    "publish_checkpoint": "labcore.zoo.publish",
    "ZooError": "labcore.zoo.errors",
    "DownloadError": "labcore.zoo.errors",
    "ChecksumError": "labcore.zoo.errors",
    "PublishError": "labcore.zoo.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'labcore.zoo' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__
