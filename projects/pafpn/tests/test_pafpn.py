"""PAFPN: the computation against a plain-torch reference, the configs through the
codebase's own paths (custom_imports, the registry, the harness), and learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labcore.engine.config import load_config
from labcore.engine.training import build_runner
from labcore.registry import MODELS

PROJECT_CONFIGS = "projects/pafpn/configs"


def _inputs(channels=(8, 16, 32), size=32):
    torch.manual_seed(0)
    return [torch.randn(2, c, size // 2**i, size // 2**i) for i, c in enumerate(channels)]


def _reference(neck, inputs):
    """PANet's bottom-up path written out with the neck's own weights, on FPN outputs."""
    p = list(neck.fpn(inputs))
    m = [p[0]]
    for i, down in enumerate(neck.downsample_convs):
        m.append(p[i + 1] + F.conv2d(m[i], down.weight, down.bias, stride=2, padding=1))
    outs = [m[0]] + [
        F.conv2d(x, conv.weight, conv.bias, padding=1) for conv, x in zip(neck.pafpn_convs, m[1:])
    ]
    return outs + [F.max_pool2d(outs[-1], 1, stride=2)]


def test_bottom_up_path_matches_a_plain_reference():
    from mmengine.registry import DefaultScope

    import projects.pafpn.pafpn  # noqa: F401  (registers PAFPN in labdet)

    with DefaultScope.overwrite_default_scope("labdet"):
        neck = MODELS.build(
            dict(type="PAFPN", in_channels=[8, 16, 32], out_channels=8, extra_levels="maxpool")
        )
    inputs = _inputs()
    outs = neck(inputs)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 32, 32), (2, 8, 16, 16), (2, 8, 8, 8),
                                              (2, 8, 4, 4)]  # fmt: skip
    for ours, expected in zip(outs, _reference(neck, inputs), strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    # 2 extra convs per level past the first: (9*8*8 + 8) * 2 * 2 parameters over FPN's
    extra = sum(p.numel() for p in neck.parameters()) - sum(
        p.numel() for p in neck.fpn.parameters()
    )
    assert extra == (9 * 8 * 8 + 8) * 2 * 2


def test_configs_load_from_any_folder_and_build(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # custom_imports find `projects` beside the config's folder
    repo = __import__("pathlib").Path(__file__).resolve().parents[3]
    for name in ("retinanet_r18_pafpn_shapes.py", "faster-rcnn_r50_pafpn_1x_coco.py"):
        cfg = load_config(repo / PROJECT_CONFIGS / name)
        assert cfg.model.neck.type == "PAFPN" and cfg.default_scope == "labdet"
    from labdet.apis import init_model

    model = init_model(repo / PROJECT_CONFIGS / "retinanet_r18_pafpn_shapes.py",
                       cfg_options={"model.backbone.init_cfg": None})  # fmt: skip
    assert type(model.neck).__name__ == "PAFPN"


@pytest.mark.slow
def test_retinanet_with_pafpn_learns_on_shapes(tmp_path, one_thread, tiny_zoo):
    repo = __import__("pathlib").Path(__file__).resolve().parents[3]
    cfg = load_config(repo / PROJECT_CONFIGS / "retinanet_r18_pafpn_shapes.py")
    cfg.mlflow = False
    iters = 300
    shapes = dict(num_train=1000, num_val=50, image_size=128, seed=0, version=1)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].dataset.synthetic = shapes
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = cfg.param_scheduler[1].begin = 50
    cfg.param_scheduler[1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.randomness = dict(seed=0)
    runner = build_runner(cfg, work_dir=tmp_path)
    before = runner.val()["coco/bbox_mAP_50"]
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0]
    assert losses[-10:].mean() < 0.7 * losses[:10].mean()
    after = runner.val()["coco/bbox_mAP_50"]
    assert after >= 0.3 and after > before + 0.1, (before, after)
