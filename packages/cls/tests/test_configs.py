"""Every labcls config builds; the ImageNet configs have the published parameter counts
and train two iterations on a fake ImageNet folder of 224x224 JPEGs, validate, and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mmengine.registry import init_default_scope
from PIL import Image

from labcls.registry import MODELS
from labcore.engine.config import list_package_configs, load_config, package_configs_root
from labcore.engine.training import build_runner

CONFIGS = [c for c in list_package_configs("labcls") if not c.startswith("_base_/")]
IMAGENET_CONFIGS = [c for c in CONFIGS if c.endswith("_in1k.py")]


def test_expected_configs_exist():
    stems = {Path(c).stem for c in CONFIGS}
    for name in ("resnet18_8xb32_in1k", "resnet34_8xb32_in1k", "resnet50_8xb32_in1k",
                 "resnet101_8xb32_in1k", "resnet152_8xb32_in1k", "resnext50-32x4d_8xb32_in1k",
                 "mobilenet-v2_8xb32_in1k", "convnext-tiny_32xb128_in1k",
                 "convnext-small_32xb128_in1k", "convnext-base_32xb128_in1k",
                 "vit-tiny-p16_32xb128_in1k", "vit-small-p16_32xb128_in1k",
                 "vit-base-p16_32xb128_in1k", "resnet18_tiny_shapes",
                 "mobilenet-v2_tiny_shapes", "wide-resnet50_8xb32_in1k",
                 "wide-resnet101_8xb32_in1k"):  # fmt: skip
        assert name in stems


@pytest.mark.parametrize("config", CONFIGS)
def test_config_builds_a_model_that_classifies(config):
    cfg = load_config(f"labcls::{config}")
    assert cfg.default_scope == "labcls"
    init_default_scope("labcls")
    model = MODELS.build({**cfg.model, "data_preprocessor": cfg.data_preprocessor})
    model.eval()
    size = 64 if config in IMAGENET_CONFIGS else 32  # full size runs in the slow test below
    with torch.no_grad():
        logits = model(torch.randn(1, 3, size, size), mode="tensor")
    assert logits.shape == (1, cfg.model.head.num_classes)


# Parameters of the published ImageNet-1k models (torchvision's weights metadata; DeiT for
# ViT-T and ViT-S); every ImageNet config must have its number here.
PUBLISHED_PARAMS = {
    "resnet18_8xb32_in1k": 11_689_512,
    "resnet34_8xb32_in1k": 21_797_672,
    "resnet50_8xb32_in1k": 25_557_032,
    "resnet101_8xb32_in1k": 44_549_160,
    "resnet152_8xb32_in1k": 60_192_808,
    "resnext50-32x4d_8xb32_in1k": 25_028_904,
    "wide-resnet50_8xb32_in1k": 68_883_240,
    "wide-resnet101_8xb32_in1k": 126_886_696,
    "mobilenet-v2_8xb32_in1k": 3_504_872,
    "convnext-tiny_32xb128_in1k": 28_589_128,
    "convnext-small_32xb128_in1k": 50_223_688,
    "convnext-base_32xb128_in1k": 88_591_464,
    "vit-tiny-p16_32xb128_in1k": 5_717_416,
    "vit-small-p16_32xb128_in1k": 22_050_664,
    "vit-base-p16_32xb128_in1k": 86_567_656,
}


def test_imagenet_configs_have_the_published_parameter_count():
    assert set(PUBLISHED_PARAMS) == {Path(c).stem for c in IMAGENET_CONFIGS}
    init_default_scope("labcls")
    for config in IMAGENET_CONFIGS:
        cfg = load_config(f"labcls::{config}")
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            model = MODELS.build(cfg.model)
        params = sum(p.numel() for p in model.parameters())
        assert params == PUBLISHED_PARAMS[Path(config).stem], config


def test_metafiles_register_every_config():
    root = package_configs_root("labcls")
    registered = {}
    for metafile in root.rglob("metafile.yml"):
        content = yaml.safe_load(metafile.read_text())
        collections = {c["Name"] for c in content["Collections"]}
        for model in content["Models"]:
            assert model["Collection"] in collections
            assert (root / model["Config"]).is_file()
            assert Path(model["Config"]).stem == model["Name"]
            low, high = model["Expected"]["top1"]
            assert 0 <= low < high <= 1
            registered[model["Config"]] = model
    assert set(registered) == set(CONFIGS)
    tiny = [m for m in registered.values() if "cls-shapes-tiny" in m["Protocols"]]
    assert len(tiny) >= 2


@pytest.fixture(scope="module")
def fake_imagenet(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        lines = []
        for i in range(2):
            folder = root / split / f"n{i % 2:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
            Image.fromarray(img).save(folder / f"{i}.JPEG", format="JPEG")
            lines.append(f"n{i % 2:08d}/{i}.JPEG {i % 2}")
        (root / "meta").mkdir(exist_ok=True)
        (root / "meta" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("config", IMAGENET_CONFIGS)
def test_imagenet_config_trains_two_iterations(config, fake_imagenet, tmp_path):
    cfg = load_config(f"labcls::{config}")
    cfg.mlflow = False
    cfg.default_hooks.checkpoint = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=100)  # evaluated below
    schedulers = cfg.param_scheduler
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    cfg.param_scheduler = [  # the parts of the schedule that start in the first epoch
        {**s, "end": 1} for s in schedulers if s.get("begin", 0) < 1
    ]
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg[key]
        batch_size = 1 if key == "train_dataloader" else 2  # two iterations of one image
        loader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = str(fake_imagenet)
    runner = build_runner(cfg, work_dir=tmp_path)
    runner.train()
    assert runner.iter == 2
    uses_ema = any(h.get("type") == "EMAHook" for h in cfg.get("custom_hooks", []))
    if uses_ema:
        ema_hook = next(h for h in runner.hooks if type(h).__name__ == "EMAHook")
        averaged = dict(ema_hook.ema_model.module.named_parameters())
        assert averaged.keys() == dict(runner.model.named_parameters()).keys()
    metrics = runner.test()
    assert 0.0 <= metrics["accuracy/top1"] <= metrics["accuracy/top5"] <= 1.0
