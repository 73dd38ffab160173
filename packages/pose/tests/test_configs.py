"""Every packaged config loads and builds its model (on the meta device: no weights are
allocated or downloaded), and every metafile entry names an existing config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from mmengine.registry import DefaultScope

from labcore.engine.config import load_config
from labpose.registry import MODELS

CONFIG_DIR = Path(__file__).parents[1] / "labpose" / "configs"
CONFIGS = sorted(
    p.relative_to(CONFIG_DIR).as_posix()
    for p in CONFIG_DIR.glob("*/*.py")
    if p.parent.name != "_base_"
)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds(name):
    cfg = load_config(f"labpose::{name}")
    assert cfg.default_scope == "labpose"
    model_cfg = cfg.model.to_dict()
    model_cfg["backbone"].pop("init_cfg", None)
    with DefaultScope.overwrite_default_scope("labpose"), torch.device("meta"):
        model = MODELS.build(model_cfg)
    assert model.head.decoder is not None


def test_metafiles_name_configs_and_protocols():
    protocols = {p.stem for p in (CONFIG_DIR.parents[3] / "benchmark" / "protocols").glob("*.yaml")}
    names = set()
    for metafile in CONFIG_DIR.glob("*/metafile.yml"):
        for model in yaml.safe_load(metafile.read_text())["Models"]:
            assert (CONFIG_DIR / model["Config"]).is_file()
            assert set(model["Protocols"]) <= protocols
            assert model["Task"] == "pose-estimation"
            assert model["Name"] not in names
            names.add(model["Name"])
    assert {"simplebaseline_r18_shapes", "hrnet_w32_210e_coco-256x192"} <= names


# Parameter counts of the papers' COCO tables (millions): SimpleBaseline (Xiao et al. 2018)
# and HRNet (Sun et al. 2019).
@pytest.mark.parametrize(
    "name, params",
    [
        ("simplebaseline/simplebaseline_r50_210e_coco-256x192.py", 34.0),
        ("hrnet/hrnet_w32_210e_coco-256x192.py", 28.5),
        ("hrnet/hrnet_w48_210e_coco-384x288.py", 63.6),
    ],
)
def test_parameter_counts_match_the_papers(name, params):
    model_cfg = load_config(f"labpose::{name}").model.to_dict()
    model_cfg["backbone"].pop("init_cfg", None)
    with DefaultScope.overwrite_default_scope("labpose"), torch.device("meta"):
        model = MODELS.build(model_cfg)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == params
