"""Every shipped labseg config loads, is registered in its metafile, and names known types;
the MiT variants and the shipped models have their published sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mmengine.registry import WEIGHT_INITIALIZERS

import labseg
from labcore.engine.config import load_config
from labseg.registry import DATASETS, METRICS, MODELS, TASK_UTILS, TRANSFORMS

CONFIG_ROOT = Path(labseg.__file__).parent / "configs"
CONFIGS = sorted(
    p.relative_to(CONFIG_ROOT).as_posix()
    for p in CONFIG_ROOT.rglob("*.py")
    if "_base_" not in p.parts
)
METAFILES = sorted(CONFIG_ROOT.glob("*/metafile.yml"))
PROTOCOLS = {"ade20k-160k", "cityscapes-80k", "voc12aug-20k", "seg-shapes-tiny"}


def _types(node):
    """Every registry ``type`` named in a config tree (norm layer names are not registry types)."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node["type"]
        for key, value in node.items():
            if key != "norm_cfg":
                yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


def _known(name):
    for registry in (MODELS, TASK_UTILS, DATASETS, TRANSFORMS, METRICS, WEIGHT_INITIALIZERS):
        try:
            if registry.get(name) is not None:
                return True
        except KeyError:
            continue
    return False


@pytest.mark.parametrize("name", CONFIGS)
def test_config_loads_and_names_registered_types(name):
    cfg = load_config(f"labseg::{name}")
    assert cfg.default_scope == "labseg"
    trees = [cfg.model, cfg.train_dataloader.dataset, cfg.val_dataloader.dataset, cfg.val_evaluator]
    for type_name in {t for tree in trees for t in _types(tree)}:
        assert _known(type_name), type_name
    classes = cfg.model.decode_head.num_classes
    if "_shapes" not in name:
        assert cfg.model.data_preprocessor.size == tuple(cfg.crop_size)
        expected = {"ade20k": 150, "cityscapes": 19, "voc12aug": 21}
        assert classes == next(v for k, v in expected.items() if f"_{k}-" in name)


def test_every_config_is_in_a_metafile_and_every_entry_exists():
    listed = set()
    for metafile in METAFILES:
        content = yaml.safe_load(metafile.read_text())
        collections = {c["Name"] for c in content["Collections"]}
        for model in content["Models"]:
            assert (CONFIG_ROOT / model["Config"]).is_file(), model["Config"]
            assert Path(model["Config"]).stem == model["Name"]
            assert model["Collection"] in collections
            assert model["Task"] == "semantic-segmentation"
            assert set(model["Protocols"]) <= PROTOCOLS
            for low, high in model["Expected"].values():
                assert 0 <= low <= high <= 1
            listed.add(model["Config"])
    assert listed == set(CONFIGS)
