"""Every labssl config loads and builds its model in the labssl scope (a fine-tuning
config: in labcls's, whose classifier it trains); its metafile entries name configs that
exist."""

from pathlib import Path

import pytest
import yaml
from mmengine.registry import DefaultScope

from labcls.registry import MODELS as CLS_MODELS
from labcore.engine.config import load_config
from labssl.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / "labssl" / "configs"
FILES = sorted(p for p in CONFIGS.glob("*/*.py") if p.parent.name != "_base_")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_builds_its_model(path):
    cfg = load_config(f"labssl::{path.parent.name}/{path.name}")
    fine_tuning = path.name.startswith("fine-tune_")
    assert cfg.default_scope == ("labcls" if fine_tuning else "labssl")
    registry = CLS_MODELS if fine_tuning else MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = registry.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    assert sum(p.numel() for p in model.backbone.parameters()) > 0
    hooks = [h["type"] for h in cfg.get("custom_hooks", [])]
    assert ("MomentumUpdateHook" in hooks) == hasattr(model, "momentum_update"), hooks


def test_metafiles_name_existing_configs():
    for metafile in CONFIGS.glob("*/metafile.yml"):
        for model in yaml.safe_load(metafile.read_text())["Models"]:
            assert (CONFIGS / model["Config"]).is_file(), model
