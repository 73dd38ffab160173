"""The generated imported-weights manifests (``model_zoo/imported-*.yml``): current with
the installed torchvision, every entry's config builds the model it loads into (on the
meta device: no memory, no initialisation) with the published parameter count (exactly;
MMPretrain's counts are rounded, so to their digits), and every upstream file name
carries the entry's sha256 prefix."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope

from labcore.engine.config import load_config
from labcore.registry import MODELS
from labcore.zoo.manifest import UPSTREAM_FILE, ImportedEntry, read_manifest

REPO_ZOO = Path(__file__).resolve().parents[3] / "model_zoo"
TORCHVISION = REPO_ZOO / "imported-torchvision.yml"
ENTRIES = read_manifest(TORCHVISION).models
OPENMMLAB = read_manifest(REPO_ZOO / "imported-openmmlab.yml").models


def rounded_like(exact: int, published: int) -> int:
    """``exact`` rounded to as many trailing zeros as ``published`` has."""
    zeros = len(str(published)) - len(str(published).rstrip("0"))
    return round(exact, -zeros) if zeros else exact


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_imported", REPO_ZOO / "generate_imported.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_manifest_is_current_with_the_installed_torchvision():
    assert read_manifest(TORCHVISION).models == _generator().entries(), (
        "model_zoo/imported-torchvision.yml is stale: run `nox -s zoo -- generate`"
    )


def test_every_supported_architecture_is_covered():
    builders = {e.source.weights.split("_Weights")[0].lower() for e in ENTRIES}
    assert {
        "resnet18",
        "resnet50",
        "resnext50_32x4d",
        "wide_resnet50_2",
        "mobilenet_v2",
    } <= builders
    assert {"convnext_tiny", "vit_b_16", "retinanet_resnet50_fpn", "fcos_resnet50_fpn"} <= builders
    assert {"fasterrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn"} <= builders
    assert all(isinstance(e, ImportedEntry) and e.source.project == "torchvision" for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES + OPENMMLAB, ids=lambda e: e.name)
def test_the_config_builds_the_published_architecture(entry):
    match = UPSTREAM_FILE.match(entry.weights.file_name)
    assert match is not None and match[1] == entry.weights.sha256_prefix
    cfg = load_config(entry.config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope), torch.device("meta"):
        model = MODELS.build(cfg.model)
    built = sum(p.numel() for p in model.parameters())
    if entry.source.project == "torchvision":
        assert built == entry.params
    else:
        assert rounded_like(built, entry.params) == entry.params


def test_openmmlab_entries_name_their_mmpretrain_release():
    assert len(OPENMMLAB) >= 15
    for entry in OPENMMLAB:
        assert entry.weights.url.startswith("https://download.openmmlab.com/")
        assert entry.weights.layout == "openmmlab" and entry.license == "Apache-2.0"
        assert f"/v{entry.source.version}/" in entry.metrics_link


CLASSIFIERS = [e for e in ENTRIES if e.codebase == "labcls"]


@pytest.mark.parametrize("entry", CLASSIFIERS, ids=lambda e: e.name)
def test_the_converter_maps_every_upstream_key_onto_the_config(entry):
    """torchvision's architecture and the config's, both on the meta device: the converted
    upstream keys are exactly the model's, with the same shapes. (Detectors: the same
    check runs with real weights and equal outputs in labdet's test_convert.py.)"""
    import torchvision

    from labcore.zoo.weights import run_converter

    member = entry.source.weights.split(".")[1].lower()
    builder = entry.name.removeprefix("tv_").removesuffix(f"_{member}")
    cfg = load_config(entry.config)
    with torch.device("meta"):
        upstream = torchvision.models.get_model(builder, weights=None).state_dict()
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            ours = MODELS.build(cfg.model).state_dict()
    converted = run_converter(upstream, entry.weights.converter, entry.weights.converter_args)
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in ours.items()}
