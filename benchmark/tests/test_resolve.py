"""Merging a protocol over a config: conflicts are refused and named; runs are hashed."""

from __future__ import annotations

import pytest

from labbench.discovery import registered_configs
from labbench.protocol import load_protocol
from labbench.resolve import (
    ProtocolConflictError,
    find_conflicts,
    load_config,
    merge_protocol,
    resolve_run,
)
from labcore.errors import ConfigError


def _entry(name):
    return next(e for e in registered_configs() if e.name == name)


def test_config_overriding_a_fixed_field_is_refused_with_both_values(toy_world):
    protocol = load_protocol("toy-tiny")
    with pytest.raises(ProtocolConflictError) as info:
        resolve_run(_entry("toy_override"), protocol, 0, toy_world.data)
    message = str(info.value)
    assert "train_dataloader.sampler.shuffle: config has False, protocol has True" in message
    assert "toy-tiny@v3" in message and "toy_override.py" in message
    assert info.value.conflicts == [("train_dataloader.sampler.shuffle", False, True)]


def test_find_conflicts_skips_data_locations_and_harness_keys():
    fixed = {
        "train_dataloader": {
            "batch_size": 8,
            "dataset": {"data_root": "${data_root}", "split": "train"},
        },
        "randomness": {"seed": 0},
        "val_cfg": {},
    }
    cfg = {
        "train_dataloader": {"batch_size": 8, "dataset": {"data_root": "/mine", "split": "val"}},
        "randomness": {"seed": 7, "deterministic": False},
        "val_cfg": {"type": "ValLoop"},
    }
    assert find_conflicts(cfg, fixed) == [("train_dataloader.dataset.split", "val", "train")]
    # Tuples and lists compare equal, as a YAML protocol cannot write tuples.
    assert find_conflicts({"a": {"scale": (1, 2)}}, {"a": {"scale": [1, 2]}}) == []


def test_merge_fills_budget_seed_and_data_and_keeps_the_model(toy_world):
    protocol = load_protocol("toy-tiny")
    cfg = {
        "model": {"type": "ToyClassifier", "width": 4},
        "train_cfg": {"type": "IterBasedTrainLoop", "max_iters": 8},
        "train_dataloader": {"dataset": {"data_root": "/where/the/config/had/it"}},
        "default_hooks": {"checkpoint": {"type": "CheckpointHook", "interval": 1}},
    }
    merged = merge_protocol(cfg, protocol, data_root="/d", seed=5, config_name="x")
    assert merged["model"] == cfg["model"]
    assert merged["train_cfg"] == {"by_epoch": False, "max_iters": 8, "val_interval": 8}
    assert merged["train_dataloader"]["batch_size"] == 8
    assert merged["train_dataloader"]["dataset"] == {
        "type": "ToyDataset",
        "data_root": "/d",
        "split": "train",
    }
    assert merged["randomness"] == {"seed": 5, "deterministic": True}
    # the protocol's checkpoint interval; the last checkpoint is kept for resuming
    checkpoint = merged["default_hooks"]["checkpoint"]
    assert checkpoint["interval"] == 4 and checkpoint["max_keep_ckpts"] == 1
    assert checkpoint["save_last"] and checkpoint["by_epoch"] is False
    assert merged["log_processor"]["by_epoch"] is False
    with pytest.raises(ProtocolConflictError, match="train_cfg.max_iters: config has 100"):
        merge_protocol(
            {"train_cfg": {"max_iters": 100}}, protocol, data_root="/d", seed=0, config_name="x"
        )


def test_run_hash_depends_on_config_seed_and_protocol_version_not_data_location(toy_world):
    protocol = load_protocol("toy-tiny")
    a0 = resolve_run(_entry("toy_a"), protocol, 0, "/here")
    assert a0.run_hash == resolve_run(_entry("toy_a"), protocol, 0, "/elsewhere").run_hash
    assert a0.cfg["train_dataloader"]["dataset"]["data_root"] == "/here"
    assert a0.run_hash != resolve_run(_entry("toy_a"), protocol, 1, "/here").run_hash
    assert a0.run_hash != resolve_run(_entry("toy_b"), protocol, 0, "/here").run_hash
    bumped = type(protocol)(**{**protocol.__dict__, "version": protocol.version + 1})
    assert a0.run_hash != resolve_run(_entry("toy_a"), bumped, 0, "/here").run_hash
    from labcore.cpu_pins import CpuPins

    pinned = type(protocol)(**{**protocol.__dict__, "cpu_pins": CpuPins(aten="avx2")})
    repinned = type(protocol)(**{**protocol.__dict__, "cpu_pins": CpuPins(aten="default")})
    hashes = {resolve_run(_entry("toy_a"), p, 0, "/here").run_hash for p in (pinned, repinned)}
    assert len(hashes | {a0.run_hash}) == 3  # other kernels: another run


def test_a_dry_run_view_pads_the_categories_with_cocos_ids(tmp_path):
    import json

    from labbench.resolve import with_categories
    from labcore.errors import ConfigError

    root = tmp_path / "shapes"
    (root / "annotations").mkdir(parents=True)
    (root / "val").mkdir()
    real = [{"id": i, "name": f"shape{i}"} for i in range(1, 9)]
    coco_gaps = [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    (root / "annotations" / "instances_val.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": real})
    )
    view = with_categories(root, 80, coco_gaps)
    ids = [
        c["id"]
        for c in json.loads((view / "annotations/instances_val.json").read_text())["categories"]
    ]
    assert ids == [i for i in range(1, 91) if i not in coco_gaps]  # COCO's 80 ids
    assert (view / "val").resolve() == (root / "val").resolve()
    plain = with_categories(root, 80)
    assert plain != view and [
        c["id"]
        for c in json.loads((plain / "annotations/instances_val.json").read_text())["categories"]
    ] == list(range(1, 81))
    with pytest.raises(ConfigError, match=r"uses category ids \[3\].*skip_category_ids"):
        with_categories(root, 80, [3])


