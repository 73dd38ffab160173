"""Every shipped labdet config loads, is registered in its metafile, and names known types."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mmengine.registry import WEIGHT_INITIALIZERS

import labdet
from labcore.engine.config import load_config
from labdet.registry import DATASETS, MODELS, TASK_UTILS, TRANSFORMS

CONFIG_ROOT = Path(labdet.__file__).parent / "configs"
CONFIGS = sorted(
    p.relative_to(CONFIG_ROOT).as_posix()
    for p in CONFIG_ROOT.rglob("*.py")
    if "_base_" not in p.parts
)
METAFILES = sorted(CONFIG_ROOT.glob("*/metafile.yml"))


def _types(node):
    """Every registry ``type`` named in a config tree (norm and activation layer names are not
    registry types)."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node["type"]
        for key, value in node.items():
            if key not in ("norm_cfg", "act_cfg"):
                yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_loads_and_names_registered_types(name):
    cfg = load_config(f"labdet::{name}")
    assert cfg.default_scope == "labdet"
    registries = (MODELS, TASK_UTILS, DATASETS, TRANSFORMS, WEIGHT_INITIALIZERS)
    for type_name in set(_types(cfg.model)) | set(_types(cfg.train_dataloader.dataset)):
        assert any(_lookup(r, type_name) for r in registries), type_name


def _lookup(registry, name):
    try:
        return registry.get(name) is not None
    except KeyError:
        return False


def test_every_config_is_in_a_metafile_and_every_entry_exists():
    listed = set()
    for metafile in METAFILES:
        content = yaml.safe_load(metafile.read_text())
        collections = {c["Name"] for c in content["Collections"]}
        for model in content["Models"]:
            assert (CONFIG_ROOT / model["Config"]).is_file(), model["Config"]
            assert Path(model["Config"]).stem == model["Name"]
            assert model["Collection"] in collections
            assert model["Task"] in ("object-detection", "instance-segmentation")
            assert set(model["Protocols"]) <= {
                "coco-1x",
                "coco-3x",
                "coco-50e",
                "coco-detr-12e",
                "coco-300e",
                "det-shapes-tiny",
            }
            for low, high in model["Expected"].values():
                assert 0 <= low <= high <= 1
            listed.add(model["Config"])
    assert listed == set(CONFIGS)