def test_a_segmentation_dry_run_crops_and_pads_to_its_smaller_crop():
    """cityscapes-80k's dry run crops 256x512 instead of 512x1024 (dry_run.crop_size) and
    resizes at half the scale; the segmentor's data preprocessor, which pads every batch
    to its crop, pads to the dry run's crop. The real run keeps the protocol's sizes."""
    entry = _entry("pspnet_r50-d8_4xb2-80k_cityscapes-512x1024")
    protocol = load_protocol("cityscapes-80k")

    def sizes(mode):
        cfg = resolve_run(entry, protocol, 0, "/data", mode=mode).cfg
        pipeline = cfg["train_dataloader"]["dataset"]["pipeline"]
        crop = next(t["crop_size"] for t in pipeline if t["type"] == "SegRandomCrop")
        scale = next(t["scale"] for t in pipeline if t["type"] == "SegRandomResize")
        return list(crop), list(scale), list(cfg["model"]["data_preprocessor"]["size"])

    assert sizes("train") == ([512, 1024], [2048, 1024], [512, 1024])
    assert sizes("dry-run") == ([256, 512], [1024, 512], [256, 512])


# RTMDet's recipes under coco-300e: each size's augmentation is a named recipe of the protocol.
RTMDET = {
    "rtmdet_l_8xb32-300e_coco": ("rtmdet-l", [0.1, 2.0], 1.0),
    "rtmdet_m_8xb32-300e_coco": ("rtmdet-l", [0.1, 2.0], 1.0),
    "rtmdet_s_8xb32-300e_coco": ("rtmdet-s", [0.5, 2.0], 1.0),
    "rtmdet_tiny_8xb32-300e_coco": ("rtmdet-tiny", [0.5, 2.0], 0.5),
}


def _transform(pipeline, kind):
    return next(t for t in pipeline if t["type"] == kind)


@pytest.mark.parametrize("name", sorted(RTMDET))
def test_each_rtmdet_config_resolves_under_its_own_recipe_with_one_pipeline_switch(name):
    recipe, jitter, mixup_prob = RTMDET[name]
    spec = resolve_run(_entry(name), load_protocol("coco-300e"), 0, "/coco")
    assert spec.cfg["protocol_recipe"] == recipe
    pipeline = spec.cfg["train_dataloader"]["dataset"]["pipeline"]
    assert [t["type"] for t in pipeline] == [
        "LoadImageFromFile",
        "LoadDetAnnotations",
        "CachedMosaic",
        "DetRandomResize",
        "DetRandomCrop",
        "YOLOXHSVRandomAug",
        "DetRandomFlip",
        "DetPad",
        "CachedMixUp",
        "PackDetInputs",
    ]
    assert list(_transform(pipeline, "DetRandomResize")["ratio_range"]) == jitter
    assert _transform(pipeline, "CachedMixUp")["prob"] == mixup_prob
    switches = [h for h in spec.cfg["custom_hooks"] if h["type"] == "PipelineSwitchHook"]
    assert len(switches) == 1 and switches[0]["switch_epoch"] == 280
    stage2 = switches[0]["switch_pipeline"]
    assert list(_transform(stage2, "DetRandomResize")["ratio_range"]) == jitter
    assert "CachedMosaic" not in [t["type"] for t in stage2]
    assert spec.cfg["train_dataloader"]["persistent_workers"] is False


def test_a_config_whose_augmentation_is_not_its_recipes_is_refused():
    protocol = load_protocol("coco-300e")
    cfg = load_config(_entry("rtmdet_tiny_8xb32-300e_coco")).to_dict()
    cfg["protocol_recipe"] = "rtmdet-l"  # tiny's pipeline, l's recipe
    with pytest.raises(ProtocolConflictError, match="train_dataloader.dataset.pipeline"):
        merge_protocol(cfg, protocol, data_root="/d", seed=0, config_name="tiny.py")
    cfg["protocol_recipe"] = "rtmdet-tyni"
    with pytest.raises(ConfigError, match="no recipe 'rtmdet-tyni' \\(did you mean rtmdet-tiny"):
        merge_protocol(cfg, protocol, data_root="/d", seed=0, config_name="tiny.py")
    # a config that names a recipe of a protocol without recipes
    with pytest.raises(ConfigError, match="has no recipes; remove protocol_recipe"):
        load_protocol("coco-1x").recipe_values("rtmdet-l")


def test_a_config_without_augmentation_gets_the_default_recipe_and_the_protocols_hooks():
    protocol = load_protocol("coco-300e")
    cfg = {
        "model": {"type": "X"},
        "custom_hooks": [{"type": "EMAHook", "momentum": 0.0002}],
    }
    merged = merge_protocol(cfg, protocol, data_root="/d", seed=0, config_name="x.py")
    pipeline = merged["train_dataloader"]["dataset"]["pipeline"]
    assert _transform(pipeline, "DetRandomResize")["ratio_range"] == [0.1, 2.0]
    assert _transform(pipeline, "CachedMosaic")["max_cached_images"] == 40
    assert [h["type"] for h in merged["custom_hooks"]] == ["EMAHook", "PipelineSwitchHook"]
    # the same hook with other arguments is the protocol's to set
    cfg["custom_hooks"].append(
        {"type": "PipelineSwitchHook", "switch_epoch": 290, "switch_pipeline": []}
    )
    with pytest.raises(ProtocolConflictError, match=r"custom_hooks\[type=PipelineSwitchHook\]"):
        merge_protocol(cfg, protocol, data_root="/d", seed=0, config_name="x.py")
